"""The closed word classes and the tokenizer that qa/lists.py and qa/list_questions.py read lists with: no
part-of-speech tagger, just English function words, a few verb forms and capital letters."""

from __future__ import annotations

import re
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------------------------
# Word classes. Closed-class words are what make rules without a tagger work: an item of a list is a run of
# open-class words, and these mark where it starts or stops.
_DET = {"the", "a", "an", "its", "their", "his", "her", "our", "your", "my", "this", "these", "those"}
_BOTH = {"both", "either", "neither"}  # "both A and B": not part of A
_QUANT = {"many", "other", "several", "some", "all", "most", "few", "key", "various", "two", "three", "four"}
_PREP = set(
    "in on at for from with by to into onto over under about after before during since until between among "
    "amid against across through within without toward towards via per near around beyond despite "
    "following like than upon off out up down".split()
)
_AUX = set(
    "is are was were be been being am has have had do does did will would shall should can could may might must".split()
)
_PRONOUN = set(
    "i you he she it we they me him us them who whom whose which that what where when why how there "
    "itself themselves".split()
)
_CONJ = set("and or nor but yet so because while whereas although though if unless as whether then".split())
_ADVERB = set(
    "however meanwhile moreover furthermore also still instead indeed nevertheless now already just only "
    "even not never too again further earlier later recently previously currently today yesterday "
    "tomorrow here no".split()
)
_SAY = set(
    "said says say told tells believe believes believed think thinks thought announced claimed added noted "
    "stated warned argued insisted reported suggested confirmed expects expected hopes hoped".split()
)
_VERB = _SAY | set(
    "met meets went goes came comes made makes took takes gave gives held holds led leads won lost "
    "sent left kept began become became saw sees knew brought spoke wrote chose rose fell ran paid "
    "sought fought built spent stood got gets put".split()
)
_MODAL = set("will would shall should can could may might must do does did".split())
_FUNCTION = _PREP | _AUX | _PRONOUN | _CONJ | _ADVERB | _DET
_STOP = _FUNCTION | _VERB
_OBJECT = {"it", "them", "him", "her", "us", "me", "this", "these", "those"}
_CONNECT = {"of", "for", "de", "du", "da", "del", "von", "van", "al", "bin", "la", "le"}  # inside names
_INTRODUCER = re.compile(r"such as|including|namely|notably|especially|particularly|for (?:example|instance)|"
                         r"among them", re.IGNORECASE)  # fmt: skip
_TIME = re.compile(r"^(?:(?:last|next|this|earlier|later|early|late)\s+)?(?:week|month|year|weekend|morning|"
                   r"evening|night|day|(?:mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|may|"
                   r"june|july|august|september|october|november|december)s?$", re.IGNORECASE)  # fmt: skip

# A word: U.S./U.K. (also U.S.-led), Mr./Inc. and an initial before a name, a number, or letters joined by ' & -.
_WORD = (
    r"(?:[A-Z]\.){2,}(?:-\w+)*|(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Gen|Lt|Col|Gov|Sen|Rep|Prof|Inc|Co|Corp|Ltd|No|vs|"
    r"Jan|Feb|Aug|Sept?|Oct|Nov|Dec)\.|[A-Z]\.(?=\s+[A-Z])|[$€£]?\d+(?:[.,:]\d+)*%?|\w+(?:['’&-]\w+)*"
)
_TOKEN = re.compile(rf"(?P<intro>\b(?i:{_INTRODUCER.pattern})\b)|(?P<conj>\b(?i:and|or|nor|as\s+well\s+as)\b)"
                    rf"|(?P<word>{_WORD})|(?P<comma>,)|(?P<bound>[^\s,])")  # fmt: skip


@dataclass(frozen=True)
class _Tok:
    kind: str  # word, comma, conj, intro, bound
    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower()

    @property
    def cap(self) -> bool:
        return self.text[0].isupper()


@dataclass
class _Seg:
    """Words between two separators; comma/conj: what separates it from the segment before."""

    words: list[_Tok]
    comma: bool = False
    conj: bool = False


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.lastgroup or "bound", m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _plural(word: str) -> bool:
    """A plural by its ending ("countries", not "news", "status", "crisis", "Japan's")."""
    w = word.lower()
    if w in _IRREGULAR_PLURAL:
        return True
    return (len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "ics", "'s", "’s"))
            and w not in ("news", "series", "species"))  # fmt: skip


_IRREGULAR_PLURAL = {
    "people",
    "men",
    "women",
    "children",
    "police",
    "media",
    "personnel",
    "criteria",
    "them",
    "these",
    "those",
    "ones",
}
