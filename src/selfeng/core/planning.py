"""The offline planner: split a request into steps, and see which steps use the one before.

"Calculate 25% of 100 and reverse the result" is two steps, the second working on the
first's output; "What is the sum of 3 and 4" is one; "Calculate 20% of 100 and also find the
square root of 64" is two independent questions, both answered. A request is split at
sentence ends, "then", ";" and "also", and at "and" when what follows starts like an
instruction: an action verb, a question word, or the first word of a registered tool's name
(tool names are verb-first: ``reverse_string``). "and" followed by the same shape of values
as the end of the part before it repeats that instruction ("Convert 10 km to miles and 30 C
to F" is two conversions). Nothing inside quotes, JSON or the text after an instruction's
colon is split. A step that says "the result", "it", "that" ... works on the previous step's
output. Deterministic: the same words always give the same plan.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from selfeng.core.language import OPERATORS, PREPOSITIONS, is_neutral, stem
from selfeng.core.plan_values import (
    SHAPE_WORDS,
    calculation,
    converted_to,
    has_value,
    is_value,
    operates,
    operator_led,
    shape,
    with_values_of,
)
from selfeng.core.scanning import Scan, Token, scan

ACTION_VERBS = frozenset(
    {
        "add", "subtract", "multiply", "divide", "calculate", "compute", "convert", "reverse",
        "count", "uppercase", "lowercase", "capitalize", "capitalise", "round", "find", "get",
        "extract", "make", "turn", "square", "sum", "average", "take", "tell", "give", "show",
        "return", "translate", "double", "halve", "negate", "sort", "format", "raise",
        "compare", "check", "what", "whats", "what's", "how", "which", "who", "where", "when",
        "why", "is", "are", "can", "could", "would", "work", "figure", "determine", "list",
        "look", "search", "send", "book", "set", "change", "write", "put", "remove", "delete",
        "create", "open", "move", "copy", "replace", "split", "join", "evaluate", "solve",
        "express", "measure", "estimate",
    }
)  # fmt: skip
"""Words that start an instruction or a question."""

_REFERENCE = re.compile(
    r"\b(the (result|answer|output|value|number|sum|total|product|outcome|difference|"
    r"quotient)|it|its|that|this|them|their)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[A-Za-z0-9%)\"'”])[?!.]+\s+(?=[A-Za-z])")
_SEPARATOR = re.compile(
    r"\s*(?:;|,?\s+and\s+then\s+|,?\s+then\s+|,\s*then\s+|,?\s+and\s+also\s+|,?\s+also\s+)\s*",
    re.IGNORECASE,
)
_AND = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+", re.IGNORECASE)
_WORD = re.compile(r"[a-z']+")
_LEADING = re.compile(r"^\s*(?:(?:and|then|also|so)\b[\s,]*)+", re.IGNORECASE)
_SKIPPED = frozenset({"the", "a", "an", "and", "please", "now", "just"})
_COPULAS = frozenset({"is", "are", "was", "were"})
_QUESTION_STARTS = frozenset(
    {"what", "whats", "what's", "how", "which", "who", "where", "when", "why", "is", "are",
     "can", "could", "would"}
)  # fmt: skip


@dataclass(frozen=True)
class PlanStep:
    """One step of a plan."""

    text: str
    """The words of the step."""
    uses_previous: bool
    """Whether it works on the previous step's output."""
    also: bool = False
    """Asked as well as the step before it ("..., and *also* to feet"): that step's output
    is part of the answer even when this one works on it."""


def _starts_instruction(text: str, vocabulary: Collection[str]) -> bool:
    """Whether a text starts like an instruction or a question (articles, "please" and
    adverbs such as "separately" skipped; "rounded" counts as "round")."""
    words = _WORD.findall(text.lower())
    for at, word in enumerate(words):
        if word in _COPULAS and at + 1 < len(words) and words[at + 1] in PREPOSITIONS:
            return False  # "..., are in 'good morning'": the rest of a question, no new one
        if _instructs(word, vocabulary):
            return True
        if word in _SKIPPED or (word.endswith("ly") and len(word) > 4):
            continue
        return False
    return False


def _instructs(word: str, vocabulary: Collection[str]) -> bool:
    """Whether a (lower-case) word is an instruction: an action verb, or a word of a tool's
    name ("rounded" counts as "round")."""
    return (
        word in ACTION_VERBS
        or word in vocabulary
        or stem(word) in _instruction_stems(frozenset(vocabulary))
    )


@lru_cache(maxsize=64)
def _instruction_stems(vocabulary: frozenset[str]) -> frozenset[str]:
    return frozenset(stem(v) for v in (*ACTION_VERBS, *vocabulary))


def plan(request: str, vocabulary: Collection[str] = ()) -> list[PlanStep]:
    """The steps of a request, in order (one step when it does not split)."""
    text = request.strip()
    ends = "?." if scan(text).colon is not None else "?.!"  # "this tweet: ... run!": its "!"
    while text and text[-1] in ends:
        text = text[:-1].rstrip()
    text = _without_label(text, vocabulary)
    protected = _protected(scan(text))
    parts: list[str] = []
    joined_by_and: list[bool] = []  # part i joined to part i-1 by a plain "and" or comma
    added: list[bool] = []  # part i asked as well as part i-1 ("also")
    for sentence, offset in _sentences(text, protected, vocabulary):
        inner = [(s - offset, e - offset) for s, e in protected]
        chunks = [
            (part, at + offset, also and not within)
            for chunk, at, also in _split_marking_also(sentence, inner)
            for within, (part, offset) in enumerate(_participles(chunk, vocabulary))
        ]
        for chunk, at, also in chunks:
            pieces = _split_keeping(chunk, _AND, [(s - at, e - at) for s, e in inner])
            current = pieces[0][1]
            by_and = False  # how ``current`` was separated from the part before it
            for separator, piece in pieces[1:]:
                repeated = _repeats(current, piece, vocabulary)
                instruction = _starts_instruction(piece, vocabulary) and not _modifier(piece)
                if instruction and _last_of_a_list(current, piece):
                    instruction = False  # "the mean of 80, 90 and 100 percent": an item
                if instruction and not _starts_instruction(current, vocabulary):
                    instruction = False  # a statement, then its question: one step
                if calculation(piece) and calculation(current):
                    # "2 to the 10th power, and 1,000 divided by 8" (the piece first: it is
                    # short, and ``current`` grows with every piece of a long list)
                    instruction = True
                if "," in separator and operator_led(piece) and has_value(current):
                    # "3 plus 4, *times 2*": the comma closes the sum; what follows
                    # works on its result, as "then times 2" would
                    instruction, repeated = True, None
                if repeated is not None or instruction:
                    parts.append(current)
                    joined_by_and.append(by_and)
                    added.append(also)
                    by_and, also = True, False
                    current = repeated if repeated is not None else piece
                else:
                    current = f"{current}{separator}{piece}"
            parts.append(current)
            joined_by_and.append(by_and)
            added.append(also)
    cleaned = [_LEADING.sub("", p).strip().strip(",").strip() for p in parts]
    steps = _merge_framing(
        [(p, j, a) for p, j, a in zip(cleaned, joined_by_and, added, strict=True) if p]
    )
    if not steps:
        return [PlanStep(request.strip(), False)]
    joined = [j for _, j, _ in steps]
    texts = _borrow_tails([p for p, _, _ in steps], joined)
    texts = _ask_of_the_same(texts, joined)
    texts = _continue_verbs(texts, vocabulary)
    return [
        PlanStep(part, uses_previous=i > 0 and bool(_REFERENCE.search(part)), also=i > 0 and also)
        for i, (part, (_, _, also)) in enumerate(zip(texts, steps, strict=True))
    ]


def _split_marking_also(
    sentence: str, protected: list[tuple[int, int]]
) -> list[tuple[str, int, bool]]:
    """``sentence`` split at ``_SEPARATOR``: each piece with its offset and whether the
    separator before it said "also"."""
    out: list[tuple[str, int, bool]] = []
    end = 0
    for piece, at in _split(sentence, _SEPARATOR, protected):
        out.append((piece, at, "also" in sentence[end:at].lower()))
        end = at + len(piece)
    return out


def _continue_verbs(parts: list[str], vocabulary: Collection[str]) -> list[str]:
    """A part that is only the rest of an instruction ("multiply 3.5 by 4, then *by 2*",
    "convert 5 km to miles, then *to feet*") repeats the instruction before it, on its
    result: "multiply it by 2"."""
    out = list(parts)
    for i in range(1, len(out)):
        tokens = scan(out[i]).tokens
        if not tokens or tokens[0].kind != "word" or tokens[0].word not in SHAPE_WORDS:
            continue
        if any(t.kind == "word" and _instructs(t.word, vocabulary) for t in tokens[1:]):
            continue  # "from the result *subtract* 3": its own instruction, later in it
        verb = _WORD.findall(out[i - 1].lower())[:1]
        if verb and verb[0] not in _QUESTION_STARTS and _instructs(verb[0], vocabulary):
            out[i] = f"{verb[0]} it {out[i]}"
    return out


def _without_label(text: str, vocabulary: Collection[str]) -> str:
    """The request without a leading label that asks for nothing ("For my finance homework:
    raise 1.05 to the 10th power", "Two quick ones: ..."): a colon after words that hold no
    instruction, before words that do, is punctuation, not the start of a value."""
    read = scan(text)
    if read.colon is None:
        return text
    label = text[: read.colon[0]].rstrip().rstrip(":")
    rest = text[read.colon[0] :]

    def instructs(part: str) -> bool:
        return any(_instructs(w, vocabulary) for w in _WORD.findall(part.lower()))

    return rest if instructs(rest) and not instructs(label) else text


def _modifier(piece: str) -> bool:
    """A participle that says how, not what: "..., *counting the space*", "..., *including
    spaces*" (no value of its own and no word for an earlier result), which belongs to the
    part before it."""
    words = _WORD.findall(piece.lower())
    return (
        bool(words)
        and words[0].endswith("ing")
        and not any(is_value(t) for t in scan(piece).tokens)
        and not _REFERENCE.search(piece)
    )


def _merge_framing(steps: list[tuple[str, bool, bool]]) -> list[tuple[str, bool, bool]]:
    """A part of nothing but framing ("Could you", from "Could you also provide ...") is no
    step: it joins the part after it (and is joined as that framing was)."""
    out: list[tuple[str, bool, bool]] = []
    carry = ""
    carried_also = False
    for text, joined, also in steps:
        if not any(not is_neutral(w) for w in _WORD.findall(text.lower())) and not any(
            is_value(t) for t in scan(text).tokens
        ):
            carried_also = also if not carry else carried_also
            carry = f"{carry} {text}".strip()
            continue
        if carry:
            out.append((f"{carry} {text}", False, carried_also))
        else:
            out.append((text, joined, also))
        carry = ""
    if carry:
        if out:
            last, joined, also = out[-1]
            out[-1] = (f"{last} {carry}", joined, also)
        else:
            out.append((carry, False, False))
    return out


def _sentences(
    text: str, protected: list[tuple[int, int]], vocabulary: Collection[str]
) -> list[tuple[str, int]]:
    """Sentences that are instructions or questions, each with the statements around it
    (context such as "I spent 23.40 on groceries.") joined to it."""
    pieces = _split(text, _SENTENCE, protected)
    out: list[tuple[str, int]] = []
    pending: tuple[str, int] | None = None  # context waiting for its question
    for piece, at in pieces:
        if not piece.strip():
            continue
        if pending is not None:
            piece, at = text[pending[1] : at + len(piece)], pending[1]
            pending = None
            out.append((piece, at))
        elif not _starts_instruction(piece, vocabulary):
            if out:  # a statement after a question belongs to it
                last_at = out[-1][1]
                out[-1] = (text[last_at : at + len(piece)], last_at)
            else:
                pending = (piece, at)
        else:
            out.append((piece, at))
    if pending is not None:
        out.append(pending)
    return out or [(text, 0)]


def _borrow_tails(parts: list[str], joined: list[bool]) -> list[str]:
    """A part with no values, joined by "and" to one with values, shares its values: "the
    mean and the median of 3, 7, 8" -> "the mean of 3, 7, 8", "the median of 3, 7, 8"."""
    out = list(parts)
    for i in range(len(parts) - 2, -1, -1):
        if not joined[i + 1]:
            continue
        head, tail = scan(out[i]).tokens, scan(out[i + 1]).tokens
        if any(is_value(t) for t in head) or not any(is_value(t) for t in tail):
            continue
        first = next(j for j, t in enumerate(tail) if is_value(t))
        while (
            first > 0
            and tail[first - 1].kind == "word"
            and tail[first - 1].word
            in (SHAPE_WORDS | {"are", "is", "the", "these", "those", "between"})
        ):
            first -= 1
        out[i] = f"{out[i]} {out[i + 1][tail[first].start :]}"
    return out


_ASKS_HOW = frozenset({"how", "what", "whats", "what's", "which"})


def _ask_of_the_same(parts: list[str], joined: list[bool]) -> list[str]:
    """A question with no values of its own, joined by "and" to a question that has them,
    asks of the same values: "how many words are in 'a b c' *and how many characters*" ->
    "how many characters are in 'a b c'" (not the characters of the word count, 3). A part
    that points at the answer ("and how many digits does *it* have") is left to do so."""
    out = list(parts)
    for i in range(1, len(parts)):
        if not joined[i]:
            continue
        tail, head = scan(out[i]).tokens, scan(out[i - 1]).tokens
        if any(is_value(t) for t in tail) or _REFERENCE.search(out[i]):
            continue
        if not _asks(tail) or not _asks(head) or not any(is_value(t) for t in head):
            continue
        value = next(j for j, t in enumerate(head) if is_value(t))
        first = value
        while (
            first > 0
            and head[first - 1].kind == "word"
            and head[first - 1].word in (SHAPE_WORDS | _COPULAS | {"the", "these", "those"})
        ):
            first -= 1
        if first == 0 or not any(head[k].word in SHAPE_WORDS for k in range(first, value)):
            continue  # "what is *5 plus 3*": operands of its own question, not what it is of
        out[i] = f"{out[i]} {out[i - 1][head[first].start :]}"
    return out


def _asks(tokens: Sequence[Token]) -> bool:
    return bool(tokens) and tokens[0].kind == "word" and tokens[0].word in _ASKS_HOW


def _participles(text: str, vocabulary: Collection[str]) -> list[tuple[str, int]]:
    """``text`` split before an instruction's participle that follows a value and leads to
    its own, or ends the request ("15% of 80 *rounded* to the nearest whole number", "72 F
    to C *rounded*": round what came before); operators ("multiplied by") are no new step.
    Each piece with its offset."""
    known = _instruction_stems(frozenset(vocabulary))
    tokens = scan(text).tokens
    cuts: list[int] = []
    for t in tokens[1:]:
        before = tokens[t.index - 1]
        after = tokens[t.index + 1] if t.index + 1 < len(tokens) else None
        if (
            t.kind == "word"
            and t.word.endswith("ed")
            and t.word not in OPERATORS
            and stem(t.word) in known
            and (is_value(before) or converted_to(tokens, t.index))
            and (
                after is None  # "... to C *rounded*": the last word, on what came before
                or (after.kind == "word" and after.word in {"to", "into", "in", "as"})
            )
            and operates(tokens[: t.index])
        ):
            cuts.append(t.start)
    pieces: list[tuple[str, int]] = []
    start = 0
    for cut in cuts:
        pieces.append((text[start:cut].rstrip(), start))
        start = cut
    pieces.append((text[start:], start))
    return pieces


def _protected(read: Scan) -> list[tuple[int, int]]:
    """Character spans never split: quoted text, JSON, the text after a colon, and values
    written with commas (1,000; March 1, 2024)."""
    spans = [
        (t.start, t.end)
        for t in read.tokens
        if t.kind in {"quoted", "json", "array"}
        or (t.kind in {"number", "date"} and "," in read.text[t.start : t.end])
    ]
    if read.colon is not None:
        spans.append(read.colon)
    return spans


def _split(
    text: str, separator: re.Pattern[str], protected: Iterable[tuple[int, int]]
) -> list[tuple[str, int]]:
    """``text`` split at the separator's matches outside the protected spans, each piece
    with its offset in ``text``."""
    spans = list(protected)
    pieces: list[tuple[str, int]] = []
    start = 0
    for m in separator.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in spans):
            continue
        pieces.append((text[start : m.start()], start))
        start = m.end()
    pieces.append((text[start:], start))
    return pieces


def _split_keeping(
    text: str, separator: re.Pattern[str], protected: Iterable[tuple[int, int]]
) -> list[tuple[str, str]]:
    """``text`` split at the separator's matches outside the protected spans: the first
    piece with an empty separator, then each piece with the separator before it."""
    spans = list(protected)
    out: list[tuple[str, str]] = []
    start = 0
    before = ""
    for m in separator.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in spans):
            continue
        out.append((before, text[start : m.start()]))
        before = m.group(0)
        start = m.end()
    out.append((before, text[start:]))
    return [(sep, piece) for sep, piece in out]


def _last_of_a_list(current: str, piece: str) -> bool:
    """Whether ``piece`` is a percentage, or a count and its unit, after a text that ends
    with a number: the last item of a list ("the mean of 80, 90 and 100 percent"), not an
    instruction of its own because its unit is a word of a tool's name ("percent")."""
    tail = scan(piece).tokens
    head = scan(current).tokens
    if not head or head[-1].kind != "number":
        return False
    if len(tail) == 1:
        return tail[0].kind == "number" and tail[0].percent
    return len(tail) == 2 and _count_and_unit(*tail)


def _one_quantity(head: Sequence[Token], tail: Sequence[Token]) -> bool:
    """Whether ``tail`` is a count of another unit after a count of one that ends ``head``:
    one quantity written in two units ("2 feet and 3 inches", "1 hour and 30 minutes"), not
    a second value to do the same to."""
    return (
        len(tail) == 2
        and len(head) >= 2
        and _count_and_unit(*tail)
        and _count_and_unit(*head[-2:])
        and tail[1].word != head[-1].word
    )


def _count_and_unit(count: Token, unit: Token) -> bool:
    """A number that is no percentage, then a word: "3 inches", "100 apples"."""
    return count.kind == "number" and not count.percent and unit.kind == "word"


def _repeats(before: str, after: str, vocabulary: Collection[str]) -> str | None:
    """``after`` as a step of its own when it has the shape of the end of ``before`` (values
    and the little words between them) and ``before`` is an instruction: it applies to
    ``after`` too. "Convert 10 km to miles" + "30 C to F" -> "Convert 30 C to F"."""
    if not _starts_instruction(before, vocabulary) or _REFERENCE.search(after):
        return None  # "... and double *it*": on the answer, not a second one of the same
    tail = scan(after).tokens
    if len(tail) < 2 or not any(is_value(t) for t in tail):
        return None
    if all(is_value(t) for t in tail):
        return None  # "3 and 4": a list, not a second instruction
    head = scan(before).tokens
    if len(head) <= len(tail):
        return None
    if _one_quantity(head, tail):
        return None
    elided = with_values_of(before, head, after, tail)
    if elided is not None:
        return elided
    if shape(head[-len(tail) :]) != shape(tail) or _starts_instruction(after, vocabulary):
        return None  # not the same shape, or an instruction of its own ("*multiply* 4 and 5")
    lead = before[: head[-len(tail)].start].rstrip()
    return f"{lead} {after}" if lead else None
