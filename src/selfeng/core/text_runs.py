"""What a run of unquoted words is, as the free-text reader (:mod:`selfeng.core.free_text`)
asks before taking it as a text value: two values joined ("*both* hello *and* world"), a
thing pointed at elsewhere ("this file"), a list of numbers, a title, or a phrase after an
article ("the *quick brown fox*") rather than a word pointing at a value ("the *word*
banana").
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from selfeng.core.language import (
    ARTICLES,
    CONJUNCTIONS,
    DETERMINERS,
    FUNCTION_WORDS,
    OUTPUT_VERBS,
    POINTING_STEMS,
    POSSESSIVES,
    PREPOSITIONS,
    PRONOUNS,
    REFERENCE_STEMS,
    is_neutral,
    stem,
)
from selfeng.core.scanning import Token

CORRELATIVES = frozenset({"both", "either", "neither"})


def two_values(run: list[Token], link: Token | None) -> bool:
    """Whether a run of words joins two values, each for the tool on its own: "reverse *both
    hello and world*", "characters in *hello and in world*" (the link that led to the first
    is said again after the conjunction). Taken as one text, the answer would be for neither."""
    words = [t for t in run if t.kind == "word"]
    if run[0].word in CORRELATIVES and any(t.word in CONJUNCTIONS for t in words[1:]):
        return True
    if link is None or link.kind != "word" or link.word not in PREPOSITIONS:
        return False
    return any(
        a.kind == "word" and a.word in CONJUNCTIONS and b.kind == "word" and b.word == link.word
        for a, b in pairwise(run)
    )


DEMONSTRATIVES = frozenset({"this", "that", "these", "those"})


def pointed_at(run: list[Token]) -> bool:
    """Whether a short run of words ends by pointing at a thing the request does not give
    ("uppercase *this file*", "reverse *the order of these steps*", "reverse image search
    *this photo*", "reverse the charges on *my card*"): a photo, a file, steps or a card
    elsewhere, not a text. A sentence that says something of it ("*I* love this song") has
    a subject pronoun, and is a text."""
    words = [t for t in run if t.kind == "word"]
    return (
        len(words) == len(run)
        and 2 <= len(words) <= 6
        and (words[-2].word in DEMONSTRATIVES or words[-2].word in POSSESSIVES)
        and not any(t.word in PRONOUNS and t.word not in POSSESSIVES for t in words)
    )


def number_list(run: Sequence[Token]) -> bool:
    """Several numbers and nothing else ("10, 20 and 30"): a list of values, not a text. Its
    characters reversed or counted would answer a question nobody asked ("reverse the list
    10, 20, 30" is not "03 ,02 ,01"); a text of digits is quoted or one number."""
    numbers = [t for t in run if t.kind == "number"]
    return len(numbers) >= 2 and all(
        t.kind == "number" or (t.kind == "word" and t.word in CONJUNCTIONS) for t in run
    )


def titled(run: list[Token], tokens: Sequence[Token]) -> bool:
    """Whether a run of words is written as a title (two or more capitalised words, small
    words aside) in a request that is otherwise written in lower case."""
    words = [t for t in run if t.kind == "word"]
    capitalised = [t for t in words if t.text[:1].isupper() and not t.text.isupper()]
    small = all(t in capitalised or t.word in FUNCTION_WORDS for t in words)
    inside = {t.index for t in run}
    lower_elsewhere = any(
        t.kind == "word" and t.index not in inside and t.index > 0 and t.text[:1].islower()
        for t in tokens
    )
    return len(capitalised) >= 2 and small and lower_elsewhere


def points(token: Token) -> bool:
    """A word that points at a value rather than being one ("the *word* banana", "the
    *result*")."""
    return token.kind == "word" and (
        stem(token.word) in POINTING_STEMS or stem(token.word) in REFERENCE_STEMS
    )


def modifiers(rest: Sequence[Token]) -> int:
    """How many words of asking lead ``rest`` as modifiers ("the *quick* brown fox", "the
    *given* text hello", "a *simple* plan"): words that frame a request elsewhere ("a quick
    question") but neither point at a value nor say how to give it."""
    i = 0
    while (
        i < min(len(rest), 2)
        and rest[i].kind == "word"
        and is_neutral(rest[i].word)
        and rest[i].word not in OUTPUT_VERBS | ARTICLES | DETERMINERS
        and not points(rest[i])
    ):
        i += 1
    return i


def phrase_follows(rest: Sequence[Token]) -> bool:
    """Whether the words after an article are a phrase of content, perhaps after modifiers:
    "the *big apple*", "the *quick brown fox*", "a *b c*", "the *3 little pigs*". The article
    begins the value then, and frames nothing; not "the exact number of", "the given word
    hello", which point at a value."""
    i = modifiers(rest)
    if i >= len(rest):
        return False
    word = rest[i]
    if word.kind == "number":
        return True
    return word.kind == "word" and not is_neutral(word.word) and not points(word)


def points_past_modifiers(rest: Sequence[Token]) -> int:
    """How many modifiers stand between an article and a word that points at a value ("the
    *simple* text abc"), or -1 when no such word follows."""
    i = modifiers(rest)
    return i if i < len(rest) and points(rest[i]) else -1
