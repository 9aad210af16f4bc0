"""What a tool says about itself: the words that name what it does, and its parameters' roles.

A tool's *wording* is read from its spec: the words of its name and description (what it
does), of its parameters (what it takes), and of the phrasings users confirmed it answers.
The evidence check asks whether a request's words are accounted for by a tool's wording and
its arguments; the argument extractor reads the *roles* of its parameters from the
description ("Subtract b from a": the number after "from" is ``a``).

Everything is read through the light stemmer (``selfeng.core.language.stem``), so
"reversed" matches "reverse" but "capital" does not match "capitalize".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from selfeng.core.abbreviations import Abbreviations
from selfeng.core.language import (
    ARTICLES,
    NEUTRAL,
    NEUTRAL_STEMS,
    OPERATORS,
    OUTPUT_STEMS,
    POINTING_STEMS,
    camel_words,
    is_plural,
    stem,
    words,
)


@dataclass(frozen=True)
class Roles:
    """The words next to a parameter where its tool's description names it."""

    before: frozenset[str] = frozenset()
    """Stems of the words right before it ("from" in "subtract b from a", for ``a``)."""
    after: frozenset[str] = frozenset()
    """Stems of the words right after it ("minus" in "a minus b", for ``a``)."""
    own: frozenset[str] = frozenset()
    """Stems of its own name and description ("decimal", "place" for ``digits``)."""
    before_words: frozenset[str] = frozenset()
    """The words right before it, as written (stemming makes "off" of "of")."""


@dataclass(frozen=True)
class ToolWording:
    """A tool's words: what it does, what it takes, and the roles of its parameters."""

    name: str
    """The tool's name."""
    does: frozenset[str]
    """Stems that say what it does: its name, its description, and the phrasings users
    confirmed it answers. A request must use at least one of them (beyond its arguments)."""
    takes: frozenset[str]
    """Stems of its parameters' names and descriptions: they account for words ("2 decimal
    *places*") but never show on their own that the tool is wanted."""
    roles: Mapping[str, Roles] = field(default_factory=dict)
    """Each parameter's roles."""
    defined: frozenset[str] = frozenset()
    """The stems of ``does`` that its name and description give (no learnt phrasing)."""
    joined: frozenset[str] = frozenset()
    """Compounds its wording writes apart or together ("upper case" / "uppercase"), joined."""
    spelled: Abbreviations | None = None
    """Its name's and description's words as written, for the short words people type
    ("avg", "std dev")."""
    scoped: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Stems of the words its description gives a scope ("capitalize *every letter*"), with
    the stems of what they are scoped to: a request asks for them only with a scope of its
    own ("capitalize 'new york'" may mean only the first letters)."""
    bound: Mapping[str, str] = field(default_factory=dict)
    """Stems of its name's words that its name and description never write alone, each with
    the stem that always follows it ("standard" -> "deviation"): followed in a request by
    another noun, such a word names another thing ("standard *error*")."""

    def names(self, word_stem: str) -> bool:
        """Whether a stem says what the tool does."""
        return word_stem in self.does

    def accounts(self, word_stem: str) -> bool:
        """Whether a stem is part of the tool's wording at all."""
        return word_stem in self.does or word_stem in self.takes

    def says(self, written: str) -> bool:
        """Whether its name or description has this very word (no stem, no short form)."""
        return self.spelled is not None and written.lower() in self.spelled.known

    def described(self, written: str) -> bool:
        """Whether a word (or a short form of one) is in the tool's name or description as
        written: its own wording, not what confirmed phrasings added."""
        if self.spelled is None:
            return False
        return written.lower() in self.spelled.known or bool(self.spelled.readings(written))

    def matches(self, written: str) -> tuple[bool, bool]:
        """(names what it does, is part of its wording) for a word as written, hyphenated
        and compound forms included ("upper-case" matches "uppercase" and "upper case")."""
        s = stem(written)
        if self.names(s):
            return True, True
        if "-" in written:
            parts = [stem(p) for p in written.split("-") if p]
            joined = stem(written.replace("-", ""))
            if self.names(joined) or joined in self.joined:
                return True, True
            if parts and all(self.names(p) or p in NEUTRAL_STEMS for p in parts):
                return any(self.names(p) for p in parts), True
        if s in self.joined:
            return True, True
        if self.spelled is not None:
            readings = self.spelled.readings(written)
            if readings:
                return any(self.names(stem(r)) for r in readings), True
        return False, self.accounts(s)


_LIGHT_VERBS = frozenset(stem(w) for w in ("take", "took", "get", "got", "do", "go", "have"))
"""Verbs that carry an operation named by the noun after them ("*take* the square root")."""
_NOT_LEARNT = POINTING_STEMS | OUTPUT_STEMS | _LIGHT_VERBS
"""Words a confirmed phrasing does not teach as its tool's: those pointing at a value ("the
*word* {text}"), those asking for the answer's form ("*write* {text} backwards") and light
verbs ("*take* the square root of {x}" taught square_root "take", and "how long does it
*take* to walk 5 km" was answered with the square root of 5)."""


@lru_cache(maxsize=4096)
def _context_stems(phrase: str) -> frozenset[str]:
    """Stems of the words that gave a phrasing's values their context ("my *test scores*
    were {numbers}"), read as the request was, with its values in place, and the things a
    number counts ("add {a} to my {b} *apples*"): taught as the tool's, they made it the
    answer to any request about apples."""
    from selfeng.core.context_words import value_context  # it reads wordings: no cycle
    from selfeng.core.scanning import scan

    read = scan(re.sub(r"\{[^}]*\}", "7", phrase))
    taken = frozenset(t.index for t in read.tokens if t.kind == "number")
    tokens = read.tokens
    counted = {
        t.index
        for t in tokens[1:]
        if t.kind == "word"
        and t.index - 1 in taken
        and is_plural(t.word)
        and t.word not in OPERATORS
    }
    return frozenset(
        stem(tokens[i].word)
        for i in value_context(read, taken) | counted
        if tokens[i].kind == "word"
    )


def tool_wording(name: str, spec: Mapping[str, Any], confirmed: Iterable[str] = ()) -> ToolWording:
    """The wording of a tool from its spec (``ToolSpec`` as JSON) and confirmed phrasings."""
    description = str(spec.get("description", ""))
    parameters: Mapping[str, Any] = spec.get("parameters", {}) or {}
    properties: Mapping[str, Any] = parameters.get("properties", {}) or {}
    does: set[str] = set()
    for part in camel_words(name):
        does.add(stem(part))
    does.update(stem(w) for w in words(_without_examples(description)) if len(w) > 1)
    defined = set(does)
    for phrase in confirmed:
        # what a phrasing points at its value with ("the *word* {text}"), how it asks for
        # the answer ("*write* {text} backwards") or what its values were ("*my test scores*
        # were {numbers}") is not what the tool does
        said = {stem(w) for w in words(re.sub(r"\{[^}]*\}", " ", phrase))}
        does.update(said - _NOT_LEARNT - _context_stems(phrase))
    takes: set[str] = set()
    for param, schema in properties.items():
        takes.update(stem(w) for w in camel_words(param))
        if isinstance(schema, Mapping):
            described = _without_examples(str(schema.get("description", "")))
            takes.update(stem(w) for w in words(described))
    options = _options(properties)
    takes |= options
    does -= NEUTRAL_STEMS
    # a parameter's name in the description is a role ("base to the power of exponent"),
    # not what the tool does, unless the tool's own name says it; nor is one of the values
    # a parameter chooses from ("as a *sample*": "sample variance" asks for no spread)
    named = {stem(w) for w in camel_words(name)}
    does -= {stem(p) for p in properties if stem(p) not in named}
    does -= options - named
    takes -= NEUTRAL_STEMS
    return ToolWording(
        name=name,
        does=frozenset(does),
        takes=frozenset(takes - does),
        roles={p: _roles(p, s, description) for p, s in properties.items()},
        defined=frozenset(does & defined),
        joined=frozenset(_compounds(description) | _compounds(" ".join(camel_words(name)))),
        spelled=Abbreviations([*camel_words(name), *words(_without_examples(description))]),
        scoped=_scoped(_without_examples(description)),
        bound=_bound(name, _without_examples(description)),
    )


def _options(properties: Mapping[str, Any]) -> set[str]:
    """The stems of the words of the options its enum parameters choose from."""
    return {
        stem(w)
        for schema in properties.values()
        if isinstance(schema, Mapping)
        for option in schema.get("enum", []) or []
        if isinstance(option, str)
        for w in words(option)
    }


def _clauses(description: str) -> list[str]:
    """A description's parts between punctuation: a role or a scope never spans two."""
    return re.split(r"[:;,.()\[\]]", description)


def _bound(name: str, description: str) -> dict[str, str]:
    """Each word of a tool's name that is always followed by the name's next word wherever
    the name and description write it, within a clause ("standard deviation"), with that
    word's stem. Neutral words are never bound, nor bind ("largest *number*")."""
    parts = [stem(w) for w in camel_words(name)]
    clauses = [[stem(w) for w in words(c)] for c in _clauses(description)]
    out: dict[str, str] = {}
    for first, second in itertools.pairwise(parts):
        if first == second or first in NEUTRAL_STEMS or second in NEUTRAL_STEMS:
            continue
        followers = {
            clause[i + 1] if i + 1 < len(clause) else None
            for clause in clauses
            for i, word in enumerate(clause)
            if word == first
        }
        if followers <= {second}:
            out[first] = second
    return out


QUANTIFIERS = frozenset({"every", "all", "everything", "entire", "whole"})
"""Words that give what is done a scope: all of it."""


def _scoped(description: str) -> dict[str, frozenset[str]]:
    """Word stem -> stems of its scope, for each word the description follows with "every"
    or "all" and a noun in the same clause ("capitalize every letter")."""
    out: dict[str, set[str]] = {}
    for segment in _clauses(description):
        ws = [w.lower() for w in words(segment)]
        for verb, quantifier, noun in zip(ws, ws[1:], ws[2:], strict=False):
            if quantifier in {"every", "all"} and verb not in NEUTRAL and noun not in NEUTRAL:
                out.setdefault(stem(verb), set()).add(stem(noun))
    return {k: frozenset(v) for k, v in out.items()}


_EXAMPLE = re.compile(r"\"[^\"]*\"|“[^”]*”|'[^'\s][^']*'|`[^`]*`")


def _without_examples(text: str) -> str:
    """A description without its quoted examples ("hello" becomes "olleh"): they are values,
    not what the tool does."""
    return _EXAMPLE.sub(" ", text)


def _compounds(text: str) -> set[str]:
    """Adjacent word pairs written together ("upper case" -> "uppercase")."""
    ws = [w.lower() for w in words(text)]
    return {stem(a + b) for a, b in itertools.pairwise(ws)}


def _roles(param: str, schema: Any, description: str) -> Roles:
    own: set[str] = {stem(w) for w in camel_words(param)}
    if isinstance(schema, Mapping):
        own.update(stem(w) for w in words(str(schema.get("description", ""))))
    own -= NEUTRAL_STEMS
    before: set[str] = set()
    after: set[str] = set()
    written: set[str] = set()
    name = param.lower()
    for segment in _clauses(description):  # no role across punctuation
        _neighbours_of(name, [w.lower() for w in words(segment)], before, after, written)
    return Roles(
        before=frozenset(before),
        after=frozenset(after),
        own=frozenset(own),
        before_words=frozenset(written),
    )


def _neighbours_of(
    name: str, tokens: list[str], before: set[str], after: set[str], written: set[str]
) -> None:
    for i, token in enumerate(tokens):
        if token != name:
            continue
        j = i - 1
        while j >= 0 and tokens[j] in ARTICLES and tokens[j] != name:
            j -= 1
        if j >= 0:
            before.add(stem(tokens[j]))
            written.add(tokens[j])
        k = i + 1
        while k < len(tokens) and tokens[k] in ARTICLES and tokens[k] != name:
            k += 1
        if k < len(tokens):
            after.add(comparative(tokens[k], tokens[k + 1] if k + 1 < len(tokens) else ""))


def comparative(word: str, following: str) -> str:
    """A word's stem as a role, with "than" when it follows: "b *less than* a" is another
    relation than "a *less* b" (a comparison names its operands the other way round)."""
    return f"{stem(word)} than" if following.lower() == "than" else stem(word)


def name_phrase(name: str) -> tuple[str, ...]:
    """The stems of a tool's name that say what it does ("percentage change", "standard
    deviation", "lowercase"; less the neutral words and those pointing at a value, as in
    ``percent_of`` or ``count_words``): said as the name says them, they ask for that tool."""
    return tuple(
        s for s in (stem(w) for w in camel_words(name)) if s not in NEUTRAL_STEMS | POINTING_STEMS
    )


def generic_stems(
    wordings: Iterable[ToolWording], *, share: float = 0.12, floor: int = 4
) -> frozenset[str]:
    """Stems in the "does" wording of more than ``max(floor, share * tools)`` tools: too
    common ("number", "text") to show which tool a request wants. A family of four tools
    still names its kind ("percent": ``percent_of``, ``percent_ratio``,
    ``percentage_change`` and ``evaluate_expression``'s percentages); a generic stem also
    stops marking a request as another tool's (``Wordings.foreign``)."""
    counts: dict[str, int] = {}
    total = 0
    for wording in wordings:
        total += 1
        for s in wording.does:
            counts[s] = counts.get(s, 0) + 1
    limit = max(floor, int(share * total))
    return frozenset(s for s, n in counts.items() if n > limit)
