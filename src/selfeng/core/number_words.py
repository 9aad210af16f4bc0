"""Numbers written as words: runs of number words ("twenty-five", "a hundred", "three
thousand"), "negative"/"minus" before a number, multiples ("double", "half"), and powers
("squared" after a number, "square"/"cube" before what they raise).
"""

from __future__ import annotations

from selfeng.core.value_readers import RawToken

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_POWER_WORDS = {"squared": 2, "cubed": 3}
_POWER_VERBS = {"square": 2, "cube": 3}
_MULTIPLES = {"double": 2.0, "twice": 2.0, "triple": 3.0, "thrice": 3.0, "half": 0.5}
_POWER_VERB_WORDS = {"square": "squared", "cube": "cubed"}
_NOT_A_NUMBER_BEFORE_ONE = frozenset(
    {"which", "this", "that", "the", "each", "every", "any", "no", "another", "other", "last"}
)


def number_words(text: str, raw: list[RawToken]) -> list[RawToken]:
    """Turn runs of number words into numbers ("twenty-five", "a hundred", "three
    thousand") and "squared"/"cubed" after a number into the power they name."""
    out: list[RawToken] = []
    i = 0
    while i < len(raw):
        r = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        if (
            r.kind == "word"
            and nxt is not None
            and nxt.kind == "number"
            and not nxt.percent
            and (r.word == "negative" or (r.word == "minus" and not _operand_before(out)))
        ):
            out.append(RawToken("number", r.start, nxt.end, value=-float(nxt.value or 0.0),  # type: ignore[arg-type]
                                integer=nxt.integer))  # fmt: skip
            i += 2
            continue
        if r.kind == "word" and r.word in _MULTIPLES and _multiplies_what_follows(raw, i):
            out.append(RawToken("number", r.start, r.end, value=_MULTIPLES[r.word], word="times",
                                integer=float(_MULTIPLES[r.word]).is_integer()))  # fmt: skip
            i += 1
            continue
        if r.kind == "word" and r.word in _POWER_VERBS and _powers_what_follows(raw, i):
            out.append(RawToken("number", r.start, r.end, value=float(_POWER_VERBS[r.word]),
                                word=_POWER_VERB_WORDS[r.word], integer=True))  # fmt: skip
            i += 1
            continue
        if r.kind == "word" and r.word in _POWER_WORDS and out and out[-1].kind == "number":
            out.append(RawToken("number", r.start, r.end, value=float(_POWER_WORDS[r.word]),
                                word=r.word, integer=True))  # fmt: skip
            i += 1
            continue
        if r.kind == "word" and r.word in _SCALES and not (out and out[-1].word == "a"):
            # "the nearest hundred": a quantity named, not counted; only a parameter whose
            # role it fits may take it
            out.append(RawToken("number", r.start, r.end, value=float(_SCALES[r.word]),
                                word=r.word, integer=True))  # fmt: skip
            i += 1
            continue
        run_end, value = _number_word_run(text, raw, i)
        if run_end > i:
            previous = out[-1].word if out and out[-1].kind == "word" else ""
            lone_one = run_end == i + 1 and r.word == "one"
            if not (lone_one and previous in _NOT_A_NUMBER_BEFORE_ONE):
                out.append(RawToken("number", r.start, raw[run_end - 1].end, value=float(value),
                                    integer=True))  # fmt: skip
                i = run_end
                continue
        out.append(r)
        i += 1
    return out


def _operand_before(out: list[RawToken]) -> bool:
    """Whether the token before could be the left operand of a binary "minus"."""
    return bool(out) and (out[-1].kind == "number" or out[-1].word == ")")


def _powers_what_follows(raw: list[RawToken], i: int) -> bool:
    """Whether "square"/"cube" at ``i`` is the verb or noun of a power ("square 5", "square
    it", "the square of 7"), not part of "square root" or of a unit ("square meters")."""
    nxt = raw[i + 1] if i + 1 < len(raw) else None
    if nxt is None:
        return False
    if nxt.kind == "number":
        return True
    return nxt.kind == "word" and nxt.word in {"it", "that", "this", "them", "the", "of", "its"}


def _multiplies_what_follows(raw: list[RawToken], i: int) -> bool:
    """Whether "double", "twice", "half" ... at ``i`` multiplies what follows ("double it",
    "twice 7", "half of 80"), rather than naming something ("a double room")."""
    nxt = raw[i + 1] if i + 1 < len(raw) else None
    if nxt is None:
        return False
    if nxt.kind == "number":
        return True
    return nxt.kind == "word" and nxt.word in {"it", "that", "this", "them", "the", "of", "its"}


def _number_word_run(text: str, raw: list[RawToken], i: int) -> tuple[int, int]:
    """The end of a run of number words starting at ``i`` and its value (``i`` if none)."""
    total = 0
    current = 0
    j = i
    seen = False
    while j < len(raw) and raw[j].kind == "word":
        word = raw[j].word
        parts = word.split("-")
        if all(p in _NUMBER_WORDS for p in parts):
            current += sum(_NUMBER_WORDS[p] for p in parts)
            seen = True
        elif word in _SCALES and (seen or (j > i and raw[j - 1].word == "a")):
            scale = _SCALES[word]
            if scale == 100:
                current = (current or 1) * 100
            else:
                total += (current or 1) * scale
                current = 0
            seen = True
        elif (
            word == "a"
            and j + 1 < len(raw)
            and raw[j + 1].word in {"hundred", "thousand", "dozen", "million"}
        ):
            current += 0  # "a hundred": the scale word follows
        elif word == "and" and seen and j + 1 < len(raw) and raw[j + 1].word in _NUMBER_WORDS:
            pass  # "one hundred and five"
        else:
            break
        j += 1
        gap = text[raw[j - 1].end : raw[j].start] if j < len(raw) else ""
        if gap.strip(" -"):
            break
    if not seen:
        return i, 0
    while j > i and raw[j - 1].word in {"a", "and"}:
        j -= 1
    return j, total + current
