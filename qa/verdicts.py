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

from qa.retrieval import tokenize
from qa.text.entities import key_entities


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
    """"yes" or "no" when an evidence item (best first) settles the question and none contradicts it, else None."""
    claim = _parse(question)
    if claim is None:
        return None
    found = [(i, v) for i, e in enumerate(evidence) if (v := _judge(claim, e)) is not None]
    if not found or len({value for _, (value, _) in found}) > 1:  # evidence that disagrees settles nothing
        return None
    index, (value, reason) = found[0]
    return Verdict(value, index, reason)


# --- words ------------------------------------------------------------------------------------------------

_AUX = {"is": "is", "are": "is", "was": "is", "were": "is", "do": "do", "does": "do", "did": "do", "has": "have",
        "have": "have", "had": "have", "will": "will", "wo": "will", "ca": "can", "can": "can", "could": "can",
        "would": "can", "should": "can", "may": "can", "might": "can", "must": "can", "shall": "can"}  # fmt: skip
# Past forms the stemmer leaves apart from their verb ("met" would never meet "meet").
_IRREGULAR = {"met": "meet", "won": "win", "lost": "lose", "rose": "rise", "risen": "rise", "fell": "fall",
              "fallen": "fall", "left": "leave", "grew": "grow", "grown": "grow", "shrank": "shrink", "went": "go",
              "gone": "go", "saw": "see", "seen": "see", "took": "take", "taken": "take", "made": "make",
              "said": "say", "told": "tell", "held": "hold", "gave": "give", "given": "give", "sought": "seek",
              "brought": "bring", "led": "lead", "spoke": "speak", "spoken": "speak", "wrote": "write",
              "written": "write", "sent": "send", "chose": "choose", "chosen": "choose", "began": "begin",
              "begun": "begin", "became": "become", "ran": "run", "paid": "pay", "kept": "keep", "stood": "stand",
              "fought": "fight", "thought": "think", "found": "find", "shook": "shake", "shaken": "shake",
              "struck": "strike", "forbade": "forbid", "forbidden": "forbid", "withdrew": "withdraw",
              "withdrawn": "withdraw", "drew": "draw", "flew": "fly", "flown": "fly", "broke": "break",
              "broken": "break", "spent": "spend", "built": "build", "sold": "sell", "bought": "buy",
              "knew": "know", "known": "know", "understood": "understand", "felt": "feel", "ate": "eat"}  # fmt: skip
# Words of a question that carry no claim of their own.
_FILLER = {"do", "does", "did", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "having",
           "he", "she", "his", "her", "its", "their", "they", "them", "him", "we", "our", "you", "your", "i", "me",
           "my", "this", "that", "these", "those", "ever", "really", "actually", "also", "still", "already",
           "indeed", "even", "yet", "so", "just", "from", "to", "of", "in", "on", "at", "by", "with", "for",
           "about", "into", "as", "the", "a", "an", "there", "it", "which", "who", "s"}  # fmt: skip
_TITLES = {"mr", "mrs", "ms", "dr", "presid", "prime", "minist", "secretari", "general", "chief", "foreign",
           "chancellor", "king", "queen", "envoy", "spokesperson", "sir", "lord", "the", "senat",
           "governor"}  # fmt: skip
# Capitalised words that start sentences rather than names ("However, the United States ...").
_STARTERS = {"however", "meanwhile", "elsewhere", "in", "at", "on", "when", "after", "before", "the", "a", "an",
             "this", "that", "it", "he", "she", "they", "we", "i", "you", "and", "but", "as", "for", "with",
             "while", "although", "if", "since", "last", "earlier", "later", "also", "still", "yet", "so", "then",
             "there", "here", "now", "today", "yesterday", "according", "both", "all", "his", "her", "their",
             "its", "our", "such", "some", "many", "other", "instead", "despite", "by", "from", "to"}  # fmt: skip
_PREPOSITIONS = {"in", "at", "of", "on", "from", "near", "during", "across", "outside", "inside", "within",
                 "like", "including", "as", "to", "for", "with", "against", "by", "over", "about", "into",
                 "toward", "towards", "between", "among", "after", "before", "under", "through"}  # fmt: skip
# Prepositions a verb takes without changing what it claims ("met with Stoltenberg" is "met Stoltenberg").
_VERB_PREPOSITIONS = {"meet": {"with"}, "talk": {"with", "to"}, "speak": {"with", "to"}, "visit": {"to"}}
_LOCATIVE = {"in", "at", "of", "on", "from", "near", "during", "across", "outside", "inside", "within", "like",
             "including", "as"}  # fmt: skip  # a name behind these is a place or a peer, not another subject
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
             "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}  # fmt: skip
_OCCASIONS = {"time", "visit", "trip", "attend", "appear", "particip", "tour"}  # "first time" ~ "first visit"
_COMPARATORS = ("more than", "less than", "fewer than", "at least", "at most", "up to", "over", "under", "about",
                "around", "nearly", "almost", "roughly", "approximately", "some", "above", "below",
                "exactly")  # fmt: skip
_COMPARATOR_WORDS = {w for c in _COMPARATORS for w in c.split()}
_NUMBER_WORDS = {"two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
                 "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20",
                 "hundred": "100"}  # fmt: skip

# Words that negate what follows; "no longer", "non-member" and "refused to join" count once.
_NEGATORS = {"not", "no", "never", "neither", "nor", "none", "nobody", "nothing", "without", "cannot", "non",
             "refused", "refuses", "refuse", "failed", "fails", "fail", "declined", "declines", "lacks",
             "lacked"}  # fmt: skip
# Negations that do not negate plainly ("not only", "has never been more vital"): such a clause is unread.
_IDIOMS = re.compile(r"\b(?:not\s+only|not\s+just|not\s+least|no\s+less|no\s+doubt|not\s+without|nothing\s+but|"
                     r"no\s+more\s+than|never\s+(?:been\s+)?(?:more|better|closer|stronger)|no\s+sooner|no\s+other|"
                     r"none\s+other|not\s+(?:unlike|unlikely|unusual|uncommon|unimportant|unwelcome|insignificant|"
                     r"impossible|dissimilar))\b", re.IGNORECASE)  # fmt: skip
# Words that make a claim uncertain, planned, reported or conditional rather than a fact.
_HEDGES = {"may", "might", "could", "would", "should", "must", "expected", "expect", "expects", "likely",
           "unlikely", "possibly", "perhaps", "probably", "reportedly", "allegedly", "apparently", "considering",
           "consider", "considers", "considered", "proposed", "propose", "proposes", "proposing", "hopes", "hope",
           "hoped", "hoping", "aims", "aim", "aimed", "seeks", "seek", "sought", "intends", "intend", "intended",
           "wants", "want", "wanted", "will", "if", "whether", "unless", "tried", "try", "tries", "trying",
           "attempt", "attempted", "attempts", "threatened", "threatens", "promised", "promises", "pledged",
           "pledges", "vowed", "vows", "urged", "urges", "asked", "asks", "suggested", "suggests", "rumoured",
           "rumored", "speculation", "believed", "appears", "appeared", "seems", "seemed", "potential",
           "possible", "denied", "denies", "deny", "false", "untrue", "claimed", "claims", "discussed",
           "discussing", "debate", "debated", "plans", "planned", "planning", "set", "poised", "ready", "willing",
           "wish", "wishes", "called", "calls", "barely", "hardly", "scarcely",
           # a stop or a delay says little of what happened before it ("stopped hiring" after hiring)
           "stop", "stops", "stopped", "ceased", "halted", "suspended", "abandoned", "scrapped", "cancelled",
           "canceled", "postponed", "delayed", "resumed", "off", "demanded", "demands", "could've", "ought",
           "supposed", "nearly", "almost", "virtually", "practically"}  # fmt: skip  # "nearly collapsed" did not
_REPORTED = {"reportedly", "allegedly", "rumoured", "rumored", "whether", "if", "unless", "supposedly", "purportedly",
             "wrongly", "falsely", "mistakenly", "erroneously", "incorrectly", "claimed", "alleged"}  # fmt: skip

# Contraries, both ways: a clause holding one where the question has the other says "no" (stemmed at import).
_CONTRARY_GROUPS = [
    ({"support", "supports", "supported", "endorse", "endorsed", "favour", "favor", "favours", "favors"},
     {"oppose", "opposed", "opposes", "opposition", "against", "resist", "resisted"}),
    ({"agree", "agreed", "agreement", "accept", "accepted", "approve", "approved", "approval"},
     {"disagree", "disagreed", "refuse", "refused", "reject", "rejected", "rejection", "decline", "declined",
      "rebut", "rebutted", "dismiss", "dismissed", "veto", "vetoed"}),
    ({"allow", "allowed", "permit", "permitted", "legal", "lawful"},
     {"ban", "banned", "prohibit", "prohibited", "forbid", "illegal", "unlawful", "block", "blocked"}),
    ({"win", "won"}, {"lose", "lost"}),
    ({"increase", "increased", "rise", "rose", "grow", "grew", "raise", "raised", "boost", "boosted"},
     {"decrease", "decreased", "cut", "fall", "fell", "drop", "dropped", "decline", "declined", "reduce",
      "reduced", "shrink", "shrank", "slash", "slashed"}),
    ({"join", "joined", "enter", "entered"}, {"leave", "left", "quit", "exit", "exited", "withdraw", "withdrew"}),
    ({"present", "attend", "attended", "attendance"}, {"absent", "absence", "skip", "skipped", "miss", "missed",
                                                      "boycott", "boycotted"}),
    ({"open", "opened"}, {"close", "closed", "shut"}),
    ({"confirm", "confirmed", "admit", "admitted"}, {"deny", "denied"}),
    ({"succeed", "succeeded", "success", "pass", "passed"}, {"fail", "failed", "failure"}),
    ({"before"}, {"after"}),
    ({"true", "correct", "accurate"}, {"false", "incorrect", "wrong", "untrue"}),
    ({"alive"}, {"dead"}),
    ({"guilty", "convicted"}, {"innocent", "acquitted"}),
    ({"include", "included"}, {"exclude", "excluded"}),
    ({"improve", "improved", "strengthen", "strengthened"}, {"worsen", "worsened", "weaken", "weakened",
                                                            "deteriorate", "deteriorated"}),
    ({"praise", "praised", "welcome", "welcomed"}, {"condemn", "condemned", "criticise", "criticised",
                                                   "criticize", "criticized"}),
]  # fmt: skip

# Subject pronouns and descriptions that point back to the context's subject.
_SUBJECT_ANAPHORS = {"he", "she", "they", "it"}
_ANAPHOR_NOUNS = {"plan", "proposal", "idea", "move", "office", "project", "step", "measure", "deal", "agreement",
                  "bill", "policy", "initiative", "decision", "scheme", "effort", "push", "request", "offer",
                  "visit", "trip", "summit", "meeting", "mission", "alliance", "country", "government",
                  "organisation", "organization", "bloc", "group", "leader", "minister", "president", "treaty",
                  "pact", "sanctions", "law", "rule", "ban"}  # fmt: skip
_OBJECT_ANAPHORS = {"it", "them", "this", "these"}
_CONTRAST = {"but", "however", "while", "whilst", "whereas", "although", "though", "unlike", "except", "despite",
             "instead", "rather", ";"}  # fmt: skip  # a clause on either side of these is read on its own
# Contrast words that take a noun, not a clause: "Biden, unlike Macron, supports it" says nothing of Macron.
_CONTRAST_PREPOSITIONS = {"unlike", "except", "despite", "instead", "rather"}
_QUANTIFIERS = {"all", "every", "each", "both", "either", "neither", "any", "only", "most", "least", "many", "few",
                "several", "some", "or", "why", "how", "what", "where", "when", "who", "whom", "which",
                "whose", "compare", "compared", "same", "differ", "different"}  # fmt: skip

_WORD = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?|[A-Za-z]+(?:['’][A-Za-z]+)?|[,;:]")


@dataclass(frozen=True)
class _Word:
    raw: str  # as written ("Opposes", "Kishida's")
    low: str  # lower-cased, with "'" for "’"
    stem: str  # the BM25 stem, or the lower-cased word where BM25 drops it as a stop word
    stop: bool = False  # a stop word of BM25 ("and", "not", "the")


def _words(text: str) -> list[_Word]:
    raws = _WORD.findall(text)
    lows = [w.lower().replace("’", "'") for w in raws]
    stems = tokenize([_IRREGULAR.get(low, low) for low in lows]) if raws else []
    return [_Word(r, low, _stem_of(low, s), not s) for r, low, s in zip(raws, lows, stems)]


def _stem_of(low: str, tokens: list[str]) -> str:
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", low):
        return low.replace(",", "")  # "2,000" is 2000
    if re.fullmatch(r"\d+(?:st|nd|rd|th)", low) and low not in _ORDINALS:
        return re.sub(r"\D", "", low)  # "12th" of July is 12
    return tokens[0] if tokens else low


def _stems(words: Sequence[str]) -> set[str]:
    return {w.stem for w in _words(" ".join(words))}


_CONTRARY: dict[str, set[str]] = {}
for _yes, _no in _CONTRARY_GROUPS:
    for _a, _b in ((_yes, _no), (_no, _yes)):
        for _stem in _stems(sorted(_a)):
            _CONTRARY.setdefault(_stem, set()).update(_stems(sorted(_b)))

# A question's word and the plainer words the evidence may say it with ("Does the UK back ...?" is answered by
# "... support it"). One way only: evidence saying "back" can mean "push back", so "back" is never read there.
_QUESTION_SYNONYMS = {"back": {"support", "endorse", "favour", "favor"}, "favour": {"support", "endorse"},
                      "favor": {"support", "endorse"}, "endorse": {"support", "favour", "favor"},
                      "support": {"favour", "favor", "endorse"}, "oppose": {"opposed", "against"},
                      "against": {"oppose", "opposed"}}  # fmt: skip
_SYNONYMS: dict[str, set[str]] = {}
for _word, _said in _QUESTION_SYNONYMS.items():
    for _stem in _stems([_word]):
        _SYNONYMS.setdefault(_stem, set()).update(_stems(sorted(_said)))
        _CONTRARY.setdefault(_stem, set()).update(*(_CONTRARY.get(s, set()) for s in _stems(sorted(_said))))


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
    """"Japan not a member of NATO" -> "Japan a member of NATO": the question's own negation does not change
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
    """"NATO" for "North Atlantic Treaty Organization" and for "NATO" itself."""
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
        w.low for w in clause.words if w.stem in {item.stem for item in claim.items}}
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


_TIME_WORDS = {"last", "next", "ago", "early", "earlier", "late", "later", "again", "yesterday", "today", "now",
               "then", "since", "until", "when", "after", "before", "because", "while", "where", "which", "who",
               "that", "amid", "despite", "following", "year", "years", "week", "weeks", "month", "months", "day",
               "days", "once", "twice", "too", "instead", "alone", "together", "overnight"}  # fmt: skip


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
    """"He opposes the plan" after a sentence led by Macron: "he" is Macron, when no other name comes first."""
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


def _ends_phrase(words: list[_Word], i: int) -> bool:
    """Whether nothing qualifies the word at ``i``: "the plan." points back, "the plan to expand" does not."""
    if i + 1 >= len(words):
        return True
    after = words[i + 1]
    return not after.raw[0].isalnum() or after.low.endswith("ly") or \
        after.low in _TIME_WORDS - {"that", "which", "who", "where"} or after.low in ("and", "but", "because")


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


def _of_item(claim: _Claim, words: list[_Word], start: int) -> bool:
    """"member of NATO" for "a NATO member": "of" right after a word of the question."""
    return words[start - 1].low == "of" and start > 1 and words[start - 2].stem in {i.stem for i in claim.items}


# Words that open another clause or phrase between a subject and its verb; only "that he" and a relative
# pronoun right after the subject ("Sweden, which is not a member") keep the subject.
_LINKS = {"and", "or", "because", "since", "after", "before", "when", "while", "as", "so", "until", "where",
          "who", "whom", "which", "that", "whose", "if", "though", "once", "said", "says"}  # fmt: skip


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


def _is_question_name(claim: _Claim, stems: tuple[str, ...], acronym: str) -> bool:
    return any(_same_name(n, a, stems, acronym) for n, a in zip(claim.names, claim.acronyms))


def _behind(words: list[_Word], start: int, before: set[str]) -> bool:
    """Whether the word before ``start`` is one of ``before`` (a possessive "Japan's" before it counts too)."""
    return start > 0 and (words[start - 1].low in before or words[start - 1].low.endswith("'s") and
                          start > 1 and words[start - 2].low in before)  # fmt: skip


def _hedged(claim: _Claim, span: list[str], exempt: set[str]) -> bool:
    """Whether the claim's words stand under a hedge; "will" only hedges a question not asked in "will"."""
    hedges = _HEDGES - {"will"} if claim.aux == "will" else _HEDGES
    return any(w in hedges and w not in exempt for w in span)


def _negations(lows: list[str], start: int, end: int, exempt: set[str]) -> list[str] | None:
    """The negations over the claim: inside its span, or "neither" just before it; None when a negation stands
    before the span, where it may or may not reach into it."""
    found = [w for w in lows[start : end + 1] if _negates(w) and w not in exempt]
    if "neither" in found or (start and lows[start - 1] == "neither"):
        return [w for w in found if w not in ("neither", "nor")] + ["neither"]
    if any(_negates(w) for w in lows[:start]):
        return None  # "It is not true that ...", "No, Japan is ...": where it reaches is not read
    return found


def _marked(lows: list[str], i: int) -> str:
    """A word, or what it stands for before the next: "yet to" negates, "nearly 70" is a number's comparator."""
    after = lows[i + 1] if i + 1 < len(lows) else ""
    if lows[i] == "yet" and after == "to":
        return "yet-to"
    number = after[:1].isdigit() or after in _NUMBER_WORDS
    return f"{lows[i]}-number" if number and lows[i] in _COMPARATOR_WORDS else lows[i]


def _negates(word: str) -> bool:
    return word in _NEGATORS or word.endswith("n't") or word == "yet-to"
