"""Words that give a request's values their context: what a value is of ("12 *eggs*"),
what a sentence's subject or a short statement says it is ("*A marathon* is 26.2 miles",
"*Water freezes at* 32 F. What is that in C?"), the measure asked for ("how *long*"), when
("*this week*"), the asker's own things ("*my* test *scores*") and what the text after a
colon is ("*this tweet*: ..."). The evidence (``core.evidence``) sets them aside: they say
nothing about which tool is wanted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from selfeng.core.language import (
    COPULAS,
    DIMENSIONS,
    MULTIPLIERS,
    OPERATORS,
    PERIODS,
    POSSESSIVES,
    PREPOSITIONS,
    QUESTION_WORDS,
    REFERENCES,
    WHEN_WORDS,
    is_neutral,
    qualifies,
)
from selfeng.core.scanning import Scan, Token

if TYPE_CHECKING:  # the wording reads phrasings' context words: no import at run time
    from selfeng.core.wording import ToolWording

VALUE_KINDS = frozenset({"number", "date", "quoted", "json", "array"})
"""The kinds of token that are values a request gives."""
PUNCTUATION = re.compile(r"[.?!;:,]")
"""What ends a noun phrase: a sentence's or a clause's punctuation."""
LOOSE_OPERATORS = frozenset({"times", "over", "less", "plus", "minus"})
"""Operator words that are also everyday words ("many times", "over the weekend")."""
_POINTERS = frozenset({"this", "that", "these", "those", "the"})


def value_context(read: Scan, taken: frozenset[int]) -> frozenset[int]:
    """The context words that need no tool to tell: the asker's own things ("*my test
    scores*"), when, what a colon's text is, and numbers counting values. (What a value is
    of, "the *total* of 4, 5", can also be what is asked: a tool tells.)"""
    return (_possessed(read) | _colon_label(read) | _when(read) | read.value_counts) - taken


def context_words(
    read: Scan,
    taken: frozenset[int],
    counted: frozenset[int],
    wording: ToolWording,
    gives: str,
) -> frozenset[int]:
    """Indexes of the tokens that give the values their context, for a tool that took the
    tokens ``taken`` and gives ``gives`` (a JSON Schema type); never a word counted."""
    words = (
        _labels(read, taken)
        | _subjects(read, taken)
        | _scene(read, taken, wording)
        | (_measures(read, taken | counted) if gives in {"number", "integer"} else frozenset())
        | _possessed(read)
        | _colon_label(read)
        | _when(read)
        | read.value_counts
        | _counted_things(read)
    )
    return words - counted - taken


def _labels(read: Scan, taken: frozenset[int]) -> frozenset[int]:
    """Words that say what a value the tool takes is of: a word right after a number ("12
    eggs", "5.2 km"; past a comma only before a number of its own: "rent 1,450, *electricity*
    92", not "555-1234, *reverse* it") or right before a value, a preposition or colon
    between at most ("score among 88, 92", "sales: 120, 135")."""
    tokens = read.tokens
    out: set[int] = set()
    for t in tokens:
        if t.index not in taken or t.kind not in {"number", "array"}:
            continue
        nxt = tokens[t.index + 1] if t.index + 1 < len(tokens) else None
        if (
            t.kind == "number"
            and nxt is not None
            and _label_word(nxt)
            and not _acts(nxt, tokens)
            and (not read.text[t.end : nxt.start].strip() or _labels_next(nxt, tokens, taken))
        ):
            out.add(nxt.index)
        j = t.index - 1
        linked = j >= 0 and tokens[j].kind == "word" and tokens[j].word in _LABEL_LINKS
        if linked:
            j -= 1
        if j == 0 and not linked and ":" not in read.text[tokens[0].end : t.start]:
            continue  # "*Increase* 80 by 25%": the request's first word, then its value, is
            # the instruction, not what the value is of
        if j >= 0 and j not in taken and _label_word(tokens[j]) and _starts_values(tokens, j):
            out.add(j)
    return frozenset(out)


_LABEL_LINKS = frozenset({"among", "of", "in", "from", "between", "for"})


def _labels_next(token: Token, tokens: Sequence[Token], taken: frozenset[int]) -> bool:
    """Whether a word stands right before a number the tool takes ("*electricity* 92")."""
    k = token.index + 1
    return k < len(tokens) and k in taken and tokens[k].kind == "number"


def _counted_things(read: Scan) -> frozenset[int]:
    """The plural noun after a number that counts the values ("my three *kids* are 4, 7 and
    12"): what the values are of."""
    tokens = read.tokens
    return frozenset(
        i + 1
        for i in read.value_counts
        if i + 1 < len(tokens) and tokens[i + 1].kind == "word" and _label_word(tokens[i + 1])
    )


def _subjects(read: Scan, taken: frozenset[int]) -> frozenset[int]:
    """The words of a sentence's subject when what it *is* is a value the tool takes ("*A
    marathon* is 26.2 miles.", "*The room* is 12 feet wide."): they name the value, as "12
    *eggs*" does. Only a whole short subject from the sentence's start, of a sentence that
    gives that one value; a question ("*How long* is 5 km") has none, and a comparison
    ("Sales *are* 1,150 this year versus 920 last year") says more than what one value is."""
    tokens = read.tokens
    out: set[int] = set()
    for t in tokens:
        if t.index not in taken or t.kind != "number" or t.index < 2:
            continue
        copula = tokens[t.index - 1]
        if copula.kind != "word" or copula.word not in COPULAS:
            continue
        if _values_in_sentence(read, t) > 1:
            continue
        subject: list[int] = []
        j = copula.index - 1
        while j >= 0 and len(subject) <= 4:
            word = tokens[j]
            if word.kind != "word" or word.index in taken or word.word in OPERATORS:
                break
            subject.append(j)
            if j == 0 or PUNCTUATION.search(read.text[tokens[j - 1].end : word.start]):
                first = tokens[j].word
                if first not in QUESTION_WORDS and first not in REFERENCES:
                    out.update(i for i in subject if _label_word(tokens[i]))
                break
            j -= 1
    return frozenset(out)


def _scene(read: Scan, taken: frozenset[int], wording: ToolWording) -> frozenset[int]:
    """The words of a short statement that gives the one measurement a later question points
    back at ("*Water freezes at* 32 F. What is that in C?"): they set the scene for the
    value, as a label does. Not when the statement is an instruction (its first word says
    what the tool does), gives more than one value or a text, or is longer than a
    measurement's description ("As part of my project, I need to gather files that have
    'test' in their name. Could you help me locate those?" asks for something)."""
    tokens = read.tokens
    if not tokens or not any(t.kind == "word" and t.word in REFERENCES for t in tokens):
        return frozenset()
    sentences = read.sentences
    if len(sentences) < 2 or not any(
        t.kind == "word" and t.word in REFERENCES for t in sentences[-1]
    ):
        return frozenset()
    out: set[int] = set()
    for sentence in sentences[:-1]:
        values = [t for t in sentence if t.kind in VALUE_KINDS]
        first = sentence[0]
        if len(values) != 1 or values[0].index not in taken or values[0].kind != "number":
            continue
        if len(sentence) > _SCENE_WORDS:
            continue  # a longer statement says more than what one measurement is
        if "?" in read.text[sentence[0].start : sentence[-1].end + 1]:
            continue  # a question, not a statement
        if first.kind == "word" and (
            first.word in QUESTION_WORDS or wording.matches(first.word)[0]
        ):
            continue
        out.update(t.index for t in sentence if t.index not in taken and _label_word(t))
    return frozenset(out)


_SCENE_WORDS = 6
"""Tokens a statement that only describes a measurement has at most ("Water boils at 212
F")."""


def _values_in_sentence(read: Scan, token: Token) -> int:
    """How many values the sentence holding ``token`` gives."""
    for sentence in read.sentences:
        if sentence[0].index <= token.index <= sentence[-1].index:
            return sum(1 for t in sentence if t.kind in VALUE_KINDS)
    return 0


def _measures(read: Scan, known: frozenset[int]) -> frozenset[int]:
    """Adjectives of measure that only say which quantity is meant, to a tool that gives a
    number: asked for ("how *long* is 5 km in miles") or after the measurement they qualify
    ("12 feet *wide*", "how many characters *long*"). ``known``: the values taken and the
    words counted."""
    tokens = read.tokens
    out: set[int] = set()
    for t in tokens:
        if t.kind != "word" or t.word not in DIMENSIONS or t.index == 0:
            continue
        before = tokens[t.index - 1]
        if (before.kind == "word" and before.word == "how") or before.index in known:
            out.add(t.index)
    return frozenset(out)


_PERIOD_LEADS = frozenset({"this", "last", "next", "every", "each", "per", "a"})


def _when(read: Scan) -> frozenset[int]:
    """Words that only say when ("*today*", "on *Monday*", "*this week*", "*last year*"):
    context of the values, not what to do with them. A period that is counted ("how many
    *weeks*") is what is asked, and is never one of them (the caller removes it)."""
    tokens = read.tokens
    out: set[int] = set()
    for t in tokens:
        if t.kind != "word":
            continue
        if t.word in WHEN_WORDS:
            out.add(t.index)
        elif t.word in PERIODS and t.index > 0:
            lead = tokens[t.index - 1]
            if lead.kind == "word" and lead.word in _PERIOD_LEADS:
                out.update({lead.index, t.index})
    return frozenset(out)


def _colon_label(read: Scan) -> frozenset[int]:
    """The words that say what the text after an instruction's colon is: the noun phrase
    that a pointer opens right before the colon ("the words in *this recipe step*: ...",
    "how many characters does *this tweet* have: ...")."""
    if read.colon is None:
        return frozenset()
    before = [t for t in read.tokens if t.end <= read.colon[0]]
    phrase: list[int] = []
    for t in reversed(before):
        if t.kind != "word":
            return frozenset()
        if t.word in _POINTERS:
            return frozenset(phrase)
        if is_neutral(t.word):
            if phrase:
                return frozenset()  # "... does this recipe *step have*": only a verb after it
            continue
        if qualifies(t.word) or t.word in OPERATORS:
            return frozenset()
        phrase.append(t.index)
    return frozenset()


def _possessed(read: Scan) -> frozenset[int]:
    """The words of a noun phrase after a possessive ("for *my homework*", "*my test
    scores*", "*our monthly bills*"): the asker's own things, which say what the data is,
    not what to do with it. The phrase ends at a value, a function word or punctuation; a
    word narrowing what is asked ("my *lowest* score") is never part of it."""
    tokens = read.tokens
    out: set[int] = set()
    for t in tokens:
        if t.kind != "word" or t.word not in POSSESSIVES:
            continue
        j = t.index + 1
        while j < len(tokens):
            nxt = tokens[j]
            if nxt.kind != "word" or is_neutral(nxt.word) or nxt.word in OPERATORS:
                break
            if qualifies(nxt.word) or nxt.word in LOOSE_OPERATORS:
                break
            if PUNCTUATION.search(read.text[tokens[j - 1].end : nxt.start]):
                break  # "Where is my analysis? *Locate* ...": the next sentence
            out.add(j)
            j += 1
    return frozenset(out)


def _label_word(token: Token) -> bool:
    """A word that may say what a value is of: not one that multiplies it ("*half* a
    dozen"), nor one that narrows what is asked ("2 *significant* figures")."""
    return (
        token.kind == "word"
        and not is_neutral(token.word)
        and token.word not in OPERATORS
        and token.word not in MULTIPLIERS
        and not qualifies(token.word)
    )


def _acts(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether a word after a value is a participle or a comparative saying what is done to
    it ("50 *increased* by 10%", "80 *divided* into 4", "10% *more* than 50"), not what it
    is of ("12 eggs")."""
    after = tokens[token.index + 1] if token.index + 1 < len(tokens) else None
    if after is None or after.kind != "word":
        return False
    # "10 percent *more* than 50": a comparison, what is done to the value
    return after.word == "than" or (token.word.endswith("ed") and after.word in PREPOSITIONS)


def _starts_values(tokens: Sequence[Token], at: int) -> bool:
    """Whether the word at ``at`` comes before the first value of a run of values (it labels
    them all, not one value in the middle of a sentence)."""
    return not any(t.kind in {"number", "array"} for t in tokens[:at])
