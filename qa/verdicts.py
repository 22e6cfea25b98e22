"""Yes/no verdicts: "Yes." or "No." before the quoted evidence, only where that evidence settles the question.

Extractive answers quote sentences; this module reads them by rules (no language model) and says "yes", "no"
or, whenever it is unsure, nothing (None): a wrong verdict is worse than none. The question is parsed into a
subject (its first name, or a noun phrase), a predicate (the content words after it, the first being the head:
"support", "member", "second visit") and the other names. An evidence sentence settles it when one clause of it
(clauses are cut at "but", "while", "unlike", ";" ...)

- names the subject (a name by any of its forms: "Mr Kishida", "NATO" for "North Atlantic Treaty Organization"),
  before the head, with no other name in between that could be the real subject ("Macron said Biden opposes"),
- holds every other word and name of the question; behind "he", "it" or "the plan" the words may come from
  the evidence's context (the sentence(s) before it), and
- nothing hedges the claim ("may", "is expected to", "plans to", "unlikely", "reportedly", "whether", ...).

Then the verdict is "yes" when nothing negates the claim, "no" when one negation ("not", "n't", "never",
"no longer", "neither", "non-", "refused to" ...) does, or when the clause holds a contrary of one predicate word
instead of it ("opposes" for "support", "left" for "join", "second visit" for "first visit", "50 minutes" for
"70 minutes"). Two negations, a negated contrary, two clauses that disagree or two evidence items that disagree
give None.

Negative questions follow English replies: the verdict is about the positive proposition. "Doesn't Macron
support the plan?" with "Macron opposes the plan" is "no" (no, he doesn't); "Is Japan not a member of NATO?"
with "Japan is not a member of NATO" is "no" (no, it isn't a member). Questions that only a reading of several
parts or a comparison could settle ("Does A ..., and does B ...?", "Do both articles ...?", "more than",
"either ... or") get None, and so do questions about ability or obligation ("Can", "Should", "Would").

Known limits, each a None rather than a guess: no synonyms beyond stems and the table of contraries ("backs" is
not "supports"); passives and turned-round sentences ("was welcomed by Stoltenberg") are not read; a name must
be named in full or by its surname with titles ("Yoon Suk-Yeol" is not "Yoon": its last word differs); "he" is
read only as the first name of the context's last sentence; comparisons, quantities and several parts are not
weighed.

>>> from qa.verdicts import Evidence, decide
>>> decide("Doesn't Macron support the NATO liaison office in Tokyo?", [Evidence(
...     "President Emmanuel Macron of France has indicated that he opposes the plan.",
...     context="In public, there was no mention of a proposal to establish a NATO liaison office in Tokyo.")])
Verdict(value='no', index=0, reason='contrary: opposes')
>>> decide("Is Japan a member of NATO?", [Evidence("Japan is not a member of NATO but Mr Kishida was invited.")])
Verdict(value='no', index=0, reason='negated: not')
>>> decide("Did Kishida attend the summit?", [Evidence("Mr Kishida is expected to attend the summit.")]) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from qa.claims import (
    _bound,
    _Claim,
    _Clause,
    _clauses,
    _find_names,
    _hedged,
    _is_question_name,
    _Item,
    _noun_after,
    _occasion,
    _of_item,
    _parse,
    _same_name,
)
from qa.verdict_words import (
    _ANAPHOR_NOUNS,
    _CONTRARY,
    _FILLER,
    _HEDGES,
    _IDIOMS,
    _LINKS,
    _LOCATIVE,
    _OBJECT_ANAPHORS,
    _PREPOSITIONS,
    _REPORTED,
    _SUBJECT_ANAPHORS,
    _SYNONYMS,
    _TIME_WORDS,
    _VERB_PREPOSITIONS,
    _behind,
    _ends_phrase,
    _marked,
    _negates,
    _negations,
    _Word,
    _words,
)


@dataclass(frozen=True)
class Evidence:
    """A quoted sentence, and the sentence(s) just before it in its article (to resolve "he", "the plan")."""

    text: str
    context: str = ""


@dataclass(frozen=True)
class Verdict:
    """The answer to a yes/no question, the evidence item (index) that settles it, and why (for tests, logs)."""

    value: Literal["yes", "no"]
    index: int
    reason: str


def decide(question: str, evidence: Sequence[Evidence]) -> Verdict | None:
    """ "yes" or "no" when an evidence item (best first) settles the question and none contradicts it, else None."""
    claim = _parse(question)
    if claim is None:
        return None
    found = [(i, v) for i, e in enumerate(evidence) if (v := _judge(claim, e)) is not None]
    if not found or len({value for _, (value, _) in found}) > 1:  # evidence that disagrees settles nothing
        return None
    index, (value, reason) = found[0]
    return Verdict(value, index, reason)


def _judge(claim: _Claim, evidence: Evidence) -> tuple[str, str] | None:
    """("yes"|"no", reason) when one clause of the evidence settles the claim and no other clause disagrees."""
    if _IDIOMS.search(evidence.text):
        return None
    context = _Context.of(evidence.context)
    clauses = _clauses(evidence.text)
    results = [r for i, clause in enumerate(clauses) if (r := _judge_clause(claim, clause, context))
               and not (i + 1 < len(clauses) and _elliptical(clauses[i + 1]))]  # fmt: skip
    return results[0] if len({value for value, _ in results}) == 1 else None


def _elliptical(clause: _Clause) -> bool:
    """A clause that goes on with the one before ("held for a day but collapsed", "growing, but slowly"): it may
    take back what that one says, so neither is read alone."""
    first = clause.words[0]
    subjects = _SUBJECT_ANAPHORS | _FILLER | {"also", "then", "now"}  # "but he ...", "but the ..." start anew
    return clause.opener != ";" and first.raw[0].islower() and first.low not in subjects


@dataclass(frozen=True)
class _Context:
    stems: frozenset[str]
    names: tuple[tuple[tuple[str, ...], str], ...]  # every name of the context, with its initials
    leading: tuple[tuple[str, ...], str] | None  # the first name of the last sentence: what "he" most likely is

    @staticmethod
    def of(text: str) -> _Context:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
        clauses = [_clauses(s) for s in sentences]
        names = tuple((st, a) for cs in clauses for c in cs for _, _, st, a in c.entities)
        last = [(st, a) for c in clauses[-1] for _, _, st, a in c.entities] if clauses else []
        return _Context(frozenset(w.stem for w in _words(text)), names, last[0] if last else None)

    def names_any(self, name: tuple[str, ...], acronym: str) -> bool:
        return any(_same_name(name, acronym, st, a) for st, a in self.names)


@dataclass
class _Reading:
    """Where the claim's parts stand in one clause."""

    positions: list[int] = field(default_factory=list)  # every word of the clause that holds a part
    head: int | None = None  # where the predicate's head (or its contrary) is
    pivot: str = ""  # the reason, when a contrary stands for a predicate word
    pivot_at: int = 0  # where that contrary stands
    missing_names: list[int] = field(default_factory=list)
    missing_items: list[int] = field(default_factory=list)
    items: dict[int, int] = field(default_factory=dict)  # where each item found stands
    subject_at: int | None = None  # where the subject's name ends (exclusive); None: not named in the clause
    subject_from: int = 0  # where it starts


def _judge_clause(claim: _Claim, clause: _Clause, context: _Context) -> tuple[str, str] | None:
    """("yes"|"no", reason) when this clause names the claim's parts in their roles, unhedged."""
    reading = _read(claim, clause)
    if reading is None or reading.head is None or not _resolved(claim, clause, reading, context):
        return None
    if not _roles_hold(claim, clause, reading) or not _object_ends(claim, clause, reading):
        return None
    start, end = min(reading.positions), max(reading.positions)
    lows = [w.low for w in clause.words]
    lows = [_marked(lows, i) for i in range(len(lows))]
    exempt = {reading.pivot.partition(": ")[2].lower()} | {  # "Did X refuse to join?": "refused" is asked about
        w.low for w in clause.words if w.stem in {item.stem for item in claim.items}
    }
    if any(w in _REPORTED for w in lows) or _hedged(claim, lows[max(0, start - 2) : end + 1], exempt):
        return None
    negations = _negations(lows, start, end, exempt)
    if negations is None or len(negations) > 1:
        return None
    if not negations and not reading.pivot:
        return "yes", "same statement"
    if claim.compound or (negations and reading.pivot):  # "A and B": "no" may hold for one; "not opposed"
        return None
    # The negation or contrary must sit on the question's own words: "did not lose a game until the final" and
    # "missed the start of the summit" say nothing of losing the final or of missing the summit.
    at = reading.pivot_at if reading.pivot else next(
        (i for i in range(start, end + 1) if _negates(lows[i]) and lows[i] not in exempt), start)  # fmt: skip
    if _strays(claim, clause, reading, at, exempt) > (0 if reading.pivot else 1):
        return None
    return "no", reading.pivot or f"negated: {negations[0]}"


def _object_ends(claim: _Claim, clause: _Clause, reading: _Reading) -> bool:
    """Whether the question's last word ends its phrase in the clause too: "left the party" is not "left the
    party conference"; a time, a preposition, a name or the end may follow."""
    last = len(claim.items) - 1
    if last not in reading.items or claim.items[last].kind != "word":
        return True
    after = reading.items[last] + 1
    if after >= len(clause.words):
        return True
    w = clause.words[after]
    return w.stop or not w.raw[0].isalpha() or w.raw[0].isupper() or w.low in _FILLER | _PREPOSITIONS | \
        _TIME_WORDS or w.low.endswith("ly") or _negates(w.low) or w.low in _HEDGES  # fmt: skip


def _strays(claim: _Claim, clause: _Clause, reading: _Reading, at: int, exempt: set[str]) -> int:
    """How many content words the question does not have stand between ``at`` (a negation, a contrary) and the
    last part of the claim after it: "missed the start of the summit" has one ("start")."""
    named = {i for s, e, _, _ in clause.entities for i in range(s, e)}
    end = max((p for p in reading.positions if p > at), default=at)
    stems = {item.stem for item in claim.items}
    return sum(1 for i in range(at + 1, end) if not (
        clause.words[i].stop or clause.words[i].low in _FILLER or i in named or
        _occasion(clause.words[i].stem) in stems or
        clause.words[i].low in exempt or clause.words[i].low.endswith("ly") or not clause.words[i].raw[0].isalpha()
        or clause.words[i].low in {"longer", "yet", "directly"} or _negates(clause.words[i].low)))  # fmt: skip


def _read(claim: _Claim, clause: _Clause) -> _Reading | None:
    """Where the question's names and items are in the clause (None when two items turn contrary)."""
    reading = _Reading()
    found_names = _find_names(claim, clause)
    for k, found in enumerate(found_names):
        if found is None:
            reading.missing_names.append(k)
        else:
            start, end, _, _ = clause.entities[found]
            reading.positions.append(start)
            if k == 0 and claim.subject:  # "Supporters of Macron": the name's own first word is where it stands
                first = next((i for i in range(start, end) if clause.words[i].stem in claim.subject), start)
                reading.subject_from, reading.subject_at = first, end
    after = reading.subject_at or 0
    named = {i for k in found_names if k is not None for i in range(*clause.entities[k][:2])}
    for k, item in enumerate(claim.items):
        # A verb's words come in the question's order ("won the match after losing" is no "lose the match"); a
        # copula's complement may turn round ("a NATO member"). A non-name subject has no contrary of its own.
        at, pivot = _find_item(item, clause, after, named, k or claim.subject is not None or claim.predicative)
        if at is None:
            reading.missing_items.append(k)
            continue
        if pivot and reading.pivot:  # two contraries may cancel out ("left ... lost"): unread
            return None
        if pivot:
            reading.pivot, reading.pivot_at = pivot, at
        reading.positions.append(at)
        reading.items[k] = at
        if k == 0:
            reading.head = at
        if claim.aux != "is":
            after = at + 1
    return reading


def _find_item(item: _Item, clause: _Clause, after: int, named: set[int], contrary: bool) -> tuple[int | None, str]:
    """Where an item stands in the clause from ``after`` on, outside the question's names (``named``), and the
    reason when a contrary stands for it. Other capitalised words may hold it ("Relations between ...")."""
    words = clause.words
    if item.kind == "word":
        for i in range(after, len(words)):
            if i not in named and (words[i].stem == item.stem or words[i].stem in _SYNONYMS.get(item.stem, ())):
                return i, ""
        for i in range(after, len(words) if contrary else 0):
            if i not in named and words[i].stem in _CONTRARY.get(item.stem, ()):
                return i, f"contrary: {words[i].raw}"
        return None, ""
    at, pivot = _find_bound(item, words, after)
    return (at, pivot) if contrary or not pivot else (None, "")


def _find_bound(item: _Item, words: list[_Word], after: int) -> tuple[int | None, str]:
    """An ordinal or number bound to the item's noun: the same one, or (as a contrary) another one."""
    if item.kind == "number" and not item.stem:  # a bare number ("July 12") must be there as it is
        return next(((i, "") for i in range(after, len(words)) if words[i].stem == item.value), (None, ""))
    other = None
    for i in range(after, len(words)):
        bound = _bound(words, i)
        if not bound or bound[0].kind != item.kind or bound[0].stem != item.stem:
            continue
        found = bound[0]
        if found.value == item.value and found.comparator == item.comparator:
            return i, ""
        if item.kind == "ordinal" or not (found.comparator or item.comparator):
            other = other if other is not None else i
        else:
            return None, ""  # "more than 60" against "more than 70" settles nothing here
    if other is not None:
        return other, f"{item.kind}: {words[other].raw} {words[_noun_after(words, other) or other].raw}"
    return None, ""


def _resolved(claim: _Claim, clause: _Clause, reading: _Reading, context: _Context) -> bool:
    """Whether what the clause lacks is behind a pronoun or "the plan" and named in the context: the subject
    behind "he"/"it" before the head, other words behind "it"/"the plan" after it."""
    lacks_subject = claim.subject is not None and 0 in reading.missing_names
    others = [k for k in reading.missing_names if k or claim.subject is None]
    if 0 in reading.missing_items:
        return False  # the head itself must be in the clause
    if lacks_subject and not _subject_anaphor(claim, clause, reading, context):
        return False
    if not others and not reading.missing_items:
        return True
    anaphor = _object_anaphor(clause, reading.head or 0)
    if anaphor is None:
        return False
    reading.positions.append(anaphor)
    named = all(context.names_any(claim.names[k], claim.acronyms[k]) for k in others)
    return named and all(claim.items[k].stem in context.stems and claim.items[k].kind == "word"
                         for k in reading.missing_items)  # fmt: skip


def _subject_anaphor(claim: _Claim, clause: _Clause, reading: _Reading, context: _Context) -> bool:
    """ "He opposes the plan" after a sentence led by Macron: "he" is Macron, when no other name comes first."""
    if context.leading is None or not _same_name(claim.subject, claim.acronyms[0], *context.leading):
        return False
    head = reading.head or 0
    words = clause.words
    for i in range(head):
        if words[i].low in _SUBJECT_ANAPHORS or (words[i].low in ("the", "this") and i + 1 < head
                                                 and words[i + 1].low in _ANAPHOR_NOUNS):  # fmt: skip
            if any(s < i and not _behind(words, s, _LOCATIVE) for s, _, _, _ in clause.entities):
                return False  # "Stoltenberg met Yoon, and he said ...": which one is "he"?
            reading.subject_at = i + 1
            reading.positions.append(i)
            return True
    return False


def _object_anaphor(clause: _Clause, head: int) -> int | None:
    """Where "it", "them" or "the plan" stands after the head."""
    words = clause.words
    for i in range(head + 1, len(words)):
        if words[i].low in _OBJECT_ANAPHORS:
            return i if _ends_phrase(words, i) else None
        if words[i].low in ("the", "this", "that", "such") and i + 1 < len(words) and \
                words[i + 1].low in _ANAPHOR_NOUNS:  # fmt: skip
            return i + 1 if _ends_phrase(words, i + 1) else None
    return None


def _roles_hold(claim: _Claim, clause: _Clause, reading: _Reading) -> bool:
    """The subject comes before the head with no other would-be subject between, and no name of the
    question sits behind a preposition the question does not have ("sanctions against Russia")."""
    head = reading.head or 0
    if claim.subject is not None:
        if reading.subject_at is None or reading.subject_at > head or not _is_subject(clause, reading, head):
            return False
        for start, _, stems, acronym in clause.entities:
            if reading.subject_at <= start < head and not _is_question_name(claim, stems, acronym) and \
                    not _behind(clause.words, start, _LOCATIVE | {"and", ","}):  # fmt: skip
                return False
    stems = {item.stem for item in claim.items}
    for k, found in enumerate(_find_names(claim, clause)):
        end = clause.entities[found][1] if found is not None else 0
        if found is not None and clause.words[end - 1].low.endswith("'s") and not claim.possessive[k] and \
                not (end < len(clause.words) and _occasion(clause.words[end].stem) in stems):  # fmt: skip
            return False  # "met Stoltenberg's deputy", "a member of NATO's programme" (not "NATO's summit")
    end = max(reading.positions)
    verb = claim.items[0].stem
    allowed = claim.prepositions | _VERB_PREPOSITIONS.get(verb, set())
    for start, _, stems, acronym in clause.entities:
        if not head < start <= end:
            continue
        if not _is_question_name(claim, stems, acronym) and not _behind(clause.words, start, _LOCATIVE):
            return False  # "met Yoon and Kishida": another name shares the predicate
        before = clause.words[start - 1].low if start else ""
        if _is_question_name(claim, stems, acronym) and before in _PREPOSITIONS - allowed and \
                not _of_item(claim, clause.words, start):  # fmt: skip
            return False  # "supports sanctions against Russia" is no "supports Russia"
    return True


def _is_subject(clause: _Clause, reading: _Reading, head: int) -> bool:
    """Whether the subject's name is the subject: not a possessive ("Macron's critics support"), not behind a
    preposition ("supporters of Macron"), and no other clause between it and the head ("Japan is a partner,
    and NATO's members ...")."""
    words, start, end = clause.words, reading.subject_from, reading.subject_at or 0
    if start and words[start - 1].low in _PREPOSITIONS:
        return False
    if words[end - 1].low.endswith("'s"):
        return head == end  # "Macron's support for": the possessive is the subject's own
    for i in range(end, head):
        low, after = words[i].low, words[i + 1].low
        first = i == end or (i == end + 1 and words[end].low == ",")
        if low in _LINKS and not (first and low in ("who", "which", "and")) and \
                not (low in ("that", "said", "says") and after in _SUBJECT_ANAPHORS | {"that"}):  # fmt: skip
            return False  # "said he supports" and "said that he" keep the subject
    return True
