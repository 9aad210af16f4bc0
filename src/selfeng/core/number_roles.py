"""Numbers by role: the words around each number in a request are matched against the words
around each parameter in the tool's own description ("Subtract 19 from 100" gives ``a=100``
because the description says "Subtract b from a"); what no role decides goes by order,
except a number a preposition ties to the tool by another relation than the description's.
Prepositions are compared as written (stemming makes "off" of "of")."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from selfeng.core.hinted_values import wants_percent
from selfeng.core.language import ARTICLES, PREPOSITIONS, camel_words, stem
from selfeng.core.scanning import Token
from selfeng.core.token_pool import TokenPool
from selfeng.core.value_readers import numeric
from selfeng.core.values import type_of
from selfeng.core.wording import Roles, ToolWording, comparative

_EXPONENT_WORDS = frozenset({"squared", "cubed", "power"})  # "power": "to the 8th"
_NAMED_QUANTITIES = frozenset({"hundred", "thousand", "million", "billion", "nearest"})
_EXPONENT_STEMS = frozenset({stem("exponent"), stem("power")})


def _neighbours(tokens: Sequence[Token], token: Token, at: int) -> tuple[str, str, bool]:
    """Stems of the words right before and after a value (articles skipped; a symbol reads
    as its word), and whether the one after is a word rather than a symbol."""
    before = ""
    after = ""
    worded = False
    i = (token.index if token.index >= 0 else _index_at(tokens, at)) - 1
    while i >= 0 and tokens[i].kind == "word" and tokens[i].word in ARTICLES:
        i -= 1
    if i >= 0 and tokens[i].kind in {"word", "symbol"}:
        before = stem(tokens[i].word)
    j = token.index + 1 if token.index >= 0 else _index_at(tokens, at)
    while j < len(tokens) and tokens[j].kind == "word" and tokens[j].word in ARTICLES:
        j += 1
    if 0 <= j < len(tokens) and tokens[j].kind in {"word", "symbol"}:
        following = tokens[j + 1].word if j + 1 < len(tokens) else ""
        after = comparative(tokens[j].word, following)
        # a word naming it ("2 *decimal* places"), not one between two values ("10 *power*
        # 3", where it is the operation)
        worded = tokens[j].kind == "word" and not (
            j + 1 < len(tokens) and tokens[j + 1].kind == "number"
        )
    return before, after, worded


def _other_preposition(tokens: Sequence[Token], token: Token, role: Roles) -> bool:
    """Whether the preposition before a value is another than the one its stem matched
    ("30% *off* 200" is not "of"): prepositions are compared as written."""
    word = _link(tokens, token)
    return bool(word) and bool(role.before_words) and word not in role.before_words


def _word_before(tokens: Sequence[Token], token: Token) -> int:
    """The index of the token right before a value of the request, articles skipped (-1:
    none, or the value is not one of the request's tokens)."""
    if token.index < 0:
        return -1
    i = token.index - 1
    while i >= 0 and tokens[i].kind == "word" and tokens[i].word in ARTICLES:
        i -= 1
    return i


def _index_at(tokens: Sequence[Token], at: int) -> int:
    for t in tokens:
        if t.start >= at:
            return t.index
    return len(tokens)


def numbers_by_role(
    pending: Mapping[str, dict[str, Any]], pool: TokenPool, wording: ToolWording | None
) -> list[tuple[str, Token]]:
    """The pending numeric parameters' numbers, each with the token it takes."""
    params = [
        n
        for n, s in pending.items()
        if type_of(s) in {"number", "integer"} and not wants_percent(n, s)
    ]
    if not params:
        return []
    numbers = [t for t in pool.tokens("number") if not t.percent]
    if pool.previous is not None and pool.previous.kind == "number" and pool.free_previous():
        numbers.append(pool.previous)
        numbers.sort(key=lambda t: t.start if t.index >= 0 else pool.previous_at)
    if not numbers:
        return []
    roles = wording.roles if wording is not None else {}
    tokens = pool.scan.tokens
    # prepositions as written: stemming makes "off" of "of"
    role_links = {b for p in params for b in roles.get(p, Roles()).before_words} & PREPOSITIONS
    numbers = _within_the_relation(tokens, numbers, role_links)

    def score(param: str, token: Token) -> float:
        if type_of(pending[param]) == "integer" and not token.integer:
            return -math.inf
        role = roles.get(param, Roles())
        before, after, worded = _neighbours(tokens, token, pool.previous_at)
        s = 0.0
        if token.word in _EXPONENT_WORDS:
            # "5 squared", "square it": the power a word names goes to the exponent
            return 3.0 if role.own & _EXPONENT_STEMS else -math.inf
        if token.word in _NAMED_QUANTITIES:
            return -math.inf  # "the nearest hundred", "the nearest ten": no count of places
        if before and before in role.before and not _other_preposition(tokens, token, role):
            s += 1.0
        if after and after in role.after:
            s += 1.0
        if after and worded and after in role.own:
            s += 1.0  # "2 decimal places" (a word naming the parameter; "2 ^ 3" is no name)
        if before and before in role.own and before not in {"number"}:
            s += 0.5
        return s

    pairs = sorted(
        (
            (-score(p, t), pi, ti, p, t)
            for pi, p in enumerate(params)
            for ti, t in enumerate(numbers)
        ),
        key=lambda x: (x[0], x[1], x[2]),
    )
    assigned: dict[str, Token] = {}
    used: set[int] = set()
    for negative, _, ti, p, t in pairs:
        if negative >= 0 or p in assigned or ti in used:
            continue
        assigned[p] = t
        used.add(ti)
    # the tool's name, not its learnt phrasings: what a relation is tied to must not change
    # as phrasings are confirmed
    named = {stem(w) for w in camel_words(wording.name)} if wording is not None else set()
    plain = {t.index for t in numbers}

    def clashes(param: str, token: Token) -> bool:
        """Whether a number's preposition ties it to the tool's own word (or to another
        value) by another relation than the one the tool's description marks the parameter
        with: "what percentage *of* 80 is 20" is not the change *from* an old value ("my
        bill came *to* $64.50" ties the number to the bill, not to the tool's name)."""
        marks = roles.get(param, Roles()).before_words & PREPOSITIONS
        i = _word_before(tokens, token)
        if not marks or i < 1 or tokens[i].kind != "word":
            return False
        link = tokens[i].word
        if link not in PREPOSITIONS or link in role_links:
            return False
        head = tokens[i - 1]
        if head.kind == "word" and head.word == "out" and i >= 2:
            head = tokens[i - 2]  # "45 *out of* 60": a part of a whole, not a change to it
        if head.kind == "number" or (
            head.kind in {"word", "symbol"} and _names(stem(head.word), named)
        ):
            return True  # a symbol as its word: "what *%* of 200"
        # another of these values a word or two before, which the preposition ties this one
        # to: "did 80 rise *to* 100" gives no whole *of* which 80 is a part ("my bill came
        # *to* $64.50" ties it to no value, "a 15% tip *on* 64.50" to a percentage)
        before = tokens[max(0, i - 3) : i]
        return any(
            t.index in plain and all(u.kind == "word" for u in before[k + 1 :])
            for k, t in enumerate(before)
        )

    rest = [t for ti, t in enumerate(numbers) if ti not in used]
    difference = _a_difference(tokens, rest)
    if difference and numeric(rest[0].value) < numeric(rest[1].value):
        rest.reverse()  # the larger first: a difference as people ask for it is not negative
    # with nothing placed by a role, two or more values in the order written are a guess
    # for a later parameter the description makes the whole *of* which an earlier one is a
    # part, when the request never says "of": "if 80 becomes 100, what percent is that"
    # names no whole (a change's "from" and "to", a divisor's "by", go by the order people
    # write them in; the first parameter's "of" belongs to the tool's own phrase, "the sum
    # *of* a and b")
    guessed = (
        not assigned
        and len(rest) > 1
        and not any(t.word for t in rest)  # "*halve* 90": a multiple says its own role
        and not difference
    )
    says_of = any(t.kind == "word" and t.word == "of" for t in tokens)
    for p in params:
        if p in assigned or not rest:
            continue
        of_a_whole = p != params[0] and "of" in roles.get(p, Roles()).before_words
        if guessed and of_a_whole and not says_of:
            continue
        candidates = [
            t
            for t in rest
            if (type_of(pending[p]) != "integer" or t.integer)
            and score(p, t) > -math.inf
            and not clashes(p, t)
        ]
        if not candidates:
            continue
        assigned[p] = candidates[0]
        rest.remove(candidates[0])
    return [(p, assigned[p]) for p in params if p in assigned]


def _link(tokens: Sequence[Token], token: Token) -> str:
    """The preposition right before a value (articles skipped), or ""."""
    i = _word_before(tokens, token)
    if i < 0 or tokens[i].kind != "word" or tokens[i].word not in PREPOSITIONS:
        return ""
    return tokens[i].word


def _within_the_relation(
    tokens: Sequence[Token], numbers: list[Token], role_links: set[str]
) -> list[Token]:
    """The values, less those tied by a preposition the tool's description marks no
    parameter with, when another is tied by one it marks: "the percentage *of* 30 *in* 120"
    relates 120 in a way a tool that takes a part *of* a whole does not say (it is the whole
    here, and 30 the part); left out, the tool lacks a value and says so, not a guess."""
    if not role_links or len(numbers) < 2:
        return numbers
    links = [_link(tokens, t) for t in numbers]
    if not any(link in role_links for link in links):
        return numbers
    return [t for t, link in zip(numbers, links, strict=True) if not link or link in role_links]


def _a_difference(tokens: Sequence[Token], rest: list[Token]) -> bool:
    """Whether the two values left to go by order are "the *difference between* 3.5 and 10"
    (or "*of* 3 and 10"): the distance between them, whose order "between" does not give."""
    if len(rest) != 2 or any(t.index < 2 for t in rest):
        return False
    first, second = rest
    lead = [tokens[first.index - 2].word, tokens[first.index - 1].word]
    linked = second.index == first.index + 2 and tokens[first.index + 1].word == "and"
    return lead[0] == "difference" and lead[1] in {"between", "of"} and linked


def _names(word: str, named: set[str]) -> bool:
    """Whether a stem is one of the tool's name's, or the beginning of one ("*percent* of
    50" for percentage_change)."""
    return word in named or (len(word) >= 4 and any(n.startswith(word) for n in named))


# -- lists, booleans, enums ----------------------------------------------------------------
