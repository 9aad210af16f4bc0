import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp

from selfeng.core.backends import BackendError, open_embedder
from selfeng.core.search import ToolIndex
from selfeng.infra.embed.lexical import LexicalEmbedder, words

TOOLS = {
    "percent_of": "percent of\nCalculate a percentage of a number: what percent % of value is.\n"
    "percent\nthe percentage, e.g. 25 for 25%.\nvalue\nthe whole amount",
    "reverse_string": "reverse string\nReverse a string or text: its characters in reverse "
    "order.\ntext\nthe text to reverse.",
    "count_words": "count words\nCount the words in a text.\ntext\nthe text whose words are "
    "counted.",
    "convert_temperature": "convert temperature\nConvert a temperature between Celsius, "
    "Fahrenheit and Kelvin degrees.\nvalue\nthe temperature.\nfrom unit\ncelsius, fahrenheit or "
    "kelvin\nto unit\ncelsius, fahrenheit or kelvin",
    "convert_length": "convert length\nConvert a length or distance between units: km, m, cm, "
    "miles, feet, inches.\nvalue\nthe length to convert.\nfrom unit\nthe unit it is in, e.g. km."
    "\nto unit\nthe unit to convert to, e.g. miles.",
    "mean": "mean\nThe mean (average) of a list of numbers.\nnumbers\nthe numbers to average.",
    "add_numbers": "add numbers\nAdd two numbers: the sum of a plus b.\na\nthe first number.\n"
    "b\nthe second number.",
    "json_field": "json field\nExtract a field from a JSON document by its dotted path.\n"
    "document\nthe JSON text.\npath\nthe field's path",
}


@pytest.fixture
def index() -> ToolIndex:
    return ToolIndex(LexicalEmbedder(), TOOLS)


def test_rows_are_sparse_and_unit_length() -> None:
    embedder = LexicalEmbedder()
    embedder.fit(list(TOOLS.values()))
    rows = embedder.embed([*TOOLS.values(), "reverse the text", ""])
    assert sp.issparse(rows)
    assert rows.shape == (len(TOOLS) + 2, len(embedder.vocabulary))
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1))).ravel()
    assert norms[:-1] == pytest.approx(1.0, abs=1e-5)
    assert norms[-1] == 0.0  # the empty text


def test_a_near_copy_of_a_description_scores_high(index: ToolIndex) -> None:
    best, score = index.search("Convert a temperature between Celsius, Fahrenheit and Kelvin", 1)[0]
    assert best == "convert_temperature"
    assert score > 0.6
    assert index.search("Add two numbers: the sum of a plus b.", 1)[0][1] > 0.6


RELATED = [
    ("What is 25% of 100?", "percent_of"),
    ("Reverse the string hello", "reverse_string"),
    ("how many words are in this sentence", "count_words"),
    ("convert 10 km to miles", "convert_length"),
    ("what is the average of 3, 4, 5", "mean"),
    ("get the name field out of this json", "json_field"),
]


@pytest.mark.parametrize(("request_text", "tool"), RELATED)
def test_related_requests_clear_the_default_threshold(
    index: ToolIndex, request_text: str, tool: str
) -> None:
    best, score = index.search(request_text, 3)[0]
    assert best == tool
    assert score >= 0.4


@pytest.mark.parametrize(
    "request_text",
    [
        "Translate this sentence into Klingon",
        "book a flight to Paris tomorrow",
        "what is the weather in London",
        "write a poem about the sea",
        "Quelle est la météo à Paris ?",
        "今天天气怎么样",
        "Сколько будет два плюс два",
        "",
        "   \n\t ",
        "?! 123 456 -- 7.5",
    ],
)
def test_unrelated_requests_score_low(index: ToolIndex, request_text: str) -> None:
    hits = index.search(request_text, 3)
    assert all(score < 0.2 for _, score in hits)


def test_words_known_only_to_the_query_do_not_match() -> None:
    embedder = LexicalEmbedder()
    embedder.fit(["reverse a string"])
    assert embedder.embed(["zebra quokka"]).nnz == 0
    both = embedder.embed(["reverse zebra"])
    assert both.nnz == 1


@pytest.mark.parametrize("request_text", ["number", "text", "the value", "convert the text"])
def test_words_many_tools_share_score_below_a_real_match(
    index: ToolIndex, request_text: str
) -> None:
    # In eight tools a word three of them have still weighs something (idf is not sharp on
    # so few documents), but less than any request that says what a tool does.
    real = min(index.search(r, 1)[0][1] for r, _ in RELATED)
    assert all(score < min(real, 0.55) for _, score in index.search(request_text, 5))


def test_tokenisation() -> None:
    assert words("What is 25% of 100?") == ["percent"]
    assert words("wide_resnet50_2 ResNet50") == [
        "wide", "resnet50", "resnet", "resnet50", "resnet", "res", "net",
    ]  # fmt: skip
    assert words("toUpperCase HTTPServer") == [
        "touppercase", "upper", "case", "httpserver", "http", "server",
    ]  # fmt: skip
    assert words("Café NAÏVE \uff46\uff55\uff4c\uff4c") == ["cafe", "naive", "full"]  # full-width
    assert words("翻译成英文") == ["翻译", "译成", "成英", "英文"]
    assert words("") == []


def test_a_letter_after_a_number_is_a_unit() -> None:
    """ "40 c to f": the letters are units, as a capital F or C on its own is."""
    assert words("40 c to f") == ["c", "f"]
    assert words("what's 20c in f") == ["20c", "f"]
    assert words("3D ResNet") == ["3d", "resnet", "res", "net"]
    assert words("5 m") == ["m"]
    assert words("a to f") == []  # no number: single letters stay out
    embedder = LexicalEmbedder()
    assert embedder.terms("40 c to f") == ["c", "f"]


def test_stemming_matches_inflections() -> None:
    embedder = LexicalEmbedder()
    embedder.fit(["count the words", "convert temperatures"])
    sims = (embedder.embed(["counting word"]) @ embedder.embed(["count the words"]).T).toarray()
    assert sims[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_other_languages_and_scripts_match_themselves() -> None:
    index = ToolIndex(
        LexicalEmbedder(),
        {"fr": "convertir la température", "zh": "翻译成英文", "ru": "перевести текст"},
    )
    assert index.search("la température, s'il vous plaît", 1)[0][0] == "fr"
    assert index.search("temperature", 1)[0][0] == "fr"  # folded to ASCII
    assert index.search("请翻译成英文", 1)[0][0] == "zh"
    assert index.search("перевести", 1)[0][0] == "ru"


def test_huge_text_is_cut_and_fast() -> None:
    embedder = LexicalEmbedder(max_chars=50_000)
    embedder.fit(list(TOOLS.values()))
    huge = "reverse the string " * 500_000  # about 10 MB
    started = time.perf_counter()
    rows = embedder.embed([huge])
    assert time.perf_counter() - started < 2.0
    assert rows.nnz > 0
    embedder.fit([huge, "other"])  # a huge document is cut the same way


def test_fit_on_nothing_then_embed() -> None:
    embedder = LexicalEmbedder()
    assert embedder.embed(["anything"]).shape == (1, 0)
    embedder.fit([])
    assert embedder.embed(["anything", ""]).shape == (2, 0)
    embedder.fit(["", "the of and"])
    assert embedder.embed(["the"]).shape == (1, 0)
    assert ToolIndex(embedder, {"a": "", "b": "the"}).search("the") == []


def test_refit_replaces_the_vocabulary() -> None:
    embedder = LexicalEmbedder()
    embedder.fit(["reverse a string"])
    embedder.fit(["add numbers"])
    assert set(embedder.vocabulary) == {"add", "number"}
    assert embedder.embed(["reverse"]).nnz == 0


def test_embedding_from_threads_agrees() -> None:
    embedder = LexicalEmbedder()
    embedder.fit(list(TOOLS.values()))
    queries = [f"reverse string number {i} convert celsius words{i}" for i in range(200)]
    expected = embedder.embed(queries).toarray()
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(LexicalEmbedder.embed(embedder, queries).toarray())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(r, expected) for r in results)


def test_open_embedder_by_name() -> None:
    assert isinstance(open_embedder("lexical"), LexicalEmbedder)
    assert open_embedder("lexical://").name == "lexical"
    with pytest.raises(BackendError, match="known: lexical://, minilm://, openai://"):
        open_embedder("word2vec")


def test_fit_documents_leaves_the_embedder_as_it_was() -> None:
    embedder = LexicalEmbedder()
    embedder.fit(["reverse a string"])
    fitted = embedder.fit_documents([[("add numbers", 1.0)], [("count words", 1.0)]])
    assert set(embedder.vocabulary) == {"revers", "string"}
    assert fitted.scores("add two numbers")[0] > 0.0
    assert fitted.scores("add two numbers")[1] == 0.0


def test_fit_documents_from_threads_agree() -> None:
    embedder = LexicalEmbedder()
    docs = [[(text, 1.0)] for text in TOOLS.values()]
    queries = [f"reverse string number {i} convert celsius words{i}" for i in range(50)]
    expected = [embedder.fit_documents(docs).scores(q) for q in queries]
    results: list[bool] = []

    def work() -> None:
        fitted = embedder.fit_documents(docs)
        results.append(
            all(np.array_equal(fitted.scores(q), e) for q, e in zip(queries, expected, strict=True))
        )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4


def test_resemblance_of_requests_to_phrasings() -> None:
    embedder = LexicalEmbedder()
    fitted = embedder.fit_documents(
        [[(text, 1.0)] for text in TOOLS.values()],
        ["reverse the string", "flip it upside down", "count the words"],
    )
    same, flip, count = fitted.resemblances("Reverse the string!")
    assert same == pytest.approx(1.0, abs=1e-6)
    assert flip == 0.0
    assert count == 0.0
    _, flip, _ = fitted.resemblances("flip it upside down")  # words no tool has
    assert flip == pytest.approx(1.0, abs=1e-6)
    longer, *_ = fitted.resemblances("reverse the string zebra quokka")
    assert 0.3 < longer < 1.0  # words it does not share count against it
    assert fitted.resemblances("").tolist() == [0.0, 0.0, 0.0]


def test_scores_stay_in_the_unit_interval() -> None:
    embedder = LexicalEmbedder()
    fitted = embedder.fit_documents([[("reverse reverse reverse string", 1.0)], [("add", 1.0)]])
    for query in ("reverse", "reverse string reverse string", "add numbers", "nothing"):
        scores = fitted.scores(query)
        assert scores.dtype == np.float32
        assert ((scores >= 0.0) & (scores <= 1.0)).all()
    empty = embedder.fit_documents([])
    assert empty.scores("anything").shape == (0,)
    assert empty.resemblances("anything").shape == (0,)
