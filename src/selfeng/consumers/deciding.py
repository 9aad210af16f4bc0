"""Deciding which tool answers each step of a request, from evidence, or none.

For each step the search proposes candidates; each is weighed: its arguments are extracted
from the step, and the evidence check (``selfeng.core.evidence``) says how much of the step
the tool and its arguments account for. The tool's record on the same phrasing counts too:
a phrasing users rated bad for a tool is never answered by it again (and the words of the
phrasings users confirmed count as the tool's own). The first candidate (in search order)
whose confidence reaches ``answer.min_confidence`` answers the step; the others that reach
it are kept as fallbacks for when the first fails on its arguments. When none reaches it,
the step is not answered, with the reason: a value is missing or unclear, the wording refers
to an earlier answer there is none of, or no tool fits (then a tool is asked for).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any, Literal, cast

from pydantic import JsonValue

from selfeng.consumers.search import ToolSearch
from selfeng.core.arguments import Extraction, extract, template
from selfeng.core.evidence import Assessment, assess
from selfeng.core.language import (
    ARTICLES,
    COLLECTIONS,
    DETERMINERS,
    NEUTRAL_STEMS,
    POSSESSIVES,
    camel_words,
    stem,
)
from selfeng.core.planning import PlanStep
from selfeng.core.policies import policy_float
from selfeng.core.scanning import Scan, scan
from selfeng.core.spelling import Spelling
from selfeng.core.step_text import search_text, with_earlier_values
from selfeng.core.values import shown
from selfeng.core.wording import ToolWording, generic_stems, name_phrase, tool_wording
from selfeng.projections.registry import (
    RegistryState,
    VersionRecord,
    active_tools,
    confirmed_phrasings,
    normalise_phrase,
    rejected_request,
    says_more_than_values,
)
from selfeng.projections.skill_graph import SkillGraphState, prefer_chains
from selfeng.schemas import Candidate, Evidence

OPERATION_NOUNS = frozenset({"sum", "total", "product", "difference", "quotient"})
"""Nouns of an operation's result: they may point at an earlier answer ("add 8 to *the
sum*") or ask a new question of the same values ("and *the sum*?")."""
_REFERENCE = re.compile(
    r"\b(the (result|answer|output|value|number|outcome|"
    + "|".join(sorted(OPERATION_NOUNS))
    + r")\b(?!\s+of\b)|it|that(?!\s+(?:i|you|we|he|she|they|it)\b)|this|them|previous|"
    r"last one)\b(?!\s*:)",
    re.IGNORECASE,
)
"""Words pointing at an earlier answer. "that" before a subject ("tell my boss *that I*'m
late") joins a clause and points at nothing, a word before a colon ("shout *this*: be
quiet") points at the text after it, and "the sum *of* ..." says what it is of."""

FailureKind = Literal["missing", "reference", "abstain", "ambiguous"]
"""Why a step is not answered: a required value is missing; it refers to an earlier answer
that does not exist; no tool fits; two tools fit equally and one has effects."""


@dataclass
class Weighed:
    """One candidate weighed for a step."""

    candidate: Candidate
    extraction: Extraction
    assessment: Assessment
    evidence: Evidence
    uses_previous: bool


@dataclass
class Decision:
    """The tool chosen for one step of a plan (or why none was)."""

    index: int
    step: PlanStep
    read: Scan
    candidates: list[Candidate]
    weighed: list[Weighed] = field(default_factory=list)
    chosen: Weighed | None = None
    fallbacks: list[Weighed] = field(default_factory=list)
    rivals: list[Weighed] = field(default_factory=list)
    """Deterministic tools that fit as well as the chosen one: their answers must agree
    with its answer ("count sheep": one word, or five characters?)."""
    failure: FailureKind | None = None
    reason: str = ""

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        """The evidence of every candidate weighed, in the order weighed."""
        return tuple(w.evidence for w in self.weighed)

    @property
    def picked(self) -> Weighed:
        """The chosen tool, for a decision that chose one (the steps that run)."""
        if self.chosen is None:
            raise ValueError(f"step {self.index} chose no tool: {self.reason}")
        return self.chosen


class Wordings:
    """The wording of every active tool, and the stems too common among them to show intent.

    Refreshed when the registry's tools or phrasings change; a tool's wording is worked out
    again only when its version or the phrasings that widen it changed."""

    def __init__(self) -> None:
        self._seen: tuple[int, int, int] | None = None
        self._keys: dict[str, tuple[int, tuple[str, ...]]] = {}
        self.by_tool: dict[str, ToolWording] = {}
        self.generic: frozenset[str] = frozenset()
        self.vocabulary: frozenset[str] = frozenset()
        """Every tool's own stems (its "does" wording), the generic ones left out."""
        self.defined: frozenset[str] = frozenset()
        """``vocabulary`` as the tools' names and descriptions give it (no learnt phrasing)."""
        self.verbs: frozenset[str] = frozenset()
        """The stems of the tools' names' first words (names are verb-first:
        ``round_number``), the generic ones left out."""
        self.spelling = Spelling(())
        """Every tool's name and description words, to read misspelt words against."""
        self.phrases: dict[str, tuple[str, ...]] = {}
        """Each tool's name as the words that say what it does (``name_phrase``)."""
        self._named: dict[str, list[tuple[str, ...]]] = {}  # ``named``, by tool

    def foreign(self, tool: str) -> frozenset[str]:
        """Stems that say what other tools do (and ``tool`` does not)."""
        return self._not_own(self.vocabulary, tool)

    def operations(self, tool: str) -> frozenset[str]:
        """Stems that other tools' own names and descriptions say they do, and ``tool``
        does not: a request's word that names one asks for another tool. Learnt phrasings
        are left out, so that learning never makes a right answer's word another tool's."""
        return self._not_own(self.defined, tool)

    def commands(self, tool: str) -> frozenset[str]:
        """The verbs of other tools' names that ``tool`` does not say it does: a request
        that starts with one ("*round* 22.7 C to F") asks for another tool."""
        return self._not_own(self.verbs, tool)

    def named(self, tool: str) -> list[tuple[str, ...]]:
        """Other tools' names as phrases, less those ``tool``'s own wording says whole: a
        request that says one word for word asks for that tool ("percentage *change* from
        50 to 75" is not a part of a whole, whose label "change" would be)."""
        found = self._named.get(tool)
        if found is None:
            own = self.by_tool.get(tool)
            does = own.does if own is not None else frozenset()
            found = self._named[tool] = [
                phrase
                for name, phrase in self.phrases.items()
                if phrase and name != tool and not set(phrase) <= does
            ]
        return found

    def _not_own(self, stems: frozenset[str], tool: str) -> frozenset[str]:
        own = self.by_tool.get(tool)
        return stems - own.does if own is not None else stems

    def refresh(self, registry: RegistryState) -> None:
        """Bring the wordings up to date with ``registry``."""
        # the live ``tools`` table, not the view passed: a read-only view is a new object at
        # every read, so its ``id`` never matched and every step worked all wordings out again
        tools = dict.get(cast(dict[str, Any], registry), "tools")
        seen = (id(tools), registry["revision"], registry["phrases_revision"])
        if seen == self._seen:
            return
        wordings: dict[str, ToolWording] = {}
        keys: dict[str, tuple[int, tuple[str, ...]]] = {}
        for name, (version, record) in active_tools(registry).items():
            key = (version, tuple(sorted(confirmed_phrasings(registry, name))))
            known = self.by_tool.get(name)
            if known is None or self._keys.get(name) != key:
                known = tool_wording(name, record["spec"], key[1])
            wordings[name], keys[name] = known, key
        if set(wordings) != set(self.by_tool) or any(
            self._keys.get(name) != key for name, key in keys.items()
        ):
            self.generic = generic_stems(
                w for n, w in wordings.items() if not _is_composite(registry, n)
            )
            self.vocabulary = frozenset(s for w in wordings.values() for s in w.does) - (
                self.generic
            )
            self.defined = frozenset(s for w in wordings.values() for s in w.defined) - (
                self.generic
            )
            self.verbs = frozenset(
                stem(words[0]) for name in wordings if (words := camel_words(name))
            ) - (self.generic | NEUTRAL_STEMS)
            self.spelling = Spelling(
                {word for w in wordings.values() if w.spelled for word in w.spelled.known}
            )
            self.phrases = {name: name_phrase(name) for name in wordings}
            self._named = {}
        self.by_tool, self._keys, self._seen = wordings, keys, seen


def _is_composite(registry: RegistryState, name: str) -> bool:
    tool = registry["tools"].get(name)
    if tool is None or tool["active"] is None:
        return False
    record = tool["versions"].get(str(tool["active"]))
    return bool(record and record["spec"].get("composition"))


def refers_back(text: str) -> str | None:
    """The words by which a step points at an earlier answer ("the result", "it"), if any."""
    m = _REFERENCE.search(text)
    return m.group(0) if m else None


def predicted_output(record: VersionRecord) -> JsonValue:
    """A stand-in for a tool's output, of the type its spec returns, to weigh the next step
    before this one has run (extraction depends on the type of a hand-off, not its value)."""
    returns = record["spec"].get("returns", {}) or {}
    kind = returns.get("type")
    if kind in {"number", "integer"}:
        return 0.0
    if kind == "array":
        return [0.0]
    if kind == "boolean":
        return True
    if kind == "object":
        return {}  # a record hands on its fields by name, which are not known before it runs
    return "text"


class Decider:
    """Weighs the candidates of each step and decides."""

    def __init__(self, search: ToolSearch) -> None:
        self.search = search
        self.wordings = Wordings()

    def decide(
        self,
        index: int,
        step: PlanStep,
        policies: Mapping[str, JsonValue],
        registry: RegistryState,
        *,
        previous: JsonValue | None,
        context: Mapping[str, JsonValue] | None = None,
        previous_tool: str | None = None,
        skill_graph: SkillGraphState | None = None,
        pinned: str | None = None,
    ) -> Decision:
        """The decision for one step. ``previous`` is the previous step's output (or its
        stand-in, or a session's previous answer); None when there is none."""
        self.wordings.refresh(registry)
        min_confidence = policy_float(policies, "answer.min_confidence")
        if previous is not None and not isinstance(previous, list):
            restated = with_earlier_values(step.text, dict(context or {}))
            if restated is not None:  # "the total of those numbers": the values given before
                step = replace(step, text=restated, uses_previous=False)
        if pinned is not None:
            candidates = self.search.pinned(step.text, pinned, policies)
        else:
            candidates = self.search.search(search_text(step.text), policies)
            if previous_tool is not None and step.uses_previous and skill_graph is not None:
                candidates = prefer_chains(candidates, previous_tool, skill_graph)
        read = scan(step.text)
        if previous is not None and not step.uses_previous and refers_back(step.text):
            step = replace(step, uses_previous=True)  # a follow-up in a session
        decision = Decision(index=index, step=step, read=read, candidates=candidates)
        active = active_tools(registry)
        weigh = (read, step, registry, previous, context, min_confidence, active)
        self._weigh_all(decision, candidates, *weigh)
        if (
            pinned is None
            and read.colon is not None
            and not any(w.evidence.accepted for w in decision.weighed)
        ):
            # what comes before the colon asks for nothing that fits ("quick q: 19 + 23?",
            # "calculate: 100/3"): the request is after it too
            whole = self.search.search(search_text(step.text, with_colon_text=True), policies)
            seen = {w.candidate.tool for w in decision.weighed}
            more = [c for c in whole if c.tool not in seen]
            decision.candidates = [*candidates, *more]
            self._weigh_all(decision, more, *weigh)
        accepted = [w for w in decision.weighed if w.evidence.accepted]
        if accepted:
            # evidence before resemblance: a candidate that accounts for more of the request
            # goes first ("count the *letters* in the word banana": count_characters, not the
            # closer count_words that leaves "letters" unexplained); ties keep search order
            best = max(accepted, key=lambda w: w.evidence.confidence)
            tied = _tied(best, accepted)
            effects = [w for w in (best, *tied) if _has_effects(w, active)]
            if tied and effects:
                # running one on a guess could change the wrong thing ("remove 'Zeta Corp'
                # from the list": from which memory?)
                rival = tied[0] if effects[0] is best else effects[0]
                decision.failure = "ambiguous"
                decision.reason = (
                    f"it fits {best.candidate.tool} and {rival.candidate.tool} equally well, "
                    "and one of them changes things: say which is meant"
                )
                return decision
            decision.chosen = best
            decision.rivals = tied  # pure: run too, and their answers must agree
            decision.fallbacks.extend(w for w in accepted if w is not best)
        if decision.chosen is None:
            decision.failure, decision.reason = _failure(decision, previous)
        return decision

    def _weigh_all(
        self,
        decision: Decision,
        candidates: list[Candidate],
        read: Scan,
        step: PlanStep,
        registry: RegistryState,
        previous: JsonValue | None,
        context: Mapping[str, JsonValue] | None,
        min_confidence: float,
        active: Mapping[str, Any],
    ) -> None:
        """Weigh each active candidate, in search order, into ``decision.weighed``."""
        for rank, candidate in enumerate(candidates):
            if candidate.tool not in active:
                continue
            margin = candidate.score - (
                candidates[rank + 1].score if rank + 1 < len(candidates) else 0.0
            )
            weighed = self._weigh(
                read, step, candidate, active[candidate.tool][1], registry, previous,
                context, min_confidence, margin,
            )  # fmt: skip
            decision.weighed.append(weighed)

    def _weigh(
        self,
        read: Scan,
        step: PlanStep,
        candidate: Candidate,
        record: VersionRecord,
        registry: RegistryState,
        previous: JsonValue | None,
        context: Mapping[str, JsonValue] | None,
        min_confidence: float,
        margin: float,
    ) -> Weighed:
        wording = self.wordings.by_tool.get(candidate.tool) or tool_wording(
            candidate.tool, record["spec"]
        )
        parameters: dict[str, Any] = record["spec"].get("parameters", {}) or {}
        extraction, uses_previous = extract_for(
            read, step, parameters, wording, previous, context,
            foreign=self.wordings.foreign(candidate.tool),
        )  # fmt: skip
        assessment = assess(
            read,
            extraction,
            wording,
            generic=self.wordings.generic,
            returns=record["spec"].get("returns"),
            foreign=self.wordings.operations(candidate.tool),
            commands=self.wordings.commands(candidate.tool),
            named=self.wordings.named(candidate.tool),
        )
        phrase = normalise_phrase(template(read, extraction))
        good, users, bad = _record(registry, candidate.tool, phrase)
        confidence = assessment.confidence
        reason = assessment.reason
        if (bad > users and says_more_than_values(phrase)) or rejected_request(
            registry, candidate.tool, step.text
        ):
            # more bad ratings than confirmations: the phrasing; as many, or a phrasing of
            # nothing but values ("what's {expression}"): a rating about this request's
            # values, so only this request
            confidence = 0.0
            reason = f"a user rated {candidate.tool}'s answer to this phrasing bad"
        accepted = confidence >= min_confidence
        evidence = Evidence(
            tool=candidate.tool,
            version=candidate.version,
            score=candidate.score,
            margin=round(margin, 6),
            confidence=round(confidence, 4),
            coverage=assessment.coverage,
            intent=assessment.intent,
            unexplained=assessment.unexplained,
            arguments=extraction.arguments,
            missing=(*extraction.missing, *extraction.mistyped),
            template=phrase,
            confirmed_uses=good,
            rejected_uses=bad,
            accepted=accepted,
            reason=reason,
        )
        return Weighed(candidate, extraction, assessment, evidence, uses_previous)


TIE_SCORE = 0.8
"""A candidate as confident as the best whose search score is at least this share of the
best's is tied with it: neither the evidence nor the wording tells them apart."""


def _tied(best: Weighed, accepted: list[Weighed]) -> list[Weighed]:
    """The other tools that fit the step exactly as well as ``best`` does: the same
    confidence, as many confirmed uses of the phrasing (which would break the tie), and a
    search score close to its ("count sheep": count_words 0.54, count_letters 0.51; not
    "the square root of 50": square_root 0.88, evaluate_expression 0.47)."""
    return [
        w
        for w in accepted
        if w.candidate.tool != best.candidate.tool
        and w.evidence.confidence == best.evidence.confidence
        and w.evidence.confirmed_uses == best.evidence.confirmed_uses
        and w.candidate.score >= TIE_SCORE * best.candidate.score
    ]


def _has_effects(w: Weighed, active: Mapping[str, tuple[int, VersionRecord]]) -> bool:
    return not bool(active[w.candidate.tool][1]["spec"].get("deterministic", True))


def _record(registry: RegistryState, tool: str, phrase: str) -> tuple[int, int, int]:
    """(confirmed uses, of which by users, bad ratings) of a tool for a phrasing."""
    seen = registry["phrases"].get(tool, {}).get(phrase)
    bad = registry.get("rejected", {}).get(tool, {}).get(phrase)
    good = max(seen[0], 0) if seen else 0
    users = seen[2] if seen and len(seen) > 2 and good else 0
    return good, users, (max(bad[0], 0) if bad else 0)


def extract_for(
    read: Scan,
    step: PlanStep,
    parameters: Mapping[str, Any],
    wording: ToolWording | None,
    previous: JsonValue | None,
    context: Mapping[str, JsonValue] | None = None,
    *,
    foreign: frozenset[str] = frozenset(),
) -> tuple[Extraction, bool]:
    """The arguments of a step, and whether they took the previous output: at once when the
    step points at it ("reverse the result"), else only when the step lacks a value without
    it ("then multiply by 3"). ``context`` is the arguments of the step that gave
    ``previous`` (a conversion continues in the unit the previous one ended in)."""
    if previous is None:
        return extract(read, parameters, wording, foreign=foreign), False
    if step.uses_previous:
        found = extract(
            read,
            parameters,
            wording,
            previous=previous,
            use_previous=True,
            context=context,
            foreign=foreign,
        )
        if found.handoff is not None:
            return found, True
    alone = extract(read, parameters, wording, foreign=foreign)
    if not alone.missing and not alone.mistyped:
        return alone, False
    if not isinstance(previous, list) and _names_values(read):
        return alone, False  # "add 100 to the list" after an answer of one number
    found = extract(
        read,
        parameters,
        wording,
        previous=previous,
        use_previous=True,
        context=context,
        foreign=foreign,
    )
    if found.handoff is not None and len(found.missing) < len(alone.missing) + len(alone.mistyped):
        return found, True
    return alone, False


def _names_values(read: Scan) -> bool:
    """Whether a step names several values it works on ("add 100 to *the list*", "*my
    numbers*"), which one earlier answer is not."""
    leading = ARTICLES | DETERMINERS | POSSESSIVES
    return any(
        a.word in leading and b.kind == "word" and b.word in COLLECTIONS
        for a, b in pairwise(read.tokens)
    )


def _failure(decision: Decision, previous: JsonValue | None) -> tuple[FailureKind, str]:
    text = decision.step.text
    reference = refers_back(text)
    missing = [
        w
        for w in decision.weighed
        if w.assessment.intent and (w.extraction.missing or w.extraction.mistyped)
        and not w.assessment.unexplained
    ]  # fmt: skip
    unclear = next((w for w in decision.weighed if w.assessment.unclear), None)
    if unclear is not None and unclear.assessment.intent:
        return (
            "missing",
            f"I could not read a value of “{shown(text)}”: {unclear.assessment.unclear[0]}",
        )
    if reference and previous is None and (missing or not decision.weighed):
        return (
            "reference",
            f"“{shown(text)}” refers to an earlier answer (“{reference}”), but there is none "
            "to use (a follow-up takes the answer just before it in the same session, when "
            "that request was answered): give the value",
        )
    if missing:
        best = missing[0]
        names = [*best.extraction.missing, *best.extraction.mistyped]
        why = "; ".join(best.extraction.mistyped.values())
        return (
            "missing",
            f"I could not find a value for {', '.join(names)} in “{shown(text)}” "
            f"(the tool {best.candidate.tool} needs it{': ' + why if why else ''})",
        )
    if not decision.weighed:
        return "abstain", f"no registered tool resembles “{shown(text)}”"
    closest = decision.weighed[0]
    return "abstain", f"the closest tool, {closest.candidate.tool}, does not fit: " + (
        closest.evidence.reason
    )
