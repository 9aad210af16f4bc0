"""Text values: quoted text, the text after an instruction's colon, a dotted path, or a
run of unquoted words where the request marks a value by where it stands."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from pydantic import JsonValue

from selfeng.core import text_runs
from selfeng.core.hinted_values import PATH_HINTS, hints
from selfeng.core.language import (
    ARTICLES,
    AUXILIARIES,
    CONJUNCTIONS,
    DETERMINERS,
    DIMENSIONS,
    FUNCTION_WORDS,
    MULTIPLIERS,
    ORDINALS,
    OUTPUT_VERBS,
    POSSESSIVES,
    PREPOSITIONS,
    PRONOUNS,
    TEXT_PART_STEMS,
    is_neutral,
    is_question_word,
    stem,
)
from selfeng.core.scanning import Scan, Token
from selfeng.core.token_pool import TokenPool
from selfeng.core.word_rules import DASHES, EXCLUDING, PART_LINKS, named_by_kind
from selfeng.core.wording import ToolWording


def text_value(
    name: str,
    schema: Mapping[str, Any],
    pool: TokenPool,
    wording: ToolWording | None,
    foreign: frozenset[str] = frozenset(),
) -> tuple[JsonValue, list[Token], bool] | None:
    """A text value: quoted text, the colon's text, a dotted path, or a run of words."""
    quoted = pool.tokens("quoted")
    if quoted:
        return quoted[0].value, [quoted[0]], False
    if pool.previous is not None and pool.previous.kind == "quoted" and pool.free_previous():
        return pool.previous.value, [pool.previous], False
    colon = pool.scan.colon_text()
    if colon and all(pool.free[i] for i in pool.scan.colon_tokens):
        inside = [pool.scan.tokens[i] for i in sorted(pool.scan.colon_tokens)]
        if text_runs.number_list(inside):
            return None
        return colon, inside, False
    if any(h in hints(name, schema) for h in PATH_HINTS):
        for t in pool.tokens("word"):
            if "." in t.text or "_" in t.text:
                return t.text, [t], False
    run = _free_run(pool, wording)
    if run and any(t.kind == "word" and stem(t.word) in foreign for t in run):
        return None  # "... orders and aim to review ...": what other tools do, not a text
    if run and (len(run) == 1 or not _IDENTIFIER.search(name)):
        start, end = _with_symbols(pool.scan, run)
        return pool.scan.text[start:end].rstrip("?!.,;"), run, True
    return None  # an identifier ("file_name", "booking_id") is never a run of words


def _with_symbols(scan: Scan, run: list[Token]) -> tuple[int, int]:
    """Where a run of words starts and ends in the request, with the symbols written right
    before or after it, which no token holds: "uppercase 🙂 hi" is "🙂 HI", not "HI"."""
    text, tokens = scan.text, scan.tokens
    start, end = run[0].start, run[-1].end
    before = tokens[run[0].index - 1].end if run[0].index > 0 else 0
    after = tokens[run[-1].index + 1].start if run[-1].index + 1 < len(tokens) else len(text)
    left, right = text[before:start], text[end:after]
    if left.strip() and all(c.isspace() or _symbol(c) for c in left):
        start = before + len(left) - len(left.lstrip())
    if right.strip() and all(c.isspace() or _symbol(c) for c in right):
        end += len(right.rstrip())
    return start, end


def _symbol(char: str) -> bool:
    """An emoji or another pictograph (and what joins or modifies one)."""
    return unicodedata.category(char) in {"So", "Sk"} or char in "\u200d\ufe0f"


_IDENTIFIER = re.compile(
    r"(^|_)(id|ids|uuid|token|key|code|file|filename|path|url|uri|email|dir|folder|"
    r"directory|username|user|account|sku|isbn|hash|ip|port|symbol|ticker)(_name)?$",
    re.IGNORECASE,
)


def _free_run(pool: TokenPool, wording: ToolWording | None) -> list[Token]:
    """The longest run of free tokens the request marks as a value by where it stands,
    trimmed of the words that frame it ("the word banana" -> banana, "hello to uppercase"
    -> hello) but not of its own words ("in i am going to the store" -> i am going to the
    store).

    A run of unquoted words is a value only when it is anchored to what the tool does: right
    after one of the tool's words ("reverse *hello world*", "characters in *hello*"), or
    right before one, linked by a preposition ("*hello* in uppercase") or after an
    instruction verb at the start ("make *hello* uppercase"). Words anywhere else are not
    taken as a text value: they are what the request says, and the evidence must account for
    them. After a counting verb, the thing counted is not part of the text it is counted in
    ("count the *vowels* in banana": the text is banana, and vowels is left for the evidence
    to account for)."""
    runs: list[tuple[list[Token], bool, bool, bool]] = []
    # (tokens, at the start, right after one of the tool's words, right before one)
    counting: set[int] = set()  # runs (by their first token) right after a counting verb
    current: list[Token] = []
    at_start = True
    after_own = False
    after_count = False
    text = pool.scan.text
    previous_end = 0
    for t in pool.scan.tokens:
        own = wording is not None and t.kind == "word" and wording.matches(t.word)[0]
        if current and _SENTENCE_END.search(text[previous_end : t.start]):
            runs.append((current, at_start, after_own, False))  # a value ends with its sentence
            current = []
            at_start = False
            after_own = after_count = False
        previous_end = t.end
        if not pool.free[t.index] or own or t.kind in {"unclear", "json", "array"}:
            if current:
                runs.append((current, at_start, after_own, own))
            current = []
            at_start = False
            # a value follows an instruction ("post hello"), not a past action ("posted")
            after_own = own and not t.word.endswith("ed")
            after_count = after_own and stem(t.word) in _COUNTING_STEMS
        else:
            if not current and after_count:
                counting.add(t.index)
            current.append(t)
    if current:
        runs.append((current, at_start, after_own, False))
    best: list[Token] = []
    between: list[Token] = []  # the run before ``best``, when it stood between two own words
    for at, (run, starts, after, before) in enumerate(runs):
        if run[0].index in counting:
            run = _past_counted(run)
        run = _past_named(run, pool.scan.tokens)
        trimmed = _trim(run, at_start=starts, before_own=before)
        if not trimmed or not _anchored(run, trimmed, starts, after, before):
            continue
        if _not_a_text(run, trimmed, pool.scan.tokens):
            continue
        if len(trimmed) >= len(best):
            best = trimmed
            earlier = runs[at - 1] if at > 0 else None
            between = earlier[0] if earlier is not None and earlier[2] and earlier[3] else []
    if best and _split_by_own_word(between, best):
        return []  # "reverse *come back soon*": the tool's own word "back" may be the text's
    return best


_FRAME_BETWEEN = ARTICLES | DETERMINERS | PREPOSITIONS | frozenset({"is", "are"})


def _split_by_own_word(before: list[Token], run: list[Token]) -> bool:
    """Whether a text run right after one of the tool's words follows words of its own
    between that word and the instruction ("reverse *come* back soon"): one text the tool's
    word stands in, or the part after it? Little words there ("count *the* letters in
    banana") frame the value."""
    if not before or not run or run[0].index != before[-1].index + 2:
        return False
    return any(t.kind != "word" or t.word not in _FRAME_BETWEEN for t in before)


_COUNTING_STEMS = frozenset({stem("count"), stem("tally")})
_IN_TEXT = frozenset({"in", "of", "within", "inside", "from"})
_COUNTED_UP_TO = frozenset({"to", "till", "until", "towards", "toward"})


def _past_counted(run: list[Token]) -> list[Token]:
    """A run after a counting verb without the thing counted and its link: "the vowels in
    banana" -> banana (unchanged when the run does not read so)."""
    if run and run[0].kind == "word" and run[0].word in _COUNTED_UP_TO:
        return []  # "count to 10": counting up to a number, not counting what is in it
    i = 0
    while i < len(run) and run[i].kind == "word" and run[i].word in ARTICLES | DETERMINERS:
        i += 1
    if (
        i + 2 < len(run)
        and run[i].kind == "word"
        and not is_neutral(run[i].word)
        and run[i + 1].kind == "word"
        and run[i + 1].word in _IN_TEXT
    ):
        return run[i + 2 :]
    return run


def _past_named(run: list[Token], tokens: Sequence[Token]) -> list[Token]:
    """A run without the one letter, digit or word it names by kind and its link: "(the
    letter) *a in* banana" -> banana (that letter is left for the evidence to account for,
    and no tool that acts on every letter does)."""
    for i, token in enumerate(run[:3]):
        if (
            named_by_kind(token, tokens)
            and i + 2 < len(run)
            and run[i + 1].kind == "word"
            and run[i + 1].word in _IN_TEXT
        ):
            return run[i + 2 :]
    return run


def _not_a_text(run: list[Token], trimmed: list[Token], tokens: Sequence[Token]) -> bool:
    """Whether words standing where a value would are something else: the little words
    around a value ("copy it into"), a clause of the request ("and share what's on my
    radar"), the request's own first word ("Sort 5, 2, 8 ..."), or a thing named rather than
    given: "the alphabet", a title ("the Gettysburg Address", "War and Peace"), the asker's
    own thing ("reverse my name")."""
    head = trimmed[0]
    if text_runs.number_list(trimmed):
        return True
    if all(t.kind == "word" and t.word in FUNCTION_WORDS for t in trimmed):
        return True
    if head.kind == "word" and head.word in CONJUNCTIONS:
        return True
    if len(trimmed) == 1 and head.kind == "word" and head.word in _WHERE:
        return True  # "uppercase the text *below*": where a text is, not the text
    if (
        head.kind == "word"
        and head.index == tokens[0].index
        # the request's verb, unless an article leads a phrase ("the quick brown fox in ...")
        and not (head.word in ARTICLES and text_runs.phrase_follows(trimmed[1:]))
    ):
        return True
    if head.kind == "word" and head.word in AUXILIARIES:
        return True  # "how many words *does* the English language have": the question's clause
    if (
        len(trimmed) >= 2
        and is_question_word(trimmed[-2].word)
        and trimmed[-1].word in {"many", "much"}
    ):
        return True  # "count *how many* words are in my essay": the question, not a text
    if (
        len(trimmed) == 2
        and head.text.lower() in ARTICLES  # also "a" read as one ("how many words in a line")
        and trimmed[1].kind == "word"
        and not is_neutral(trimmed[1].word)
    ):
        return True
    if (
        head.word == "the"
        and not head.text.isupper()  # "THE QUICK BROWN FOX": written in capitals, not a name
        and any(t.kind == "word" and t.text[:1].isupper() for t in trimmed[1:])
    ):
        return True
    lead = run[: run.index(head) + 1]
    if lead[-1].word in POSSESSIVES or (len(lead) > 1 and lead[-2].word in POSSESSIVES):
        return True
    if text_runs.two_values(trimmed, lead[-2] if len(lead) > 1 else None):
        return True
    if _names_a_part(trimmed, _PART_STEMS) or _names_a_part(run, TEXT_PART_STEMS):
        return True
    return text_runs.titled(trimmed, tokens) or text_runs.pointed_at(trimmed)


def _names_a_part(run: list[Token], parts: frozenset[str]) -> bool:
    """Whether a run of words says which part of a value to act on rather than giving one:
    a part (``parts``, by stem) linked to what it is in or placed by ("uppercase *only the
    vowels in hello*", "uppercase *the word after hello* in hello world"), or a run that
    ends on which one ("lowercase *all but the first* letter of HELLO"). Taken whole, the
    answer would be the instruction itself in capitals."""
    last = run[-1]
    if last.kind == "word" and last.word in _WHICH_ONE:
        return True
    return any(
        a.kind == "word"
        and stem(a.word) in parts
        and b.kind == "word"
        and b.word in _PLACED_BY
        and i + 2 < len(run)
        for i, (a, b) in enumerate(pairwise(run))
    )


_PART_STEMS = TEXT_PART_STEMS | frozenset(
    stem(w) for w in ("letter", "vowel", "consonant", "character", "digit")
)
_PLACED_BY = PART_LINKS | {"after", "before"}
_WHICH_ONE = ORDINALS | {"other"}
_WHERE = frozenset({"below", "above", "following", "here", "there", "attached", "beneath"})
"""Words that say where a text is (elsewhere in a message or a file), not what it is."""


_SENTENCE_END = re.compile(r"[.?!;]")
_VALUE_LINKS = frozenset({"in", "to", "into", "as"})
_ADVERB = re.compile(r"[a-z]{3,}(?:al|ive|ent|ant|ate|ous|ect|ick|ight|ful|less|ing|ed)ly")


def _anchored(
    run: list[Token], trimmed: list[Token], starts: bool, after: bool, before: bool
) -> bool:
    """Whether a run of words stands where a value of the tool stands (see ``_free_run``)."""
    if after:
        return True
    if not before:
        return False
    if run[-1].kind == "word" and run[-1].word in _VALUE_LINKS:
        return True  # "hello world in uppercase"
    lead = run[: run.index(trimmed[0])]
    return starts and any(t.kind == "word" and t.word in _INSTRUCTION_VERBS for t in lead)


_INSTRUCTION_VERBS = frozenset({"make", "turn", "convert", "change", "put", "set"}) | OUTPUT_VERBS


_MOTION_VERBS = frozenset(
    {"go", "goes", "going", "come", "comes", "get", "gets", "getting", "got", "let", "lets",
     "like", "want", "wants", "wanted", "need", "needs"}
)  # fmt: skip
_LINKING = (AUXILIARIES | {"there"}) - _MOTION_VERBS
"""Auxiliaries that link an instruction to its value ("are in"); a verb of its own ("*go*
to school") starts a text."""


def _links(run: list[Token]) -> bool:
    """Whether a run starts with the words that link an instruction to its value: auxiliaries
    then a preposition ("are in", "is there in", "of"; not "uppercase *go to* school")."""
    for token in run:
        if token.kind != "word":
            return False
        if token.word in PREPOSITIONS:
            return True
        if token.word not in _LINKING:
            return False
    return False


_POLITE = frozenset({"please", "pls", "plz", "thanks", "thank", "thx", "kindly", "for", "me"})


_THE_WHOLE = frozenset(
    {("everything", link) for link in ("in", "of", "within", "inside")} | {("all", "of")}
)
"""Words that say the tool acts on the whole of the value that follows them."""

_FORM_LINKS = frozenset({"in", "into", "to"})
"""Prepositions before the form a text is asked in ("hello *in* capital letters")."""


def _trim(run: list[Token], *, at_start: bool, before_own: bool) -> list[Token]:
    """A run of words without the words that frame the value in it: before it, the framing
    of the request ("What is ...", at its start), the words that point at the value ("the
    word", "the result") and the link from the instruction ("... are in"); after it, the
    link to the instruction that follows ("... to uppercase"), politeness, and what the
    request is for ("Paris *for a test*": a text that holds those words is quoted)."""
    run = list(run)
    while len(run) > 1 and run[0].text in DASHES and run[1].start > run[0].end:
        run.pop(0)  # "make this all caps *-* urgent meeting": a dash set apart, as a colon
    asked = False  # the request's framing began with a question word
    while run and run[0].kind == "word":
        first = run[0]
        nxt = run[1] if len(run) > 1 else None
        if at_start and (is_neutral(first.word) or first.word in OUTPUT_VERBS):
            if first.word in ARTICLES and text_runs.phrase_follows(run[1:]):
                # "(make) the big apple in uppercase": the phrase is the value; but "what is
                # the capital of France in uppercase" asks about a thing, and gives no text
                if asked:
                    return []
                break
            asked = asked or is_question_word(first.word)
            run.pop(0)  # "What is ...", "Print ..." at the start of a request
            if first.word in _INSTRUCTION_VERBS - OUTPUT_VERBS:
                at_start = False  # "make *go to bed* uppercase": the text starts after it
        elif text_runs.points(first) and (
            len(run) == 1 or first.word not in DETERMINERS | PRONOUNS
        ):
            run.pop(0)  # "word banana", "the result" (but "this is loud" is a value)
        elif first.word in ARTICLES | DETERMINERS and (
            (pointing := text_runs.points_past_modifiers(run[1:])) >= 0 or len(run) == 1
        ):
            del run[: 1 + max(0, pointing)]  # "the (simple) word banana"
        elif first.word in DIMENSIONS and nxt is not None and nxt.word in AUXILIARIES:
            del run[:2]  # "characters *long is* ...": the question's measure, then its verb
        elif not at_start and nxt is not None and (first.word, nxt.word) in _THE_WHOLE:
            del run[:2]  # "capitalize *everything in* the cat sat": all of the value
        elif not at_start and _links(run):
            while run[0].word not in PREPOSITIONS:
                run.pop(0)
            run.pop(0)  # "characters are in hello world", "words in i am going ..."
        else:
            break
    while run and run[0].kind == "word" and _ADVERB.fullmatch(run[0].word):
        run.pop(0)  # "directly to Crescent Hollow": how, not what
        if run and run[0].kind == "word" and run[0].word in PREPOSITIONS:
            run.pop(0)
    for i in range(1, len(run) - 1):
        if run[i].word == "for" and run[i + 1].word in ARTICLES | POSSESSIVES | PRONOUNS:
            del run[i:]  # "Paris *for a test*", "london *for my sign*": why or for whom
            break
    for i in range(1, len(run)):
        if run[i].kind == "word" and (run[i].word in EXCLUDING or run[i].word in MULTIPLIERS):
            # "hello world *excluding spaces*", "banana *twice*": what to leave out or how
            # often, which a text written out would quote
            del run[i:]
            break
    polite = False  # a word of politeness was trimmed from the end
    ending = len(run)  # the run's length before its end was trimmed
    while run:
        last = run[-1]
        before = run[-2] if len(run) > 1 else None
        if last.kind == "word" and (last.word in _POLITE or _ADVERB.fullmatch(last.word)):
            run.pop()
            polite = polite or last.word in _POLITE
        elif len(run) > 2 and last.word == "you" and before is not None and before.word == "thank":
            del run[-2:]  # "hello *thank you*"
            polite = True
        elif polite and last.kind == "word" and last.word in CONJUNCTIONS:
            run.pop()  # "hello please *and* thank you"
        elif (
            last.kind == "word"
            and last.word in PRONOUNS
            and before is not None
            and before.kind == "word"
            and before.word in PREPOSITIONS
        ):
            del run[-2:]  # "analysis in it": the value, then what it is in
        elif (
            before_own
            and last.kind == "word"
            and (last.word in PREPOSITIONS | ARTICLES | DETERMINERS | AUXILIARIES)
        ):
            run.pop()  # "hello world to uppercase"
        elif (
            before_own
            and len(run) == ending  # right before the tool's word: "welcome to paris *to* ..."
            and len(run) > 2
            and last.kind == "word"
            and before is not None
            and before.kind == "word"
            and before.word in _FORM_LINKS
        ):
            del run[-2:]  # "hello *in capital* letters": the words that lead to the tool's
        elif last.kind == "symbol" and last.word not in {")"}:
            run.pop()
        else:
            break
    if len(run) > 2 and run[0].word == "(" and run[-1].word == ")":
        run = run[1:-1]  # "reverse(hello)": brackets as a call is written
    return run
