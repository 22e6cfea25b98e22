"""The words a yes/no verdict is read with: auxiliaries, irregular verbs, titles, negators, hedges, contraries and
synonyms (as BM25 stems where compared with stems), and the negation rules that use them (qa/verdicts.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.retrieval import tokenize
from qa.text.words import IRREGULAR_VERBS, NAME_TITLES, stems

# --- words ------------------------------------------------------------------------------------------------

_AUX = {"is": "is", "are": "is", "was": "is", "were": "is", "do": "do", "does": "do", "did": "do", "has": "have",
        "have": "have", "had": "have", "will": "will", "wo": "will", "ca": "can", "can": "can", "could": "can",
        "would": "can", "should": "can", "may": "can", "might": "can", "must": "can", "shall": "can"}  # fmt: skip
# Past forms the stemmer leaves apart from their verb (qa/text/words.py).
_IRREGULAR = IRREGULAR_VERBS
# Words of a question that carry no claim of their own.
_FILLER = {"do", "does", "did", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "having",
           "he", "she", "his", "her", "its", "their", "they", "them", "him", "we", "our", "you", "your", "i", "me",
           "my", "this", "that", "these", "those", "ever", "really", "actually", "also", "still", "already",
           "indeed", "even", "yet", "so", "just", "from", "to", "of", "in", "on", "at", "by", "with", "for",
           "about", "into", "as", "the", "a", "an", "there", "it", "which", "who", "s"}  # fmt: skip
# Titles before a name, as stems; a claim's names also drop these honorifics and offices ("Sir Keir", "Senator X").
_TITLES = stems(NAME_TITLES | {"sir", "lord", "senator", "governor"})
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


def _marked(lows: list[str], i: int) -> str:
    """A word, or what it stands for before the next: "yet to" negates, "nearly 70" is a number's comparator."""
    after = lows[i + 1] if i + 1 < len(lows) else ""
    if lows[i] == "yet" and after == "to":
        return "yet-to"
    number = after[:1].isdigit() or after in _NUMBER_WORDS
    return f"{lows[i]}-number" if number and lows[i] in _COMPARATOR_WORDS else lows[i]


def _negates(word: str) -> bool:
    return word in _NEGATORS or word.endswith("n't") or word == "yet-to"


def _negations(lows: list[str], start: int, end: int, exempt: set[str]) -> list[str] | None:
    """The negations over the claim: inside its span, or "neither" just before it; None when a negation stands
    before the span, where it may or may not reach into it."""
    found = [w for w in lows[start : end + 1] if _negates(w) and w not in exempt]
    if "neither" in found or (start and lows[start - 1] == "neither"):
        return [w for w in found if w not in ("neither", "nor")] + ["neither"]
    if any(_negates(w) for w in lows[:start]):
        return None  # "It is not true that ...", "No, Japan is ...": where it reaches is not read
    return found


def _behind(words: list[_Word], start: int, before: set[str]) -> bool:
    """Whether the word before ``start`` is one of ``before`` (a possessive "Japan's" before it counts too)."""
    return start > 0 and (words[start - 1].low in before or words[start - 1].low.endswith("'s") and
                          start > 1 and words[start - 2].low in before)  # fmt: skip


# Words that open another clause or phrase between a subject and its verb; only "that he" and a relative
# pronoun right after the subject ("Sweden, which is not a member") keep the subject.
_LINKS = {"and", "or", "because", "since", "after", "before", "when", "while", "as", "so", "until", "where",
          "who", "whom", "which", "that", "whose", "if", "though", "once", "said", "says"}  # fmt: skip


_TIME_WORDS = {"last", "next", "ago", "early", "earlier", "late", "later", "again", "yesterday", "today", "now",
               "then", "since", "until", "when", "after", "before", "because", "while", "where", "which", "who",
               "that", "amid", "despite", "following", "year", "years", "week", "weeks", "month", "months", "day",
               "days", "once", "twice", "too", "instead", "alone", "together", "overnight"}  # fmt: skip


def _ends_phrase(words: list[_Word], i: int) -> bool:
    """Whether nothing qualifies the word at ``i``: "the plan." points back, "the plan to expand" does not."""
    if i + 1 >= len(words):
        return True
    after = words[i + 1]
    return (
        not after.raw[0].isalnum()
        or after.low.endswith("ly")
        or after.low in _TIME_WORDS - {"that", "which", "who", "where"}
        or after.low in ("and", "but", "because")
    )
