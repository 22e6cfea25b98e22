"""A yes/no question read as a claim (subject, verb, items, names) and evidence read as clauses with their names,
for qa/verdicts.py to compare."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from qa.text.entities import key_entities
from qa.verdict_words import (
    _AUX,
    _COMPARATORS,
    _CONTRAST,
    _CONTRAST_PREPOSITIONS,
    _FILLER,
    _HEDGES,
    _NEGATORS,
    _NUMBER_WORDS,
    _OCCASIONS,
    _ORDINALS,
    _PREPOSITIONS,
    _QUANTIFIERS,
    _STARTERS,
    _TITLES,
    _Word,
    _words,
)

# --- the question -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One predicate word of the question, an ordinal bound to its noun ("first visit"), or a number bound to
    its noun ("70 minutes", with "more than" as comparator)."""

    stem: str
    kind: Literal["word", "ordinal", "number"] = "word"
    value: str = ""  # the ordinal's rank or the number
    comparator: str = ""


@dataclass(frozen=True)
class _Claim:
    subject: tuple[str, ...] | None  # the subject's name stems; None when the subject is not a name
    names: tuple[tuple[str, ...], ...]  # every name's stems, subject first when it is one
    acronyms: tuple[str, ...]  # each name as initials ("NATO"), "" when it has none
    possessive: tuple[bool, ...]  # each name asked of as an owner ("Kishida's visit")
    items: tuple[_Item, ...]  # the predicate, head first
    prepositions: frozenset[str]
    aux: str
    compound: bool  # "A and B": a "no" could hold for one part only
    predicative: bool  # "Is it / this ...": an ordinal or contrary in the first item is the predicate's


def _parse(question: str) -> _Claim | None:
    """The question's claim, or None when it is no plain yes/no question about one claim."""
    text = re.sub(r"[\s?.!]+$", "", question.strip().replace("’", "'"))
    text = re.sub(r",?\s+or\s+not$", "", text, flags=re.IGNORECASE)
    body, aux = _strip_aux(text)
    if body is None or aux == "can":  # "Can NATO open an office?" asks about ability, which no fact settles
        return None
    if re.match(r"(?:he|she|they|him|her|his|their|them|we|you|i)\b", body, re.IGNORECASE) or \
            (aux != "is" and re.match(r"(?:it|this|that|its)\b", body, re.IGNORECASE)):  # fmt: skip
        return None  # "Did he visit Kyiv?": whom "he" is was for the follow-up resolver to say
    words = _words(body)
    if _unsettleable(words, body):
        return None
    names = [n for n in key_entities(body) if _name_stems(n)]
    subject = names[0] if names and _starts_with(body, names[0]) else None
    body = _drop_subject_negation(body, subject)
    if body is None:
        return None
    items = _items(_words(_without_names(body, names)))
    if not items:
        return None
    return _Claim(
        subject=_name_stems(subject) if subject else None,
        names=tuple(_name_stems(n) for n in names),
        acronyms=tuple(_acronym(n) for n in names),
        possessive=tuple(n.endswith("'s") or bool(re.search(re.escape(n) + r"'s\b", body)) for n in names),
        items=tuple(items),
        prepositions=frozenset(w.low for w in words if w.low in _PREPOSITIONS),
        aux=aux,
        compound=any(w.low == "and" for w in words),
        predicative=bool(re.match(r"(?:it|this|that)\b", body, re.IGNORECASE)),
    )


def _strip_aux(text: str) -> tuple[str | None, str]:
    """The question without its auxiliary and that auxiliary's negation ("Doesn't", "Does ... not"), and
    the auxiliary's kind; "Is it true that ..." and "Does the article say ..." read the statement they ask of."""
    m = re.match(r"^(?:is\s+it\s+(?:true|the\s+case)|(?:do|does|did)\s+(?:the\s+)?(?:articles?|stor(?:y|ies)|"
                 r"reports?|texts?|pieces?)\s+(?:say|report|state|claim|confirm))\s+(?:that\s+)?(?P<body>.+)$",
                 text, re.IGNORECASE)  # fmt: skip
    if m:
        return m.group("body"), "statement"
    m = re.match(r"^(?P<aux>[a-z]+?)(?:n't|n’t)?\s+(?:not\s+)?(?P<body>.+)$", text, re.IGNORECASE)
    if not m or m.group("aux").lower() not in _AUX:
        return None, ""
    return m.group("body"), _AUX[m.group("aux").lower()]


def _unsettleable(words: list[_Word], body: str) -> bool:
    """Questions of several parts, comparisons (bar "more than 70"), quantities or wh-clauses."""
    several = re.search(r"(?:,|\band)\s+(?:is|are|was|were|do|does|did|has|have|had|will|can)\b", body, re.IGNORECASE)
    compares = re.search(r"\bthan\b(?!\s+\d)", body, re.IGNORECASE)
    return bool(several or compares) or any(w.low in _QUANTIFIERS for w in words)


def _drop_subject_negation(body: str, subject: str | None) -> str | None:
    """ "Japan not a member of NATO" -> "Japan a member of NATO": the question's own negation does not change
    what the verdict is about (see the module's docstring); any other negation makes the question unread."""
    if subject and re.match(re.escape(subject) + r"\s+not\b", body):
        body = body[: len(subject)] + body[len(subject) + 4 :]
    elif not subject and re.match(r"^(?:(?:the|a|an)\s+)?[\w'-]+(?:\s+[\w'-]+)?\s+not\b", body, re.IGNORECASE):
        body = re.sub(r"\s+not\b", "", body, count=1)
    return None if any(w.low in _NEGATORS or w.low.endswith("n't") for w in _words(body)) else body


def _starts_with(body: str, name: str) -> bool:
    return bool(re.match(r"^(?:the\s+)?" + re.escape(name), body, re.IGNORECASE))


def _without_names(body: str, names: list[str]) -> str:
    for name in sorted(names, key=len, reverse=True):
        body = body.replace(name, " ")
    return body


def _items(words: list[_Word]) -> list[_Item]:
    """The predicate's items in order: ordinals and numbers bound to their nouns, other content words."""
    items: list[_Item] = []
    skip = {j for i, w in enumerate(words) if w.stem.isdigit() or w.low in _NUMBER_WORDS
            for j in range(i - len(_comparator(words, i).split()), i)}  # fmt: skip  # "more than" goes with 70
    for i, w in enumerate(words):
        if i in skip or w.stop or w.low in _FILLER or w.low in _PREPOSITIONS - {"against", "before", "after"}:
            continue
        if bound := _bound(words, i):
            items.append(bound[0])
            skip |= bound[1]
        else:
            items.append(_Item(w.stem))
    return items


def _bound(words: list[_Word], i: int) -> tuple[_Item, set[int]] | None:
    """An ordinal or number at ``i`` with the noun it counts, and the positions they take."""
    w = words[i]
    number = _NUMBER_WORDS.get(w.low, w.stem if w.stem.isdigit() else "")
    if w.low not in _ORDINALS and not number:
        return None
    noun = _noun_after(words, i)
    if w.low in _ORDINALS:
        return (_Item(_occasion(words[noun].stem), "ordinal", str(_ORDINALS[w.low])), {noun}) if noun else None
    comparator = _comparator(words, i)
    return _Item(words[noun].stem if noun else "", "number", number, comparator), {noun} if noun else set()


def _noun_after(words: Sequence[_Word], i: int) -> int | None:
    """The noun an ordinal or number at ``i`` counts: the first lower-case word of the (at most three) words
    after it, before a function word or punctuation ("first Japanese leader", "second visit", "70 minutes")."""
    for j in range(i + 1, min(i + 4, len(words))):
        w = words[j]
        if w.stop or w.low in _FILLER or w.low in _PREPOSITIONS or w.low in _NEGATORS or not w.raw[0].isalpha():
            return None
        if not w.raw[0].isupper():  # names before the noun are skipped ("first Japanese leader")
            return j
    return None


def _occasion(stem: str) -> str:
    return "time" if stem in _OCCASIONS else stem


def _comparator(words: Sequence[_Word], i: int) -> str:
    before = " ".join(w.low for w in words[max(0, i - 2) : i])
    return next((c for c in _COMPARATORS if before.endswith(c)), "")


def _name_stems(name: str) -> tuple[str, ...]:
    return tuple(s for s in (w.stem for w in _words(name)) if s not in _TITLES and s.isalnum())


def _acronym(name: str) -> str:
    """ "NATO" for "North Atlantic Treaty Organization" and for "NATO" itself."""
    if re.fullmatch(r"[A-Z]{2,}", name.strip()):
        return name.strip()
    capitals = [w for w in re.findall(r"[A-Za-z]+", name) if w[0].isupper() and w.lower() not in ("of", "the")]
    return "".join(w[0] for w in capitals) if len(capitals) >= 2 else ""


# --- the evidence -----------------------------------------------------------------------------------------


@dataclass
class _Clause:
    """Words of one clause of an evidence sentence, with where each name of the sentence stands."""

    words: list[_Word]
    entities: list[tuple[int, int, tuple[str, ...], str]] = field(default_factory=list)  # start, end, stems, acronym
    opener: str = ""  # the contrast word before it ("but", ";")


def _clauses(text: str) -> list[_Clause]:
    """The sentence cut at contrast words ("but", "while", "unlike", ";"), each clause with its names."""
    words = _words(re.sub(r"\bnon-(?=\w)", "non ", text, flags=re.IGNORECASE))  # "non-member" is "non member"
    spans = _entity_spans(text, words)
    clauses, start, opener = [], 0, ""
    for i, w in enumerate(words + [_Word(";", ";", ";")]):
        if w.low in _CONTRAST and i >= start:
            ents = [(s - start, e - start, st, a) for s, e, st, a in spans if start <= s and e <= i]
            clauses.append(_Clause(words[start:i], ents, opener))
            start, opener = i + 1, w.low
            if w.low in _CONTRAST_PREPOSITIONS:  # the noun it takes runs to the next comma
                start = next((j + 1 for j in range(i + 1, len(words)) if words[j].low == ","), len(words))
    return [c for c in clauses if c.words]


def _entity_spans(text: str, words: list[_Word]) -> list[tuple[int, int, tuple[str, ...], str]]:
    """Where the names of a text stand among its words: (first, end, stems, acronym)."""
    spans = []
    for name in key_entities(text):
        parts = [w.raw for w in _words(name)]
        while parts and parts[0].lower() in _STARTERS:  # "However", "The President of ..." -> "President of ..."
            parts = parts[1:]
        stems = _name_stems(" ".join(parts))
        if not stems:
            continue
        for i in range(len(words) - len(parts) + 1):
            if [w.raw for w in words[i : i + len(parts)]] == parts:
                spans.append((i, i + len(parts), stems, _acronym(" ".join(parts))))
    return sorted(set(spans))


def _same_name(name: tuple[str, ...], acronym: str, entity: tuple[str, ...], entity_acronym: str) -> bool:
    """Whether a name of the evidence is the question's name: all its words, its surname with titles only
    ("Mr Kishida" for "Fumio Kishida"; not "South Korea" for "North Korea"), or the same initials ("NATO")."""
    if set(name) <= set(entity):  # and nothing but "of ..." after it: "NATO Plus" is not NATO
        rest = entity[max(i for i, s in enumerate(entity) if s == name[-1]) + 1 :]
        return not rest or rest[0] == "of"
    if acronym and acronym == entity_acronym and 1 in (len(name), len(entity)):  # one of them is the initials
        return True
    places = {"north", "south", "east", "west", "new", "unit", "great", "central", "saudi"}
    surname = len(name) >= 2 and name[0] not in places and name[-1] in entity and set(entity) <= set(name)
    return surname


def _find_names(claim: _Claim, clause: _Clause) -> list[int | None]:
    """For each name of the question, the first entity of the clause that is it (None where none is)."""
    found = []
    for name, acronym in zip(claim.names, claim.acronyms):
        found.append(next((k for k, (_, _, st, a) in enumerate(clause.entities)
                           if _same_name(name, acronym, st, a)), None))  # fmt: skip
    return found


def _hedged(claim: _Claim, span: list[str], exempt: set[str]) -> bool:
    """Whether the claim's words stand under a hedge; "will" only hedges a question not asked in "will"."""
    hedges = _HEDGES - {"will"} if claim.aux == "will" else _HEDGES
    return any(w in hedges and w not in exempt for w in span)


def _is_question_name(claim: _Claim, stems: tuple[str, ...], acronym: str) -> bool:
    return any(_same_name(n, a, stems, acronym) for n, a in zip(claim.names, claim.acronyms))


def _of_item(claim: _Claim, words: list[_Word], start: int) -> bool:
    """ "member of NATO" for "a NATO member": "of" right after a word of the question."""
    return words[start - 1].low == "of" and start > 1 and words[start - 2].stem in {i.stem for i in claim.items}
