"""Question analysis: what kind of answer a question gets, and follow-ups made standalone.

Extractive mode works without a language model, so a follow-up is rewritten by rules: a pronoun takes the
entity it refers to (the previous short answer when that names someone or something, else the previous
question's subject), and an elliptical follow-up ("Why?", "And South Korea?") is rebuilt from the previous
standalone question.

>>> earlier = [Turn("Who is NATO's Secretary General?", "Jens Stoltenberg")]
>>> resolve_follow_up("What did he say about Japan?", earlier)
'What did Jens Stoltenberg say about Japan?'
>>> resolve_follow_up("Why?", [Turn("Who opposes the Tokyo liaison office?", "President Emmanuel Macron")])
'Why does President Emmanuel Macron oppose the Tokyo liaison office?'
>>> analyse("Is China mentioned?").kind, analyse("Is China mentioned?").topic
(<Kind.MENTION: 'mention'>, 'China')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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


@dataclass(frozen=True)
class Turn:
    """An earlier turn: the question as it was searched, the short answer it got ("" when none) and the passages
    its answer quoted."""

    question: str
    answer: str = ""
    quoted: tuple[tuple[str, int, int], ...] = ()  # (article id, start, end) of each quote, for a follow-up to read


# --- what kind of answer ----------------------------------------------------------------------------------

_ARTICLES = r"(?:the\s+)?(?:articles?|stories|story|texts?|pieces?|sources|reports?|news|press|coverage)"
_MENTION = [
    re.compile(r"^(?:is|are|was|were)\s+(?P<topic>.+?)\s+(?:ever\s+|even\s+|also\s+)?(?:mentioned|named|cited|"
               r"referred\s+to)\b(?:\s+(?:in|by)\s+(?P<every>both|all|each|every)?.*)?$", re.I),  # fmt: skip
    re.compile(r"^(?:do|does|did)\s+(?P<every>both|all|each|every|the\s+two)?\s*(?:of\s+)?" + _ARTICLES +
               r"?\s*(?:ever\s+|also\s+)?(?:mention|name|cite|refer\s+to)\s+(?P<topic>.+)$", re.I),  # fmt: skip
    re.compile(r"^(?:which|what)\s+(?:articles?|stories|sources)\s+(?:mention|name|cite|refer\s+to)\s+(?P<topic>.+)$",
               re.I),  # fmt: skip
    re.compile(r"^how\s+(?:often|many\s+times)\s+(?:is|are|was|were|does|do)\s+(?P<topic>.+?)\s+(?:mentioned|named|"
               r"cited|appear)\b.*$", re.I),  # fmt: skip
    re.compile(r"^(?:is|was)\s+there\s+(?:any\s+|a\s+)?mention\s+of\s+(?P<topic>.+?)(?:\s+in\s+(?P<every>both|all|each|"
               r"every)?.*)?$", re.I),  # fmt: skip
    re.compile(r"^(?:does|do|did)\s+(?P<topic>.+?)\s+(?:appear|come\s+up|feature)(?:\s+in\s+(?P<every>both|all|each|"
               r"every)?.*)?$", re.I),  # fmt: skip
]
_SUMMARY = [
    re.compile(r"^(?:please\s+)?(?:summari[sz]e|sum\s+up|give\s+(?:me\s+)?(?:a\s+)?summary\s+of|recap)\s+"
               r"(?:the\s+|this\s+|each\s+|both\s+)?(?P<topic>.*?)\s*(?:articles?|stories|story|pieces?)?$",
               re.I),  # fmt: skip
    re.compile(r"^what\s+(?:is|are)\s+(?:the\s+)?(?P<topic>.*?)\s*(?:articles?|stories|story|pieces?)\s+about$", re.I),
]
_OVERVIEW = [
    re.compile(r"^what\s+(?:do|does|did)\s+" + _ARTICLES + r"\s+(?:say|tell(?:\s+us)?|report|write)\s+"
               r"(?:about|on|regarding|of)\s+(?P<topic>.+)$", re.I),  # fmt: skip
    re.compile(r"^(?:please\s+)?tell\s+me\s+(?:more\s+|a\s+bit\s+|something\s+|everything\s+)?about\s+(?P<topic>.+)$",
               re.I),  # fmt: skip
    re.compile(r"^what\s+(?:happened|took\s+place|went\s+on)\s+(?:at|in|to|during|with|on)\s+(?P<topic>.+)$", re.I),
    re.compile(r"^(?:what\s+is\s+(?:known|said|reported)\s+about|give\s+(?:me\s+)?an?\s+overview\s+of|"
               r"overview\s+of|(?:what|how)\s+about)\s+(?P<topic>.+)$", re.I),  # fmt: skip
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


# --- follow-ups -------------------------------------------------------------------------------------------

# Capitalised words in a row; a word ending a sentence ("Japan." but not "Mr." or "U.S.") ends the name.
_ENTITY = re.compile(r"\b[A-Z][\w'’.-]*(?:(?<![a-z]{3}\.)\s+(?:of\s+|the\s+|de\s+|von\s+)?[A-Z][\w'’.-]*)*")
_QUESTION_WORDS = {"who", "what", "when", "where", "why", "how", "which", "did", "does", "do", "is", "are", "was",
                   "were", "and", "the", "a", "an", "in", "of", "can", "could", "would", "should", "tell", "i",
                   "has", "have", "had", "will", "whom", "whose", "summarize", "summarise", "give", "me"}  # fmt: skip
_MONTHS = re.compile(r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?$", re.I)
_NOUN_PHRASE = re.compile(
    r"\b(?:the|a|an|this|that)\s+(?:[\w'’-]+\s+){0,4}?[\w'’-]+(?=\s+(?:in|on|at|of|for|to|with|from|by|about|"
    r"during|after|before|and|or|is|are|was|were|be|been|do|does|did|has|have|had|will|would|can|could|should|"
    r"say|says|said)\b|\s*$)", re.I)  # fmt: skip
_PERSON = r"he|she|him|her|his|hers|himself|herself"
_PLURAL = r"they|them|their|theirs|themselves|the\s+two(?:\s+(?:men|women|leaders|sides|countries))?|both\s+of\s+them"
_PRONOUN = re.compile(rf"\b(?:(?P<person>{_PERSON})|(?P<plural>{_PLURAL})|(?P<thing>it|its(?!\s+(?:kind|own)\b))|"
                      rf"(?P<place>there))\b", re.I)  # "the first of its kind" refers to nothing before
_PLACE_NOUNS = {"city", "country", "place", "town", "capital", "region", "state", "nation", "village", "venue"}
_PERSON_NOUNS = {"person", "leader", "president", "minister", "official", "man", "woman", "envoy", "spokesperson"}
_DEMONSTRATIVE = re.compile(r"\b(?:that|this|these|those)\s+(?P<noun>[a-z][\w-]*)\b")
_POSSESSIVE = {"his", "her", "hers", "their", "theirs", "its"}
_ELLIPTICAL_WH = re.compile(
    r"^(?:and\s+|but\s+|so\s+)?(?P<wh>why|when|where|how|who|how\s+come|for\s+what\s+reason|since\s+when)"
    r"(?:\s+(?:is|was|did|does)\s+(?:that|this|it)|\s+so|\s+exactly|\s+then)?\s*[?.!]*$", re.I)  # fmt: skip
_ELLIPTICAL_SAID = re.compile(r"^(?P<who>who|which\s+\w+)\s+(?P<verb>said|says|reported|claimed|stated|announced|"
                              r"confirmed|wrote)\s+(?:so|that|this|it)\s*[?.!]*$", re.I)  # fmt: skip
_MORE = re.compile(r"^(?:(?:please\s+)?tell\s+me\s+more|go\s+on|what\s+else|anything\s+else)"
                   r"(?:\s+(?:about\s+(?:it|that|this|him|her|them)|please))?\s*[?.!]*$", re.I)  # fmt: skip
_ELLIPTICAL_TOPIC = re.compile(r"^(?:and|but|what\s+about|how\s+about|and\s+what\s+about|what\s+of|and\s+for)\s+"
                               r"(?P<topic>.+?)\s*[?.!]*$", re.I)  # fmt: skip
_AUX = re.compile(r"^(?P<aux>did|does|do|is|are|was|were|has|have|had|will|can|could|would|should)\s+(?P<rest>.+)$",
                  re.I)  # fmt: skip
_WH_START = re.compile(r"^(?P<wh>who|whom|what|which(?:\s+\w+)?|when|where|why|how(?:\s+(?:many|much)\s+\w+|"
                       r"\s+(?:long|old|often|far))?)\s+(?P<rest>.+)$", re.I)  # fmt: skip
# Past tenses that take "did" when a subject question is turned round ("Who met X?" -> "Why did A meet X?").
_IRREGULAR = {"met": "meet", "said": "say", "told": "tell", "led": "lead", "won": "win", "took": "take",
              "gave": "give", "made": "make", "went": "go", "saw": "see", "held": "hold", "spoke": "speak",
              "wrote": "write", "sent": "send", "left": "leave", "sought": "seek", "found": "find",
              "brought": "bring", "thought": "think", "chose": "choose", "became": "become", "began": "begin",
              "fought": "fight", "stood": "stand", "kept": "keep", "paid": "pay", "ran": "run"}  # fmt: skip


def key_entities(text: str) -> list[str]:
    """Capitalised names and phrases of a text, without question words, e.g. ["Kishida", "Vilnius"]."""
    phrases = (text[start:end].rstrip(".?!,") for start, end in _entity_spans(text))
    return list(dict.fromkeys(p for p in phrases if p))


def is_entity(answer: str) -> bool:
    """Whether a short answer names a person, place or organisation: a few capitalised words, not a date."""
    words = answer.strip().strip("\"'“”").split()
    if not 1 <= len(words) <= 8 or _MONTHS.match(words[0]):
        return False
    names = [w for w in words if w.lower() not in ("of", "the", "and", "de", "von", "for", "la")]
    return bool(names) and all(w[0].isupper() for w in names) and not any(c.isdigit() for c in answer)


def resolve_follow_up(question: str, history: Sequence[Turn]) -> str:
    """``question`` made standalone from the earlier turns (as searched, with their short answers)."""
    if not history:
        return question
    previous = history[-1]
    text = question.strip()
    if m := _ELLIPTICAL_WH.match(text):
        return _rebuild(previous, m.group("wh").lower())
    if _MORE.match(text):
        return f"Tell me about {_subject(previous)}" if _subject(previous) else question
    if m := _ELLIPTICAL_SAID.match(text):
        return f"{m.group('who')} {m.group('verb')} {_statement(previous)}?"
    if (m := _ELLIPTICAL_TOPIC.match(text)) and not _PRONOUN.search(m.group("topic")):
        return _swap_topic(previous.question, m.group("topic"))
    if _PRONOUN.search(text) or _DEMONSTRATIVE.search(text):
        return _substitute_demonstratives(_substitute_pronouns(text, previous), previous)
    return question


def _referent(kind: str, previous: Turn) -> str:
    """The entity a pronoun of this kind (person, plural, thing, place) points back to."""
    asked = _bare(previous.question)
    wh = _asks_for(asked)
    answer = previous.answer.strip() if is_entity(previous.answer) else ""
    entities = key_entities(asked)
    phrases = [m.group() for m in _NOUN_PHRASE.finditer(asked)]
    if kind == "person":
        return answer if answer and wh != "where" else next(iter(entities), answer)
    if kind == "plural":
        if answer and entities and wh in ("who", "what"):
            return f"{entities[0]} and {answer}"
        if wh in ("where", "when") or not answer:  # "they" after "Where did A meet B?" are A and B
            return " and ".join(entities[:2]) if entities else answer
        return answer
    if kind == "place":
        return answer if answer and wh == "where" else (entities[-1] if entities else "")
    if phrases:  # "it" is most often the thing the previous question was about
        return phrases[0]
    if answer and wh in ("what", "where"):
        return answer
    if wh == "what" and _is_noun_phrase(previous.answer):
        return f"the {previous.answer.strip()}" if previous.answer.strip()[0].islower() else previous.answer.strip()
    return entities[-1] if entities else ""


def _asks_for(question: str) -> str:
    """What a question asks for: "who", "where" (also "in which city ..."), "what" (also "which ..."), or ""."""
    m = re.search(r"\b(who|whom|where|what|which(?P<nouns>(?:\s+\w+){0,2})|when|why|how)\b", question, re.I)
    if not m:
        return ""
    word = m.group(1).split()[0].lower()
    if word == "which":  # "which city", "which French president"
        nouns = set((m.group("nouns") or "").lower().split())
        return "where" if nouns & _PLACE_NOUNS else "who" if nouns & _PERSON_NOUNS else "what"
    return "who" if word == "whom" else word


def _subject(previous: Turn) -> str:
    """What the previous turn was about: its topic when it asked for an overview, else the name it answered
    with, else the first name or phrase it asked about."""
    asked = analyse(previous.question)
    if asked.topic and asked.kind is Kind.OVERVIEW:
        return asked.topic
    if is_entity(previous.answer):
        return previous.answer.strip()
    bare = _bare(previous.question)
    return next((m.group() for m in _NOUN_PHRASE.finditer(bare)), "") or next(iter(key_entities(bare)), "")


def _substitute_demonstratives(question: str, previous: Turn) -> str:
    """"that mission" -> "the Chinese mission" when the previous question named a mission that way."""

    def replace(m: re.Match) -> str:
        named = re.search(rf"\b(?:the|a|an)\s+((?:[\w'’-]+\s+){{0,3}}?{re.escape(m.group('noun'))})\b",
                          previous.question, re.I)  # fmt: skip
        return f"the {named.group(1)}" if named else m.group()

    return _DEMONSTRATIVE.sub(replace, question)


def _is_noun_phrase(answer: str) -> bool:
    """A short answer such as "ballistic missile": a few words, no number, no clause."""
    words = answer.split()
    return 1 <= len(words) <= 4 and not re.search(r"\d|[,;:]|\b(?:is|are|was|were|has|have|that)\b", answer)


def _entity_spans(text: str) -> list[tuple[int, int]]:
    """Where the capitalised names of a text are, without leading question words ("Does France" -> "France")."""
    spans = []
    for m in _ENTITY.finditer(text):
        start = m.start()
        for word in m.group().split():
            if word.lower() not in _QUESTION_WORDS:
                break
            start = text.index(word, start) + len(word)
        start = len(text) - len(text[start:].lstrip())
        if start < m.end() and not _MONTHS.match(text[start : m.end()]):
            spans.append((start, m.end()))
    return spans


def _substitute_pronouns(question: str, previous: Turn) -> str:
    def replace(m: re.Match) -> str:
        kind = m.lastgroup or ""
        referent = _referent(kind, previous)
        if not referent:
            return m.group()
        if kind == "place":
            return f"in {referent}" if not re.search(r"\b(?:in|at|to|from)\s+$", question[: m.start()]) else referent
        return f"{referent}'s" if m.group().lower() in _POSSESSIVE else referent

    return _PRONOUN.sub(replace, question)


def _swap_topic(previous: str, topic: str) -> str:
    """"And South Korea?" after "What did Stoltenberg say about Japan?": the last name or phrase swapped."""
    asked = _bare(previous)
    spans = _entity_spans(asked) or [m.span() for m in _NOUN_PHRASE.finditer(asked)]
    if not spans:
        return f"{asked} ({topic})?"
    start, end = spans[-1]
    return f"{asked[:start]}{topic}{asked[end:]}?"


def _rebuild(previous: Turn, wh: str) -> str:
    """"Why?" after "Who opposes the Tokyo liaison office?" (answer Macron): "Why does Macron oppose ...?"."""
    wh = "why" if wh in ("how come", "for what reason") else wh
    asked = _bare(previous.question)
    m = _WH_START.match(asked)
    if not m:
        return f"{wh.capitalize()} {asked[0].lower() + asked[1:]}?" if asked else wh.capitalize() + "?"
    rest, answer = m.group("rest"), previous.answer.strip()
    asked_for_a_name = m.group("wh").split()[0].lower() in ("who", "whom", "what", "which")
    if answer and is_entity(answer) and asked_for_a_name and not _AUX.match(rest):
        verb, _, obj = rest.partition(" ")
        return f"{wh.capitalize()} {_turned_round(answer, verb, obj)}?"
    if answer and asked_for_a_name and (is_entity(answer) or _is_noun_phrase(answer)) and (aux := _AUX.match(rest)):
        return f"{wh.capitalize()} {aux.group('aux').lower()} {_with_object(aux.group('rest'), answer)}?"
    return f"{wh.capitalize()} {rest}?"


def _statement(previous: Turn) -> str:
    """The previous question and its answer as a statement: "How long was the rocket in the air?" answered
    "70 minutes" -> "the rocket was in the air 70 minutes" (the question's words, reordered, when it can)."""
    asked = _bare(previous.question)
    m = _WH_START.match(asked)
    clause = m.group("rest") if m else asked
    if aux := _AUX.match(clause):
        subject = _NOUN_PHRASE.match(aux.group("rest")) or re.match(r"(?:[A-Z][\w'’.-]*\s*)+", aux.group("rest"))
        if subject:
            verb = "" if aux.group("aux").lower() in ("did", "does", "do") else f" {aux.group('aux').lower()}"
            clause = f"{subject.group().strip()}{verb} {aux.group('rest')[subject.end():].strip()}"
    answer = previous.answer.strip()
    return f"{clause} {answer}".strip() if answer and answer.lower() not in clause.lower() else clause


def _turned_round(subject: str, verb: str, rest: str) -> str:
    """"Macron", "opposes", "the plan" -> "does Macron oppose the plan" (a statement when the verb is unknown)."""
    lower = verb.lower()
    if lower in _IRREGULAR:
        return f"did {subject} {_IRREGULAR[lower]} {rest}".strip()
    if lower in ("is", "are", "was", "were", "has", "have", "had"):
        return f"{lower} {subject} {rest}".strip()
    if re.fullmatch(r"[a-z]+(?:ss|sh|ch|x|z|o)es", lower):
        return f"does {subject} {lower[:-2]} {rest}".strip()
    if lower.endswith("ies"):
        return f"does {subject} {lower[:-3]}y {rest}".strip()
    if lower.endswith("s") and not lower.endswith("ss"):
        return f"does {subject} {lower[:-1]} {rest}".strip()
    return f"{subject} {verb} {rest}".strip()


def _with_object(clause: str, answer: str) -> str:
    """"Kishida meet in Vilnius" + "Stoltenberg" -> "Kishida meet Stoltenberg in Vilnius" (after the verb)."""
    m = re.match(r"^(?P<subject>(?:(?:the|a|an)\s+)?(?:[A-Z][\w'’.-]*\s+)+|\w+\s+)(?P<verb>[a-z]\w*)(?P<rest>.*)$",
                 clause)  # fmt: skip
    if not m:
        return f"{clause} {answer}"
    return f"{m.group('subject')}{m.group('verb')} {answer}{m.group('rest')}"
