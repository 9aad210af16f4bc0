"""Follow-ups that leave out what the previous request of their session said.

In a conversation people do not repeat themselves:

- "Convert 10 km to miles." — "What about 20 km?": the same question, with a new value;
- "What's the average of 4, 8, 12?" — "And the median?": a new question about the same values.

:func:`restate` writes such a follow-up out in full from the session's previous request, so
the request path weighs it like any other request (the evidence check decides, and abstains
when the restated text does not fit a tool). It restates only what can be read one way: a new
value replaces the previous request's only value of its kind (or all of them, one for one);
a question without values takes the previous values only when they are one list or one
text. Anything else is left alone, and the follow-up gets the honest answer it got before.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from pydantic import JsonValue

from selfeng.core.language import FRAMING, FUNCTION_WORDS, is_neutral
from selfeng.core.scanning import Token, scan
from selfeng.core.values import number_lists

_VALUE_KINDS = frozenset({"number", "date", "quoted"})
_OPENERS = frozenset({"what", "about", "how", "and", "now", "then", "instead", "for", "with"})
_MAX_WORDS = 8


def restate(
    text: str, earlier_query: str, earlier_arguments: Mapping[str, JsonValue]
) -> str | None:
    """``text`` written out in full from the previous request of its session, or None when it
    does not read as a follow-up of it (or could be read more than one way; a plain number
    that could take the place of two kinds of value is ``bare_number_for``'s to ask, first)."""
    tokens = scan(text).tokens
    words = [t for t in tokens if t.kind == "word"]
    if not earlier_query or len(words) > _MAX_WORDS:
        return None
    values = [t for t in tokens if t.kind in _VALUE_KINDS]
    if values:
        return _new_values(tokens, values, earlier_query)
    if any(t.kind not in {"word", "symbol"} for t in tokens):
        return None
    return _same_values(text, earlier_arguments)


_CONTINUES = re.compile(
    r"^\s*(?:plus|minus|times|multiplied\s+by|divided\s+by|over|mod(?:ulo)?|raised\s+to|"
    r"to\s+the\s+power\s+of|[+*/^\u00d7\u00f7])(?=[\s\d])",
    re.IGNORECASE,
)


def continued(text: str) -> str | None:
    """A follow-up that starts with an operator ("minus 10", "times 3", "divided by 2") works
    on the previous answer: "it minus 10". None for any other text (a leading "-10" is a
    number)."""
    return f"it {text.strip()}" if _CONTINUES.match(text) else None


_MADE_INTO = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|now|actually|and|so|but|no|sorry|wait|then)[\s,]+)*"
    r"(?:make|change|set)\s+(?:it|that|this)\s+(?:to\s+|into\s+)?(?P<values>.*\S)\s*$",
    re.IGNORECASE,
)


def made_into(text: str, earlier_query: str) -> str | None:
    """The values a follow-up such as "make that 25%" or "change it to 30 km" gives: they
    take the place of the previous request's (to be restated), not work on its answer ("25%
    of the answer"). None when the follow-up does not read so: "make it uppercase" gives no
    value, and "make it 10 times bigger" says what to do with the answer (a word the
    previous request did not say)."""
    found = _MADE_INTO.match(text)
    if found is None:
        return None
    values = found.group("values")
    tokens = scan(values).tokens
    if not any(t.kind in _VALUE_KINDS for t in tokens) or _unsaid(tokens, earlier_query):
        return None
    return values


def _unsaid(tokens: Sequence[Token], earlier_query: str) -> bool:
    """Whether a follow-up has a word of its own, neither framing nor said in the previous
    request."""
    said = {t.word for t in scan(earlier_query).tokens if t.kind == "word"}
    return any(t.kind == "word" and t.word not in said and not _framing(t.word) for t in tokens)


def _new_values(tokens: Sequence[Token], values: list[Token], earlier_query: str) -> str | None:
    """ "What about 20 km?" after "Convert 10 km to miles": "Convert 20 km to miles". Every
    word of the follow-up must be a framing word or one the previous request has."""
    earlier = scan(earlier_query).tokens
    if _unsaid(tokens, earlier_query):
        return None  # "what about in feet?": a new word, another question
    if any(t.kind not in {"word", "symbol", *_VALUE_KINDS} for t in tokens):
        return None
    if not _in_order(
        [t.word for t in tokens if t.kind == "word" and not _framing(t.word)],
        [t.word for t in earlier if t.kind == "word"],
    ):
        return None  # "what about 0 c to f" after "convert 100 f to c": asked the other way
    replaced: dict[int, Token] = {}
    for kind in {_kind(v) for v in values}:
        new = [v for v in values if _kind(v) == kind]
        old = [t for t in earlier if t.kind in _VALUE_KINDS and _kind(t) == kind]
        if len(new) != len(old):
            return None  # "what about 5?" after "add 3 and 4": which one?
        replaced.update({o.index: n for o, n in zip(old, new, strict=True)})
    out: list[str] = []
    at = 0
    for t in earlier:
        if t.index in replaced:
            out.append(earlier_query[at : t.start])
            out.append(replaced[t.index].text)
            at = t.end
    out.append(earlier_query[at:])
    return "".join(out)


def _in_order(words: list[str], earlier: list[str]) -> bool:
    """Whether ``words`` come in ``earlier`` in the same order (a follow-up that says the
    previous request's words in another order asks another question)."""
    remaining = iter(earlier)
    return all(word in remaining for word in words)


def bare_number_for(text: str, earlier_query: str) -> str | None:
    """Why a follow-up that gives a plain number and nothing that says what it stands for
    cannot be written out, when the previous request had numbers of two kinds ("and 20?"
    after "15 percent of 250": 20 percent, or 15 percent of 20?); None otherwise."""
    tokens = scan(text).tokens
    numbers = [t for t in scan(earlier_query).tokens if t.kind == "number"]
    new = [t for t in tokens if t.kind == "number"]
    if (
        len(new) != 1
        or new[0].percent
        or len({_kind(t) for t in numbers}) < 2
        or any(t.kind not in {"word", "number", "symbol"} for t in tokens)
        or any(t.kind == "word" and t.word not in _OPENERS for t in tokens)
    ):
        return None
    shown_as = new[0].text
    return (
        f"“{shown_as}” may take the place of any of the previous request's numbers "
        f"({', '.join(t.text for t in numbers)}): which one?"
    )


_INCLUDED = frozenset({"added", "included", "including", "include", "plus"})
"""Words that may put a number among the previous request's values ("and *with* 12
*added*?"), as well as add it to the answer."""


def included_with(
    text: str, answer: JsonValue, earlier_arguments: Mapping[str, JsonValue]
) -> str | None:
    """Why a follow-up that puts a number "with" the previous answer ("and with 12 added?"
    after "the average of 3, 6, 9") cannot be read one way: added to the answer 6, or among
    the values 3, 6, 9 (the average of 3, 6, 9, 12)? None when it does not read so, or when
    both readings are one: the previous answer was the values' sum."""
    words = {t.word for t in scan(text).tokens if t.kind == "word"}
    if "with" not in words or not words & _INCLUDED:
        return None
    lists = number_lists(earlier_arguments)
    if len(lists) != 1 or not isinstance(answer, int | float) or isinstance(answer, bool):
        return None
    if math.isclose(math.fsum(lists[0]), answer):
        return None  # a sum: adding to the values adds to the answer
    values = ", ".join(_number_text(x) for x in lists[0])
    return (
        f"the number may be added to the answer ({_number_text(answer)}) or put among the "
        f"values ({values}): which one?"
    )


def _same_values(text: str, earlier_arguments: Mapping[str, JsonValue]) -> str | None:
    """ "And the median?" after "the average of 4, 8, 12": "And the median of 4, 8, 12"."""
    lists = number_lists(earlier_arguments)
    texts = [v for v in earlier_arguments.values() if isinstance(v, str) and v.strip()]
    body = text.rstrip().rstrip("?.!").rstrip()
    if len(lists) == 1 and not texts:
        numbers = ", ".join(_number_text(x) for x in lists[0])
        return f"{body} of {numbers}"
    if len(texts) == 1 and not lists and '"' not in texts[0]:
        return f'{body} of "{texts[0]}"'
    return None


def _framing(word: str) -> bool:
    return word in _OPENERS or word in FRAMING or word in FUNCTION_WORDS or is_neutral(word)


def _kind(t: Token) -> str:
    return "percent" if t.kind == "number" and t.percent else t.kind


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
