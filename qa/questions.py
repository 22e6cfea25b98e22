"""What kind of answer a question gets (``analyse``), and what it is about."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """The kinds of answer; each has its own piece in qa.answering: ``ExtractiveAnswerer`` for facts and why/how,
    ``answer_<kind>`` for the others."""

    FACT = "fact"  # the reader's short answer and the sentence holding it
    WHY = "why"  # a fact whose quote also takes the sentence it leans on
    YES_NO = "yes_no"  # the evidence quoted, "The articles say: ..."
    MENTION = "mention"  # which articles name a term, how often, an example each
    OVERVIEW = "overview"  # a digest of distinct cited sentences about a topic
    SUMMARY = "summary"  # an article's lead sentences


@dataclass(frozen=True)
class Question:
    """A standalone question, its kind and, for overviews, mentions and summaries, what it is about."""

    text: str
    kind: Kind
    topic: str = ""  # OVERVIEW: the subject; MENTION: the term; SUMMARY: the article named ("" = every article)
    every_article: bool = False  # MENTION: "do both/all articles mention ...?"


# --- what kind of answer ----------------------------------------------------------------------------------

_ARTICLES = r"(?:the\s+)?(?:articles?|stories|story|texts?|pieces?|sources|reports?|news|press|coverage)"
_MENTION = [
    re.compile(
        r"^(?:is|are|was|were)\s+(?P<topic>.+?)\s+(?:ever\s+|even\s+|also\s+)?(?:mentioned|named|cited|"
        r"referred\s+to)\b(?:\s+(?:in|by)\s+(?P<every>both|all|each|every)?.*)?$",
        re.I,
    ),  # fmt: skip
    re.compile(
        r"^(?:do|does|did)\s+(?P<every>both|all|each|every|the\s+two)?\s*(?:of\s+)?"
        + _ARTICLES
        + r"?\s*(?:ever\s+|also\s+)?(?:mention|name|cite|refer\s+to)\s+(?P<topic>.+)$",
        re.I,
    ),  # fmt: skip
    re.compile(
        r"^(?:which|what)\s+(?:articles?|stories|sources)\s+(?:mention|name|cite|refer\s+to)\s+(?P<topic>.+)$", re.I
    ),  # fmt: skip
    re.compile(
        r"^how\s+(?:often|many\s+times)\s+(?:is|are|was|were|does|do)\s+(?P<topic>.+?)\s+(?:mentioned|named|"
        r"cited|appear)\b.*$",
        re.I,
    ),  # fmt: skip
    re.compile(
        r"^(?:is|was)\s+there\s+(?:any\s+|a\s+)?mention\s+of\s+(?P<topic>.+?)(?:\s+in\s+(?P<every>both|all|each|"
        r"every)?.*)?$",
        re.I,
    ),  # fmt: skip
    re.compile(
        r"^(?:does|do|did)\s+(?P<topic>.+?)\s+(?:appear|come\s+up|feature)(?:\s+in\s+(?P<every>both|all|each|"
        r"every)?.*)?$",
        re.I,
    ),  # fmt: skip
]
_SUMMARY = [
    re.compile(
        r"^(?:please\s+)?(?:summari[sz]e|sum\s+up|give\s+(?:me\s+)?(?:a\s+)?summary\s+of|recap)\s+"
        r"(?:the\s+|this\s+|each\s+|both\s+)?(?P<topic>.*?)\s*(?:articles?|stories|story|pieces?)?$",
        re.I,
    ),  # fmt: skip
    re.compile(r"^what\s+(?:is|are)\s+(?:the\s+)?(?P<topic>.*?)\s*(?:articles?|stories|story|pieces?)\s+about$", re.I),
]
_OVERVIEW = [
    re.compile(
        r"^what\s+(?:do|does|did)\s+" + _ARTICLES + r"\s+(?:say|tell(?:\s+us)?|report|write)\s+"
        r"(?:about|on|regarding|of)\s+(?P<topic>.+)$",
        re.I,
    ),  # fmt: skip
    re.compile(
        r"^(?:please\s+)?tell\s+me\s+(?:more\s+|a\s+bit\s+|something\s+|everything\s+)?about\s+(?P<topic>.+)$", re.I
    ),  # fmt: skip
    re.compile(r"^what\s+(?:happened|took\s+place|went\s+on)\s+(?:at|in|to|during|with|on)\s+(?P<topic>.+)$", re.I),
    re.compile(
        r"^(?:what\s+is\s+(?:known|said|reported)\s+about|give\s+(?:me\s+)?an?\s+overview\s+of|"
        r"overview\s+of|(?:what|how)\s+about)\s+(?P<topic>.+)$",
        re.I,
    ),  # fmt: skip
]
_WHY = re.compile(r"^(?:why|how\s+come|how(?!\s+(?:many|much|long|old|often|far|big|large|soon|tall|early|late|"
                  r"fast|high)\b)|for\s+what\s+reason|what\s+(?:is|was|were|are)\s+the\s+reasons?)\b",
                  re.I)  # fmt: skip
_YES_NO = re.compile(r"^(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might|must)\b",
                     re.I)  # fmt: skip


def analyse(question: str) -> Question:
    """The one place that decides what kind of answer a (standalone) question gets."""
    text = question.strip()
    bare = _bare(text)
    for kind, patterns in ((Kind.MENTION, _MENTION), (Kind.SUMMARY, _SUMMARY), (Kind.OVERVIEW, _OVERVIEW)):
        for pattern in patterns:
            if m := pattern.match(bare):
                every = bool(m.groupdict().get("every"))
                return Question(text, kind, _topic(m.group("topic"), kind), every_article=every)
    if _WHY.match(bare):
        return Question(text, Kind.WHY)
    if _YES_NO.match(bare):
        return Question(text, Kind.YES_NO)
    return Question(text, Kind.FACT)


def _bare(question: str) -> str:
    """A question without its closing punctuation."""
    return re.sub(r"[\s?.!]+$", "", question.strip())


def _topic(raw: str, kind: Kind) -> str:
    topic = raw.strip().strip("\"'“”‘’")
    if kind is Kind.SUMMARY:
        topic = re.sub(r"^(?:the|this|that)\s+|\s*(?:'s|’s)$", "", topic, flags=re.I).strip()
        return "" if topic.lower() in ("", "the", "these", "all", "both", "each", "two", "all the") else topic
    if kind is Kind.MENTION:
        topic = re.sub(r"\s+(?:in|by)\s+(?:the|both|any|all|either)\b.*$", "", topic, flags=re.I)
        topic = re.sub(r"^(?:the\s+)?(?:name|word|term)\s+", "", topic, flags=re.I)
        return topic.strip().strip("\"'“”‘’")
    return topic
