"""Follow-ups made standalone by rules (extractive mode works without a language model): a pronoun takes the
entity it refers to (the previous short answer when that names someone or something, else the previous
question's subject), and an elliptical follow-up ("Why?", "And South Korea?") is rebuilt from the previous
standalone question. A "Why?" after a yes/no question asks why the side the articles took holds, never the other,
and a follow-up that refers back by pronoun keeps the place or occasion the previous question named.

>>> from qa.conversation import Turn
>>> earlier = [Turn("Who is NATO's Secretary General?", "Jens Stoltenberg")]
>>> resolve_follow_up("What did he say about Japan?", earlier)
'What did Jens Stoltenberg say about Japan?'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qa.questions import Kind, _bare, analyse
from qa.text.entities import entity_spans, is_entity, key_entities
from qa.text.words import IRREGULAR_VERBS

if TYPE_CHECKING:
    from qa.conversation import Turn

# --- follow-ups -------------------------------------------------------------------------------------------
_NOUN_PHRASE = re.compile(
    r"\b(?:the|a|an|this|that)\s+(?:[\w'’-]+\s+){0,4}?[\w'’-]+(?=\s+(?:in|on|at|of|for|to|with|from|by|about|"
    r"during|after|before|and|or|is|are|was|were|be|been|do|does|did|has|have|had|will|would|can|could|should|"
    r"say|says|said)\b|\s*$)", re.I)  # fmt: skip
_PERSON = r"he|she|him|her|his|hers|himself|herself"
_PLURAL = r"they|them|their|theirs|themselves|the\s+two(?:\s+(?:men|women|leaders|sides|countries))?|both\s+of\s+them"
_PRONOUN = re.compile(
    rf"\b(?:(?P<person>{_PERSON})|(?P<plural>{_PLURAL})|(?P<thing>it|its(?!\s+(?:kind|own)\b))|"
    rf"(?P<place>there))\b",
    re.I,
)  # "the first of its kind" refers to nothing before
_PLACE_NOUNS = {"city", "country", "place", "town", "capital", "region", "state", "nation", "village", "venue"}
_PERSON_NOUNS = {"person", "leader", "president", "minister", "official", "man", "woman", "envoy", "spokesperson"}
_DEMONSTRATIVE = re.compile(r"\b(?:that|this|these|those)\s+(?P<noun>[a-z][\w-]*)\b")
_POSSESSIVE = {"his", "her", "hers", "their", "theirs", "its"}
_ELLIPTICAL_WH = re.compile(
    r"^(?:and\s+|but\s+|so\s+)?(?P<wh>why\s+not|why|when|where|how|who|how\s+come|for\s+what\s+reason|since\s+when)"
    r"(?:\s+(?:is|was|did|does)\s+(?:that|this|it)|\s+so|\s+exactly|\s+then)?\s*[?.!]*$", re.I)  # fmt: skip
_ELLIPTICAL_SAID = re.compile(r"^(?P<who>who|which\s+\w+)\s+(?P<verb>said|says|reported|claimed|stated|announced|"
                              r"confirmed|wrote)\s+(?:so|that|this|it)\s*[?.!]*$", re.I)  # fmt: skip
_MORE = re.compile(r"^(?:(?:please\s+)?tell\s+me\s+more|go\s+on|what\s+else|anything\s+else)"
                   r"(?:\s+(?:about\s+(?:it|that|this|him|her|them)|please))?\s*[?.!]*$", re.I)  # fmt: skip
_ELLIPTICAL_TOPIC = re.compile(r"^(?:and|but|what\s+about|how\s+about|and\s+what\s+about|what\s+of|and\s+for)\s+"
                               r"(?P<topic>.+?)\s*[?.!]*$", re.I)  # fmt: skip
# "And"/"But"/"So" before a question of its own links it to the last turn but is no part of what is searched;
# before a bare name ("And South Korea?") it marks an elliptical follow-up and stays.
_CONNECTIVE = re.compile(r"^(?:and|but|so)\s*,?\s+(?=(?:who|whom|whose|what|which|when|where|why|how|is|are|was|were|"
                         r"do|does|did|has|have|had|can|could|will|would|should|tell|since)\b)", re.I)  # fmt: skip
_AUX = re.compile(r"^(?P<aux>did|does|do|is|are|was|were|has|have|had|will|can|could|would|should)\s+(?P<rest>.+)$",
                  re.I)  # fmt: skip
_WH_START = re.compile(r"^(?P<wh>who|whom|what|which(?:\s+\w+)?|when|where|why|how(?:\s+(?:many|much)\s+\w+|"
                       r"\s+(?:long|old|often|far))?)\s+(?P<rest>.+)$", re.I)  # fmt: skip
# Past tenses that take "did" when a subject question is turned round ("Who met X?" -> "Why did A meet X?"): the
# simple pasts of the shared table (qa/text/words.py) that answers use; participles ("taken") stay statements.
_IRREGULAR = {form: IRREGULAR_VERBS[form] for form in (
    "met", "said", "told", "led", "won", "took", "gave", "made", "went", "saw", "held", "spoke", "wrote", "sent",
    "left", "sought", "found", "brought", "thought", "chose", "became", "began", "fought", "stood", "kept", "paid",
    "ran",
)}  # fmt: skip


def resolve_follow_up(question: str, history: Sequence[Turn]) -> str:
    """``question`` made standalone from the earlier turns (as searched, with their short answers)."""
    if not history:
        return question
    previous = history[-1]
    text = question.strip()
    if _CONNECTIVE.match(text):
        text = _CONNECTIVE.sub("", text)
        question = text = text[0].upper() + text[1:]
    if m := _ELLIPTICAL_WH.match(text):
        return _rebuild(previous, " ".join(m.group("wh").lower().split()))
    if _MORE.match(text):
        return f"Tell me about {_subject(previous)}" if _subject(previous) else question
    if m := _ELLIPTICAL_SAID.match(text):
        return f"{m.group('who')} {m.group('verb')} {_statement(previous)}?"
    if (m := _ELLIPTICAL_TOPIC.match(text)) and not _PRONOUN.search(m.group("topic")):
        return _swap_topic(previous.question, m.group("topic"))
    if _PRONOUN.search(text) or _DEMONSTRATIVE.search(text):
        resolved = _substitute_demonstratives(_substitute_pronouns(text, previous), previous)
        return _keep_setting(text, resolved, previous)
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
    """ "that mission" -> "the Chinese mission" when the previous question named a mission that way."""

    def replace(m: re.Match) -> str:
        named = re.search(rf"\b(?:the|a|an)\s+((?:[\w'’-]+\s+){{0,3}}?{re.escape(m.group('noun'))})\b",
                          previous.question, re.I)  # fmt: skip
        return f"the {named.group(1)}" if named else m.group()

    return _DEMONSTRATIVE.sub(replace, question)


def _is_noun_phrase(answer: str) -> bool:
    """A short answer such as "ballistic missile": a few words, no number, no clause."""
    words = answer.split()
    return 1 <= len(words) <= 4 and not re.search(r"\d|[,;:]|\b(?:is|are|was|were|has|have|that)\b", answer)


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
    """ "And South Korea?" after "What did Stoltenberg say about Japan?": the last name or phrase swapped."""
    asked = _bare(previous)
    spans = entity_spans(asked) or [m.span() for m in _NOUN_PHRASE.finditer(asked)]
    if not spans:
        return f"{asked} ({topic})?"
    start, end = spans[-1]
    return f"{asked[:start]}{topic}{asked[end:]}?"


def _rebuild(previous: Turn, wh: str) -> str:
    """ "Why?" after "Who opposes the Tokyo liaison office?" (answer Macron): "Why does Macron oppose ...?"."""
    wh = "why" if wh in ("how come", "for what reason", "why not") else wh
    if wh == "why" and (why := _why_yes_no(previous)):
        return why
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
            clause = f"{subject.group().strip()}{verb} {aux.group('rest')[subject.end() :].strip()}"
    answer = previous.answer.strip()
    return f"{clause} {answer}".strip() if answer and answer.lower() not in clause.lower() else clause


def _turned_round(subject: str, verb: str, rest: str) -> str:
    """ "Macron", "opposes", "the plan" -> "does Macron oppose the plan" (a statement when the verb is unknown)."""
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
    """ "Kishida meet in Vilnius" + "Stoltenberg" -> "Kishida meet Stoltenberg in Vilnius" (after the verb)."""
    m = re.match(r"^(?P<subject>(?:(?:the|a|an)\s+)?(?:[A-Z][\w'’.-]*\s+)+|\w+\s+)(?P<verb>[a-z]\w*)(?P<rest>.*)$",
                 clause)  # fmt: skip
    if not m:
        return f"{clause} {answer}"
    return f"{m.group('subject')}{m.group('verb')} {answer}{m.group('rest')}"


# --- the place or occasion a follow-up keeps ----------------------------------------------------------------

_OCCASIONS = r"summit|meeting|conference|talks|visit|trip|ceremony|forum|session"
_PROPER = r"[A-Z][\w'’.-]*"
# "at the NATO summit", "in Vilnius": a place or occasion by name; a run of them closing a question is its setting.
# "The start of" is left out: a follow-up asks its own when.
_SETTING = re.compile(rf"\b(?P<prep>at|in|during)\s+(?:the\s+(?:start|beginning|end|close|opening)\s+of\s+)?"
                      rf"(?P<np>(?:the\s+)?(?:\d{{4}}\s+)?(?:{_PROPER}\s+)*(?:{_OCCASIONS})\b|(?:the\s+)?{_PROPER}"
                      rf"(?:\s+{_PROPER})*)(?=\s+(?:at|in|during)\b|\s*$)")  # fmt: skip
# A follow-up that says where or when itself, or asks where, takes no setting from before.
_OWN_SETTING = re.compile(r"\b(?:where|there|here|in|at|on|during|near|from|since|before|after|until|today|"
                          r"yesterday|ago|earlier|later|year|month|week|day)\b", re.I)  # fmt: skip


def _setting(question: str) -> str:
    """The place or occasion closing a question: "at the NATO summit in Vilnius" ("" when none)."""
    bare, parts, end = _bare(question), [], None
    for m in _SETTING.finditer(bare):
        if end is not None and bare[end : m.start()].strip():  # not part of the closing run
            parts = []
        parts.append(f"{m.group('prep')} {m.group('np')}")
        end = m.end()
    return " ".join(parts) if end == len(bare) else ""


def _keep_setting(follow_up: str, resolved: str, previous: Turn) -> str:
    """ "When did they shake hands?" after "Who did Kishida meet at the NATO summit in Vilnius?" keeps "at the
    NATO summit in Vilnius": without it retrieval finds their handshake in Tokyo. Only for a follow-up that
    refers back and names no place, time or subject of its own."""
    setting = _setting(previous.question)
    if not setting or _OWN_SETTING.search(follow_up) or key_entities(follow_up):
        return resolved
    return resolved if setting.lower() in resolved.lower() else f"{_bare(resolved)} {setting}?"


# --- "Why?" after a yes/no question -------------------------------------------------------------------------

# Verbs of contrary sense: each on the left is contrary to each on the right of its pair. A "Why?" after a "no"
# asks with the evidence's own contrary verb when it has one ("he opposes the plan": "Why does Macron oppose ...?").
_CONTRARIES = [("support back favour favor endorse welcome approve accept embrace",
                "oppose reject resist refuse condemn criticise criticize"),
               ("allow permit authorise authorize", "ban prohibit block"), ("include", "exclude"),
               ("increase", "reduce decrease"), ("agree", "disagree"), ("trust", "distrust mistrust")]  # fmt: skip
_DOUBLED = {"ban", "permit"}  # banned, permitting
_HOMOGRAPHS = {"back", "block"}  # as words of evidence only inflected: "pushed back" is no backing
# Nouns of evidence that say what a verb of the table says ("Macron's opposition to a move").
_NOUNS = {"opposition": "oppose", "rejection": "reject", "refusal": "refuse", "resistance": "resist",
          "approval": "approve", "acceptance": "accept", "endorsement": "endorse",
          "criticism": "criticise"}  # fmt: skip
# A "no" verdict's evidence word is negated when one of these stands in the three words before it (fewer than
# qa/verdict_words.py's negators: only the plain ones that turn a verb round).
_NEGATIONS = {"not", "never", "no", "nor", "cannot"}
# Capitalised titles that a subject's name is read without ("President Emmanuel Macron" -> "Emmanuel Macron"),
# matched as written, so unlike qa.text.words.NAME_TITLES they are cased words ("Mr." with its period).
_TITLES = {"President", "Prime", "Minister", "Secretary", "General", "Mr", "Mr.", "Mrs", "Ms", "Dr", "The"}
_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those"}
_YES_NO_AUX = re.compile(r"^(?P<aux>did|does|do|is|are|was|were|has|have|had|will|can|could|would|should|may|might|"
                         r"must|shall)\s+(?P<rest>.+)$", re.I)  # fmt: skip
_CONTRACTED = re.compile(r"^(?P<aux>\w+?)(?:n['’]t|(?<=can)not)\b", re.I)  # "doesn't", "won't", "cannot"
# A named subject: "Macron", "the United States", "President Emmanuel Macron of France"; not "Japan's ...".
_NAMED_SUBJECT = re.compile(r"(?:the\s+)?[A-Z][\w.-]*(?:\s+(?:of\s+|and\s+|the\s+|de\s+)*[A-Z][\w.-]*)*(?=\s+[a-z])")


def _inflect(base: str) -> tuple[str, str, str, str]:
    """The base, -s, -ed and -ing forms of a regular verb: "oppose" -> opposes, opposed, opposing."""
    stem = base + base[-1] if base in _DOUBLED else base
    y = re.search(r"[^aeiou]y$", base)
    s = base + "es" if re.search(r"(?:s|sh|ch|x|z|o)$", base) else base[:-1] + "ies" if y else base + "s"
    ed = base + "d" if base.endswith("e") else base[:-1] + "ied" if y else stem + "ed"
    ing = base[:-1] + "ing" if base.endswith("e") and not base.endswith("ee") else stem + "ing"
    return base, s, ed, ing


_CONTRARY = {verb: set(other.split()) for pair in _CONTRARIES for one, other in (pair, pair[::-1])
             for verb in one.split()}  # fmt: skip
_LEMMA = {form: verb for verb in _CONTRARY for form in _inflect(verb)}  # "opposes" -> "oppose"


def _why_yes_no(previous: Turn) -> str | None:
    """ "Why?" after a yes/no question asks why the articles' side holds, never the other: the answer's verdict,
    unless its evidence says otherwise, when (as with no verdict) it asks both sides. None: not a yes/no question."""
    parts = _yes_no_parts(previous.question)
    if not parts:
        return None
    aux, subject, predicate = parts
    clause = f"{subject} {predicate}".strip()
    side, contrary = _evidence_side(previous.evidence, subject, predicate)
    verdict = previous.verdict if previous.verdict in ("yes", "no") else None
    if verdict is None or side not in (None, verdict):
        return f"Why {aux} or {_negative(aux)} {clause}?"
    if verdict == "yes":
        return f"Why {aux} {clause}?"
    if contrary and (turned := _contrary_predicate(aux, predicate, contrary)):
        return f"Why {aux} {subject} {turned}?"
    return f"Why {aux} {subject} not {predicate}?" if subject else f"Why {_negative(aux)} {clause}?"


def _yes_no_parts(question: str) -> tuple[str, str, str] | None:
    """ "Doesn't Macron support the office?" -> ("does", "Macron", "support the office"): the auxiliary, the
    subject ("" when where it ends cannot be told) and the predicate, without the question's "not"."""
    bare = _bare(question)
    if m := _CONTRACTED.match(bare):
        aux = {"wo": "will", "ca": "can", "sha": "shall"}.get(m.group("aux").lower(), m.group("aux"))
        bare = f"{aux} not{bare[m.end() :]}"
    if not (m := _YES_NO_AUX.match(bare)):
        return None
    clause = re.sub(r"^not\s+", "", m.group("rest"))
    subject, predicate = _split_subject(clause)
    return m.group("aux").lower(), subject, re.sub(r"^not\s+", "", predicate)


def _split_subject(clause: str) -> tuple[str, str]:
    """ "Macron not support the office" -> ("Macron", "not support the office"); a lowercase subject only
    when a verb of the table follows it ("the alliance support ..."); ("", clause) when it cannot be told."""
    if m := _NAMED_SUBJECT.match(clause):
        return m.group(), clause[m.end() :].strip()
    words = clause.split()
    for end in range(2, min(4, len(words))):
        if words[0].lower() in _DETERMINERS and words[end].lower() in _LEMMA:
            return " ".join(words[:end]), " ".join(words[end:])
    return "", clause


def _negative(aux: str) -> str:
    return {"will": "won't", "can": "can't", "shall": "shan't", "may": "may not"}.get(aux, aux + "n't")


def _evidence_side(evidence: str, subject: str, predicate: str) -> tuple[str | None, str]:
    """The side the evidence takes on the predicate ("yes", "no" or None) and, for "no", the contrary verb it
    says it with ("" if none). None unless the evidence names the subject: a verb of someone else's says nothing."""
    names = [w for w in subject.split() if w[0].isupper() and w not in _TITLES] or subject.split()[-1:]
    if not evidence or not any(re.search(rf"\b{re.escape(n)}\b", evidence) for n in names):
        return None, ""
    words = [w.lower() for w in predicate.split()]
    head = words[0] if words and words[0] in _LEMMA else next((w for w in words if len(w) > 3), "")  # "a member"
    asked = _LEMMA.get(head)
    words = re.findall(r"[\w'’]+", evidence.lower())
    for i, word in enumerate(words):
        negated = any(w in _NEGATIONS or w.endswith(("n't", "n’t")) for w in words[max(0, i - 3) : i])
        lemma = _NOUNS.get(word) or (_LEMMA.get(word) if word not in _HOMOGRAPHS else None)
        if asked and lemma in _CONTRARY[asked] and not negated:
            return "no", word
        if (lemma == asked) if asked else word == head:
            return ("no" if negated else "yes"), ""
    return None, ""


def _contrary_predicate(aux: str, predicate: str, word: str) -> str | None:
    """ "support the office" with the evidence's "opposes" -> "oppose the office": the evidence's verb in the
    question's form. None when the predicate's verb is not in the table or is a passive ("is opposed by")."""
    verb, _, rest = predicate.partition(" ")
    asked = _LEMMA.get(verb.lower())
    if not asked:
        return None
    form = _inflect(asked).index(verb.lower())
    if aux in ("is", "are", "was", "were") and form != 3:
        return None
    contrary = _NOUNS.get(word) or _LEMMA[word]
    return f"{_inflect(contrary)[form]} {rest}".strip()
