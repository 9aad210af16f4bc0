"""Numbers written as words: runs of number words ("twenty-five", "a hundred", "three
thousand"), "negative"/"minus" before a number, multiples ("double", "half"), and powers
("squared" after a number, "square"/"cube" before what they raise).
"""

from __future__ import annotations

import re
from dataclasses import replace

from selfeng.core.language import REFERENCES
from selfeng.core.value_readers import RawToken, numeric

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_POWER_WORDS = {"squared": 2, "cubed": 3}
POWER_VERBS = {"square": 2, "cube": 3}
"""Verbs that raise the number after them to a power ("*square* 12")."""
SIGN_WORDS = frozenset({"negative", "minus"})
"""Words that may be a number's sign ("*negative* 5"; "minus" only with no operand before it)."""
_FRACTIONS = {"half": 0.5, "quarter": 0.25}
_CHAIN_WORDS = frozenset({"and", "then", "now", "next", "finally", "after", "that"})
_MULTIPLES = {
    "double": 2.0, "twice": 2.0, "triple": 3.0, "thrice": 3.0, "half": 0.5, "halve": 0.5,
}  # fmt: skip
_POWER_VERB_WORDS = {"square": "squared", "cube": "cubed"}
_POINTING = frozenset({"these", "those"})
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
        signed = r.kind == "word" and (
            r.word in SIGN_WORDS and (r.word != "minus" or not _operand_before(out))
        )
        if signed and nxt is not None and nxt.kind == "number" and not nxt.percent:
            out.append(RawToken("number", r.start, nxt.end, value=-numeric(nxt.value),
                                integer=nxt.integer))  # fmt: skip
            i += 2
            continue
        if signed and nxt is not None and nxt.kind == "word":
            run_end, words_value = _number_word_run(text, raw, i + 1)
            if run_end > i + 1:  # "negative twenty": the sign of a number in words
                out.append(RawToken("number", r.start, raw[run_end - 1].end,
                                    value=-float(words_value), integer=True))  # fmt: skip
                i = run_end
                continue
        share = _share_of(raw, i)
        if share is not None:
            # "a quarter of 80", "two thirds of 60": a share that multiplies what follows
            value, end = share
            out.append(RawToken("number", r.start, raw[end].end, value=value, word="times",
                                integer=value.is_integer()))  # fmt: skip
            i = end + 1
            continue
        if r.kind == "word" and r.word in _MULTIPLES and _multiplies_what_follows(raw, i):
            out.append(RawToken("number", r.start, r.end, value=_MULTIPLES[r.word], word="times",
                                integer=float(_MULTIPLES[r.word]).is_integer()))  # fmt: skip
            i += 1
            continue
        if r.kind == "word" and r.word in POWER_VERBS and _powers_what_follows(raw, i):
            out.append(RawToken("number", r.start, r.end, value=float(POWER_VERBS[r.word]),
                                word=_POWER_VERB_WORDS[r.word], integer=True))  # fmt: skip
            i += 1
            continue
        if r.kind == "number" and not r.percent and _mixed_fraction(raw, i) is not None:
            # "3 and a half": a mixed number
            part = _FRACTIONS[raw[i + 3].word]
            out.append(RawToken("number", r.start, raw[i + 3].end,
                                value=numeric(r.value) + part, integer=False))  # fmt: skip
            i += 4
            continue
        if (
            r.kind == "word"
            and r.word in _POWER_WORDS
            and not any(t.kind == "number" for t in out)
            and all(t.kind == "word" and t.word in _CHAIN_WORDS for t in out)
        ):
            # "... and then squared": a step of its own, raising the previous result
            out.append(RawToken("number", r.start, r.end, value=float(_POWER_WORDS[r.word]),
                                word=r.word, integer=True))  # fmt: skip
            i += 1
            continue
        if r.kind == "word" and r.word in _POWER_WORDS and _after_a_value(out):
            out.append(RawToken("number", r.start, r.end, value=float(_POWER_WORDS[r.word]),
                                word=r.word, integer=True))  # fmt: skip
            i += 1
            continue
        if r.kind == "word" and r.word in _SCALES and _counted(out, text):
            # "1 million", "2.5 thousand": the scale multiplies the number before it
            n = out.pop()
            value = numeric(n.value) * _SCALES[r.word]
            out.append(RawToken("number", n.start, r.end, value=value, integer=value.is_integer()))
            i += 1
            continue
        if r.kind == "word" and r.word in _SCALES and not (out and out[-1].word == "a"):
            # "the nearest hundred": a quantity named, not counted; only a parameter whose
            # role it fits may take it
            out.append(RawToken("number", r.start, r.end, value=float(_SCALES[r.word]),
                                word=r.word, integer=True))  # fmt: skip
            i += 1
            continue
        if r.kind == "word" and r.word in _ORDINALS and _after(out, "to", "the"):
            # "5 to the third power", "3 to the fifth": an exponent said as an ordinal
            out.append(RawToken("number", r.start, r.end, value=float(_ORDINALS[r.word]),
                                word="power", integer=True))  # fmt: skip
            i += 1
            continue
        if (
            r.kind == "number"
            and _after(out, "to", "the")
            and len(out) > 2
            and out[-3].kind == "number"
            and _DIGIT_ORDINAL.search(text[r.start : r.end])
        ):
            # "2 to the 8th": the same, in digits
            out.append(RawToken("number", r.start, r.end, value=r.value, word="power",
                                integer=r.integer))  # fmt: skip
            i += 1
            continue
        run_end, value = _number_word_run(text, raw, i)
        if run_end > i:
            previous = out[-1].word if out and out[-1].kind == "word" else ""
            lone_one = run_end == i + 1 and r.word == "one"
            if previous in _POINTING:
                # "add *those two* together": how many things are pointed at, not a value
                out.extend(raw[i:run_end])
                i = run_end
                continue
            point_end, digits = _point_digits(raw, run_end)
            if digits:
                # "twelve point seven": a decimal read out, digit by digit after the point
                out.append(RawToken("number", r.start, raw[point_end - 1].end,
                                    value=float(f"{value}.{digits}"), integer=False))  # fmt: skip
                i = point_end
                continue
            if not (lone_one and previous in _NOT_A_NUMBER_BEFORE_ONE):
                after = _percent_after(raw, run_end)
                if after is not None:
                    # "fifteen percent": a percentage, as "15 percent" reads
                    out.append(RawToken("number", r.start, raw[after - 1].end,
                                        value=float(value), integer=True, percent=True,
                                        word="percent"))  # fmt: skip
                    i = after
                    continue
                out.append(RawToken("number", r.start, raw[run_end - 1].end, value=float(value),
                                    integer=True))  # fmt: skip
                i = run_end
                continue
        out.append(r)
        i += 1
    return _one_unit_asked_about(_rounding_units(out))


def _percent_after(raw: list[RawToken], at: int) -> int | None:
    """Where the tokens after "percent" (or "per cent") at ``at`` start, if it is there."""
    words = [t.word if t.kind == "word" else "" for t in raw[at : at + 2]]
    if words[:1] == ["percent"]:
        return at + 1
    if words == ["per", "cent"]:
        return at + 2
    return None


def _rounding_units(raw: list[RawToken]) -> list[RawToken]:
    """ "to the nearest *ten*", "the nearest *10*": the unit a value is rounded to, named, not
    a count (of decimal places, or anything else a tool takes), as "the nearest hundred" is."""
    out = list(raw)
    for i, r in enumerate(out):
        j = i - 1
        while j >= 0 and out[j].kind == "word" and out[j].word in {"the", "a"}:
            j -= 1
        if r.kind == "number" and not r.word and j >= 0 and out[j].word == "nearest":
            out[i] = replace(r, word="nearest")
    return out


_DIGIT_ORDINAL = re.compile(r"\d(?:st|nd|rd|th)$", re.IGNORECASE)
_ORDINALS = {
    "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
}  # fmt: skip


def _mixed_fraction(raw: list[RawToken], i: int) -> str | None:
    """The fraction word of "and a half" / "and a quarter" right after the number at ``i``."""
    if i + 3 >= len(raw):
        return None
    words = [t.word if t.kind == "word" else "" for t in raw[i + 1 : i + 4]]
    if words[:2] == ["and", "a"] and words[2] in _FRACTIONS:
        return words[2]
    return None


def _after(out: list[RawToken], *before: str) -> bool:
    """Whether the tokens before are these words."""
    n = len(before)
    return len(out) >= n and all(
        t.kind == "word" and t.word == w for t, w in zip(out[-n:], before, strict=True)
    )


def _counted(out: list[RawToken], text: str) -> bool:
    """Whether the token before is a plain number in digits a scale word can multiply ("1
    million"; number words took their scales already: "a thousand thousand" is no number)."""
    if not out or out[-1].kind != "number" or out[-1].percent or out[-1].word:
        return False
    return any(c.isdigit() for c in text[out[-1].start : out[-1].end])


_ONE_OF = frozenset({"in", "per"})


def _one_unit_asked_about(raw: list[RawToken]) -> list[RawToken]:
    """ "How many ounces in *a* pound?": an amount of one, when the question names no number
    and ends at the article's noun ("in a pound", "per an hour"). Anywhere else an article
    counts nothing ("how many words in a sentence: ...")."""
    words = [i for i, r in enumerate(raw) if r.kind == "word"]
    if any(r.kind == "number" for r in raw) or len(words) < 5:
        return raw
    if raw[words[0]].word != "how" or raw[words[1]].word != "many":
        return raw
    article, noun = words[-2], words[-1]
    if (
        raw[article].word in {"a", "an"}
        and raw[words[-3]].word in _ONE_OF
        and noun == article + 1
        and all(r.kind == "symbol" for r in raw[noun + 1 :])
    ):
        a = raw[article]
        raw = list(raw)
        raw[article] = RawToken("number", a.start, a.end, value=1.0, integer=True)
    return raw


def _operand_before(out: list[RawToken]) -> bool:
    """Whether the token before could be the left operand of a binary "minus": a number, a
    bracket, or a word standing for an earlier answer ("it minus 10", "the result minus 2")."""
    return bool(out) and (
        out[-1].kind == "number" or out[-1].word == ")" or out[-1].word in REFERENCES
    )


_DENOMINATORS = {
    "half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4,
    "fourth": 4, "fourths": 4, "fifth": 5, "fifths": 5, "sixth": 6, "sixths": 6,
    "eighth": 8, "eighths": 8, "tenth": 10, "tenths": 10,
}  # fmt: skip


def _share_of(raw: list[RawToken], i: int) -> tuple[float, int] | None:
    """A share written in words before "of" at ``i`` ("*a quarter* of 80", "*two thirds*
    of 60", "*3 fifths* of 10"): its value and the index of its last word; None otherwise.
    An ordinal after "the" names a place ("the third of May"), not a share."""
    if i + 2 >= len(raw):
        return None
    r, denominator, link = raw[i], raw[i + 1], raw[i + 2]
    if denominator.kind != "word" or denominator.word not in _DENOMINATORS:
        return None
    if link.kind != "word" or link.word != "of":
        return None
    if r.kind == "word" and r.word in {"a", "one"}:
        numerator = 1.0
    elif r.kind == "word" and r.word in _NUMBER_WORDS:
        numerator = float(_NUMBER_WORDS[r.word])
    elif r.kind == "number" and r.integer and not r.percent and isinstance(r.value, int | float):
        numerator = float(r.value)
    else:
        return None
    return numerator / _DENOMINATORS[denominator.word], i + 1


def _after_a_value(out: list[RawToken]) -> bool:
    """Whether what was read last is a number, or a bracket closing around one ("(-3)
    squared")."""
    if not out:
        return False
    if out[-1].kind == "number":
        return True
    return out[-1].word == ")" and len(out) >= 2 and out[-2].kind == "number"


def _powers_what_follows(raw: list[RawToken], i: int) -> bool:
    """Whether "square"/"cube" at ``i`` is the verb or noun of a power ("square 5", "square
    it", "the square of 7"), not part of "square root" or of a unit ("square meters")."""
    return _applies_to_what_follows(raw, i)


def _multiplies_what_follows(raw: list[RawToken], i: int) -> bool:
    """Whether "double", "twice", "half" ... at ``i`` multiplies what follows ("double it",
    "twice 7", "half of 80"), rather than naming something ("a double room")."""
    return _applies_to_what_follows(raw, i)


def _applies_to_what_follows(raw: list[RawToken], i: int) -> bool:
    """Whether the word at ``i`` is followed by a number, or by a word leading to one ("it",
    "the", "of")."""
    nxt = raw[i + 1] if i + 1 < len(raw) else None
    if nxt is None:
        return False
    if nxt.kind == "number":
        return True
    return nxt.kind == "word" and nxt.word in {"it", "that", "this", "them", "the", "of", "its"}


def _number_word_run(text: str, raw: list[RawToken], i: int) -> tuple[int, int]:
    """The end of a run of number words starting at ``i`` and its value (``i`` if none).

    The run follows how numbers are said: a group below a thousand (a tens word before a
    unit, "hundred" after a count below a hundred, then "and" and what is below a hundred),
    groups closed by falling scales ("two million three hundred thousand"), "dozen" a count
    of twelve. A word that does not fit ends the run ("twenty thirty" is two numbers, not
    50; "two dozen" is 24, not 14), and one after "and" ends it before the "and": "one
    hundred and one hundred" is 100 and 100, not 10,100.
    """
    total = 0
    current = 0  # the group being read, below a thousand
    last_scale = 0  # the scale that closed the last group: the next must be smaller
    j = i
    seen = False
    before_and: tuple[int, int] | None = None  # where the run stood at its last "and"
    while j < len(raw) and raw[j].kind == "word":
        word = raw[j].word
        fits = True
        if word == "dozen":
            if 0 < current < 100:
                current *= 12  # "two dozen"
            elif not seen:
                current = 12  # "a dozen", "dozen"
            else:
                fits = False
            seen = True
        elif _is_number_word(word):
            value = sum(_NUMBER_WORDS[p] for p in word.split("-"))
            fits = _fits(current, value, seen)
            if fits:
                current += value
                seen = True
        elif word in _SCALES and (seen or (j > i and raw[j - 1].word == "a")):
            scale = _SCALES[word]
            if seen and current == 0:
                fits = False  # a scale needs a count: "thousand" after "two million"
            elif scale == 100:
                fits = current < 100
                if fits:
                    current = (current or 1) * 100
            elif last_scale and scale >= last_scale:
                fits = False  # "a thousand thousand"
            else:
                total += (current or 1) * scale
                current, last_scale = 0, scale
            seen = True
        elif (
            word == "a"
            and j + 1 < len(raw)
            and raw[j + 1].word in {"hundred", "thousand", "dozen", "million"}
        ):
            pass  # "a hundred": the scale word follows
        elif word == "and" and seen and j + 1 < len(raw) and _is_number_word(raw[j + 1].word):
            before_and = (j, total + current)  # "one hundred and five"
        else:
            break
        if not fits:
            if before_and is not None:
                return before_and  # "one hundred | and one hundred"
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


_DIGIT_WORDS = {w: str(n) for w, n in _NUMBER_WORDS.items() if n < 10} | {"oh": "0"}


def _point_digits(raw: list[RawToken], k: int) -> tuple[int, str]:
    """The digits read out after "point" at ``k`` ("point *one four*"), and where they end;
    no digits when there is no "point" there, or no digit word after it."""
    if k >= len(raw) or raw[k].kind != "word" or raw[k].word != "point":
        return k, ""
    end, digits = k + 1, ""
    while end < len(raw) and raw[end].kind == "word" and raw[end].word in _DIGIT_WORDS:
        digits += _DIGIT_WORDS[raw[end].word]
        end += 1
    return (end, digits) if digits else (k, "")


def _is_number_word(word: str) -> bool:
    return all(p in _NUMBER_WORDS for p in word.split("-"))


def _fits(current: int, value: int, seen: bool) -> bool:
    """Whether a number word below a hundred continues the group read so far: a tens word,
    a teen or a compound ("twenty-five") only where the group's last two digits are free,
    a unit also after a tens word ("twenty *five*"), zero only alone."""
    if value == 0:
        return not seen
    low = current % 100
    if value >= 10:
        return low == 0
    return low == 0 or (low >= 20 and low % 10 == 0)
