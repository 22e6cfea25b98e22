"""List answers: questions that ask for several things, and every item of the coordination an answer sits in.

Pure rules over words (no model, no tagger): qa.retrieval.tokenize gives the stems, capitals tell names apart.
The reader returns one short span; these helpers turn it into the whole list the sentence gives, and check that
the sentence gives that list for the relation the question asks about.

>>> question = "Which countries support the liaison office?"
>>> asks_for_several(question)
True
>>> said = "However, the United States, the United Kingdom, and many other NATO members support it."
>>> start = said.index("the United States")
>>> [said[s:e] for s, e in coordinated_items(said, start, start + len("the United States"))]
['the United States', 'the United Kingdom', 'many other NATO members']
>>> plays_role(question, said), plays_role(question, "NATO would consult partners such as Australia and Japan.")
(True, False)
>>> merge_items([["the United States", "Japan"], ["United States", "the UK"]])
['the United States', 'Japan', 'the UK']

Known limits (no part-of-speech tagger):
- A bare verb right before the first item of a lowercase list is taken into it ("They discuss trade, security and
  energy" gives "discuss trade"); -s and -ed forms, auxiliaries and modals before it, prepositions, determiners and
  a short list of irregular verbs mark a verb. A plural modifier is dropped ("arms control" gives "control").
- "and" inside a name ("Trinidad and Tobago", "the Ministry of Economy and Finance") splits it; an appositive
  ("Kishida, Japan's prime minister, and Yoon") reads as one more item; lists of quoted words stop at the quotes.
- plays_role matches the question's predicate by stem and a tiny synonym table (support/back/favour/endorse,
  oppose/opposition/against/object, ...); a paraphrase outside it ("Washington and London welcomed the plan" for
  "Who supports the plan?") is rejected, and it does not check who does what to whom ("Japan supports NATO" for
  "Who supports Japan?").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from qa.retrieval import tokenize

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------------------------
# Word classes. Closed-class words are what make rules without a tagger work: an item of a list is a run of
# open-class words, and these mark where it starts or stops.
_DET = {"the", "a", "an", "its", "their", "his", "her", "our", "your", "my", "this", "these", "those"}
_BOTH = {"both", "either", "neither"}  # "both A and B": not part of A
_QUANT = {"many", "other", "several", "some", "all", "most", "few", "key", "various", "two", "three", "four"}
_PREP = set("in on at for from with by to into onto over under about after before during since until between among "
            "amid against across through within without toward towards via per near around beyond despite "
            "following like than upon off out up down".split())
_AUX = set("is are was were be been being am has have had do does did will would shall should can could may might "
           "must".split())
_PRONOUN = set("i you he she it we they me him us them who whom whose which that what where when why how there "
               "itself themselves".split())
_CONJ = set("and or nor but yet so because while whereas although though if unless as whether then".split())
_ADVERB = set("however meanwhile moreover furthermore also still instead indeed nevertheless now already just only "
              "even not never too again further earlier later recently previously currently today yesterday "
              "tomorrow here no".split())
_SAY = set("said says say told tells believe believes believed think thinks thought announced claimed added noted "
           "stated warned argued insisted reported suggested confirmed expects expected hopes hoped".split())
_VERB = _SAY | set("met meets went goes came comes made makes took takes gave gives held holds led leads won lost "
                   "sent left kept began become became saw sees knew brought spoke wrote chose rose fell ran paid "
                   "sought fought built spent stood got gets put".split())
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
_WORD = (r"(?:[A-Z]\.){2,}(?:-\w+)*|(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Gen|Lt|Col|Gov|Sen|Rep|Prof|Inc|Co|Corp|Ltd|No|vs|"
         r"Jan|Feb|Aug|Sept?|Oct|Nov|Dec)\.|[A-Z]\.(?=\s+[A-Z])|[$€£]?\d+(?:[.,:]\d+)*%?|\w+(?:['’&-]\w+)*")
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


# ---------------------------------------------------------------------------------------------------------------
# 1. Does the question ask for several things?

_QWORD = re.compile(r"[\w'’-]+")
_POLITE = re.compile(r"^(?:please\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?)", re.IGNORECASE)
_ADJECTIVE = set("other new main key major top senior big several different specific particular few many two three "
                 "four five six seven eight nine ten of the".split())
_IRREGULAR_PLURAL = {"people", "men", "women", "children", "police", "media", "personnel", "criteria", "them",
                     "these", "those", "ones"}
# Predicates that several may share: "Who opposes the plan?" may well have several answers, "Who said ...?" one.
_SHARED = {"support", "back", "backer", "favour", "favor", "endors", "oppos", "opposit", "oppon", "against",
           "reject", "object", "critic", "criticis", "condemn", "welcom", "attend", "attende", "join", "particip",
           "sign", "signatori", "vote", "boycott", "invit", "sponsor", "fund", "ratifi", "approv"}


def _plural(word: str) -> bool:
    """A plural by its ending ("countries", not "news", "status", "crisis", "Japan's")."""
    w = word.lower()
    if w in _IRREGULAR_PLURAL:
        return True
    return (len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "ics", "'s", "’s"))
            and w not in ("news", "series", "species"))  # fmt: skip


def _head(words: list[str], i: int) -> int:
    """Index of the noun a wh-word or "list/name the" asks about: past adjectives, names and numbers."""
    while i < len(words) and (words[i][0].isupper() or words[i].isdigit() or words[i].lower() in _ADJECTIVE
                              or words[i].lower().endswith(("al", "ic", "ive", "ary"))):  # fmt: skip
        i += 1
    return i


def _parse(question: str) -> tuple[str, str, list[str]]:
    """(the asking word: which/what/who/list/name or "", the noun it asks about or "", the words after it)."""
    words = _QWORD.findall(_POLITE.sub("", question.strip()))
    lows = [w.lower() for w in words]
    if lows and lows[0] in ("list", "name", "enumerate"):
        at, head = lows[0], _head(words, 1)
    elif found := [i for i, w in enumerate(lows) if w in ("which", "what", "whose", "who", "whom")]:
        i = found[0]
        at, head = lows[i], (i if lows[i] in ("who", "whom") else _head(words, i + 1))
    else:
        return "", "", words
    noun = words[head] if head < len(words) and at not in ("who", "whom") else ""
    rest = words[head + 1 :]
    while rest and rest[0].lower() in ("that", "who", "which", "whom"):  # "the countries that back ..."
        rest = rest[1:]
    return at, noun, rest


def asks_for_several(question: str) -> bool:
    """Whether a question asks for several things: "Which countries ...", "In which fields ...", "What are the ...",
    "Who are ...", "List ...", "Name the partners ...", and "who" with a predicate several may share ("Who opposes
    the plan?", "Who was invited?"). Not: "Which country ...", "Who is the Secretary General?", "Who said ...?"."""
    at, noun, rest = _parse(question)
    if at in ("list", "enumerate"):
        return True
    if at in ("which", "what", "whose", "name"):
        return noun.lower() in ("are", "were") or (noun.lower() not in _AUX and _plural(noun))
    if at in ("who", "whom"):
        first, second = (rest + ["", ""])[:2]
        if first.lower() in ("are", "were", "else"):
            return True
        if first.lower() in ("is", "was") and second.lower() in _DET:  # a role held by one: "Who is the ...?"
            return False
        rest = [w for w in rest if w.lower() not in _FUNCTION]
        return any(stem in _SHARED for stems in tokenize(rest) for stem in stems) if rest else False
    return False


# ---------------------------------------------------------------------------------------------------------------
# 2. The items of the coordination a span belongs to.


def _np_word(w: _Tok, prev: _Tok | None) -> bool:
    """Whether a word can be inside a noun phrase; an -ed word is a verb unless a determiner comes before it
    ("the armed forces"), and so is a word after a modal ("will consult")."""
    if w.low in _STOP or w.low in _DET or w.low in _BOTH or w.low == "of":
        return False
    if prev is not None and prev.low in _MODAL and not w.cap:
        return False
    return w.cap or not (len(w.low) >= 5 and w.low.endswith("ed")) or (prev is not None and prev.low in _DET | _QUANT)


def _name_word(w: _Tok) -> bool:
    return w.cap and w.low not in _STOP and w.low not in _DET and w.low not in _BOTH


def _walk_back(words: list[_Tok]) -> tuple[int, bool]:
    """Start of the noun phrase that ends the words, and whether only "both/either" stands before it.
    A name ("the Prime Minister of Japan") takes capitalised words only; other phrases take open-class words,
    through "of" ("the interests of the alliance"), up to their determiner."""
    name = bool(words) and _name_word(words[-1])
    fits = (lambda j: _name_word(words[j])) if name else (lambda j: _np_word(words[j], words[j - 1] if j else None))
    k, i = len(words), len(words) - 1
    while i >= 0:
        low = words[i].low
        if low in _DET and k < len(words):
            k = i  # the determiner starts the phrase, unless "of" comes before it: "the interests of the alliance"
            if not (i >= 2 and words[i - 1].low == "of" and fits(i - 2)):
                break
            i -= 2
        elif low in (_CONNECT if name else {"of"}) and k == i + 1 and i >= 1 and fits(i - 1):
            i -= 1
        elif fits(i) and not (i + 1 < len(words) and _plural_verb(words[i], words[i + 1])):
            k, i = i, i - 1
        else:
            break
    return k, all(w.low in _BOTH for w in words[:k])


def _plural_verb(w: _Tok, after: _Tok) -> bool:
    """An -s word before another word of the phrase is a verb ("the deal covers steel"), since plurals seldom
    modify a noun; before "of" it is the noun ("the interests of ...")."""
    return not w.cap and after.low != "of" and _plural(w.text)


def _walk_forward(words: list[_Tok]) -> int:
    """End of the noun phrase that starts the words (0: none). Stops at a verb: a closed-class word, an -ed
    form, or a word followed by a determiner or object pronoun ("members support it")."""
    i = 0
    while i < len(words) and words[i].low in _DET | _BOTH:
        i += 1
    name, k = i < len(words) and _name_word(words[i]), 0
    while i < len(words):
        w, after = words[i], words[i + 1] if i + 1 < len(words) else None
        if w.low in _CONNECT and 0 < k == i and after is not None:
            after_det = after.low in _DET and i + 2 < len(words)
            target = words[i + 2] if after_det else after
            if (name and _name_word(target)) or (not name and w.low == "of" and _np_word(target, after)):
                i += 2 if after_det else 1
                continue
            break
        if name and not _name_word(w) and k == i and words[i - 1].low.endswith(("'s", "’s")):
            name = False  # "Japan’s coast guard": a name's possessive, then the noun it goes with
        if name and not _name_word(w):  # "Indo-Pacific countries": a plural noun may end a name before a verb
            k += _plural_head(words, i) if k == i else 0
            break
        if not name and not _np_word(w, words[i - 1] if i else None):
            break
        if not name and not w.cap and after is not None and (after.low in _DET | _OBJECT or _names_object(words, i)):
            break
        k = i = i + 1
    return k


def _plural_head(words: list[_Tok], i: int) -> int:
    """1 when words[i] is a plural noun ending a phrase of names: a verb, or nothing, comes after it."""
    w, rest = words[i], words[i + 1 : i + 3]
    if w.cap or not _plural(w.text) or not _np_word(w, None) or (rest and rest[0].low in _DET | _OBJECT):
        return 0
    return int(not rest or _verbish(rest[0], rest[1] if len(rest) > 1 else None))


def _names_object(words: list[_Tok], i: int) -> bool:
    """Whether lowercase words[i] is a verb with a name for object ("open NATO up"), not an adjective before
    names and their noun ("senior Japanese officials", "other NATO members")."""
    if words[i].low in _QUANT or not _name_word(words[i + 1]):
        return False
    j = next((j for j in range(i + 1, len(words)) if not _name_word(words[j])), len(words))
    return j == len(words) or not _np_word(words[j], words[j - 1])


def _segments(toks: list[_Tok]) -> list[_Seg]:
    segs = [_Seg([])]
    for t in toks:
        if t.kind == "word":
            segs[-1].words.append(t)
            continue
        if segs[-1].words:
            segs.append(_Seg([]))
        segs[-1].comma |= t.kind == "comma"
        segs[-1].conj |= t.kind == "conj"
    return [s for s in segs if s.words]


def _clause(toks: list[_Tok], start: int, end: int) -> list[_Tok] | None:
    """The tokens between the punctuation (or "such as", "including") around the span; None when the span itself
    holds such a boundary."""
    if any(t.kind in ("bound", "intro") and t.start < end and t.end > start for t in toks):
        return None
    lo = max((i + 1 for i, t in enumerate(toks) if t.kind in ("bound", "intro") and t.end <= start), default=0)
    hi = min((i for i, t in enumerate(toks) if t.kind in ("bound", "intro") and t.start >= end), default=len(toks))
    return toks[lo:hi]


def coordinated_items(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of every item of the coordination that text[start:end] is an item of, in text order; just
    [(start, end)] when it is in none. Items are whole words, without separators ("," "and" "or" "as well as")."""
    toks = _clause(_tokens(text), start, end) if 0 <= start < end <= len(text) else None
    segs = _segments(toks) if toks else []
    inside = [i for i, s in enumerate(segs) if any(w.start < end and w.end > start for w in s.words)]
    if not inside:
        return [(start, end)]
    a, b = inside[0], inside[-1]
    spans = {i: _clip(segs[i].words, start, end) for i in inside}
    first_words = [w for w in segs[a].words if w.start < end]
    last_words = [w for w in segs[b].words if w.end > start]
    k, adjacent = _walk_back(first_words)  # adjacent: nothing but the phrase's own words before the span
    ahead = [w for w in first_words[k:] if w.end <= start]
    if any(w.low in _CONNECT for w in ahead) or all(w.low in _STOP | _DET for w in first_words[len(ahead) + k :]):
        return [(start, end)]  # "Japan" of "the Prime Minister of Japan, ...", or "However": not an item
    closing = any(segs[i].conj for i in inside[1:]) or (adjacent and segs[a].conj)  # "..., and C"
    if adjacent:
        a = _extend_left(segs, a, spans)
    # The span ends its segment (a separator follows it) and does not close a list ("A, B and C and act ...").
    if last_words[-1].end <= end and not closing:
        b = _extend_right(segs, b, spans)
    if a == 0 < inside[0] and _opens_clause(segs, b, spans):
        a = 1
    if not any(segs[i].conj for i in range(a + 1, b + 1)) or _joins_clauses(toks, segs, a, b, spans):
        return [(start, end)]
    return [spans[i] for i in range(a, b + 1)]


def _clip(words: list[_Tok], start: int, end: int) -> tuple[int, int]:
    inside = [w for w in words if w.start < end and w.end > start]
    return max(start, inside[0].start), min(end, inside[-1].end)


def _extend_left(segs: list[_Seg], a: int, spans: dict[int, tuple[int, int]]) -> int:
    while a > 0 and (segs[a].comma or segs[a].conj):
        if segs[a].comma and segs[a].conj and segs[a - 1].conj:  # "A and B, and C": B ends another coordination
            break
        words = segs[a - 1].words
        k, whole = _walk_back(words)
        if k == len(words):
            break
        spans[a - 1] = (words[k].start, words[-1].end)
        a -= 1
        if not whole:  # the phrase started inside this segment: the list starts with it
            break
    return a


def _opens_clause(segs: list[_Seg], b: int, spans: dict[int, tuple[int, int]]) -> bool:
    """Whether the clause's first item is rather an opening adverbial ("In Vilnius, ...", "Last year, ..."): a
    time, or a preposition or adverb before a phrase when the list then goes on to a verb (a fronted "In Japan,
    Korea and Australia, ..." ends at a comma)."""
    words = segs[0].words
    item = [w for w in words if w.start >= spans[0][0]]
    if _TIME.match(" ".join(w.text for w in item)):
        return True
    before = words[: len(words) - len(item)]
    if not before or not all(w.low in _PREP | _ADVERB | _CONJ for w in before):
        return False
    rest = [w for w in segs[b].words if w.start >= spans[b][1]]
    return bool(rest) and _verbish(rest[0], rest[1] if len(rest) > 1 else None)


def _extend_right(segs: list[_Seg], b: int, spans: dict[int, tuple[int, int]]) -> int:
    while b + 1 < len(segs):
        words = segs[b + 1].words
        k = _walk_forward(words)
        if k == 0 or (k < len(words) and not segs[b + 1].conj):  # a comma then not a whole phrase: list over
            break
        spans[b + 1] = (words[0].start if words[0].low not in _BOTH else words[1].start, words[k - 1].end)
        b += 1
        if segs[b].conj or k < len(words):  # "and C" closes the list
            break
    return b


def _verbish(w: _Tok, after: _Tok | None) -> bool:
    if w.cap:
        return False
    return (w.low in _AUX | _VERB or (len(w.low) >= 5 and w.low.endswith("ed"))
            or (after is not None and after.low in _DET | _OBJECT and w.low not in _PREP | _CONNECT))  # fmt: skip


def _joins_clauses(toks: list[_Tok], segs: list[_Seg], a: int, b: int, spans: dict[int, tuple[int, int]]) -> bool:
    """Whether "and" joins two clauses rather than two items: "Kishida met Stoltenberg and Yoon said ..." (a verb
    before the first item and another after the last; not when a "that" or a verb of saying stands between)."""
    last_end = spans[b][1]
    after = [t for t in toks if t.start >= last_end]
    if not after or after[0].kind != "word" or not _verbish(after[0], after[1] if len(after) > 1 else None):
        return False
    before = [t for t in toks if t.end <= spans[a][0] and t.kind == "word"]
    verbs = [i for i, w in enumerate(before) if _verbish(w, None) and not (i and before[i - 1].low in _DET)]
    if not verbs or before[verbs[-1]].low in _SAY:
        return False
    return not any(w.low in _CONJ or w.low == "that" for w in before[verbs[-1] :])  # "stressed that A and B are"


# ---------------------------------------------------------------------------------------------------------------
# 3. Does the sentence give its list for the relation the question asks about?

# Forms of one relation that stemming does not join (stems as qa.retrieval.tokenize gives them).
_SAME = {"back": "support", "backer": "support", "favour": "support", "favor": "support", "endors": "support",
         "opposit": "oppos", "oppon": "oppos", "against": "oppos", "object": "oppos", "met": "meet",
         "attende": "attend", "membership": "member", "signatori": "sign", "agreement": "agre", "criticis": "critic",
         "partnership": "partner"}  # fmt: skip
# Words of a question that name no relation: the kind of thing asked for, the article itself, adjectives.
_GENERIC = {"countri", "nation", "state", "peopl", "person", "area", "field", "thing", "way", "kind", "type", "name",
            "one", "group", "place", "citi", "main", "key", "major", "import", "differ", "specif", "mention", "list",
            "articl", "stori", "text", "refer", "cite", "who", "what", "which", "whom", "were", "did", "also",
            "els"}  # fmt: skip
_NEGATION = {"not", "never", "no", "n't", "n’t"}  # "no" also covers "no longer"
_CONTRAST = re.compile(r"[;:]|\b(?:while|whereas|but|although|though|however|unlike|yet)\b", re.IGNORECASE)


def _stem_class(stem: str) -> str:
    return _SAME.get(stem, stem)


def _question_roles(question: str) -> tuple[str | None, set[str]]:
    """(the relation asked about, as a stem class; the stems of the rest: its object and names)."""
    _, noun, rest = _parse(question)
    # "Which partners would the office consult?": after an auxiliary the subject comes first, the verb last
    inverted = bool(rest) and rest[0].lower() in _MODAL
    rest = [w for w in rest if w.lower() not in _FUNCTION - {"against"}]  # "Who is against ...?"
    stems = [(w, _stem_class(s)) for w, ss in zip(rest, tokenize(rest) if rest else []) for s in ss]
    verbs = [s for w, s in stems if not w[0].isupper() and s not in _GENERIC]
    if inverted:
        verbs.reverse()
    if not verbs and noun:  # "List the partners.": the noun is the relation
        verbs = [_stem_class(s) for ss in tokenize([noun]) for s in ss if s not in _GENERIC]
    predicate = verbs[0] if verbs else None
    return predicate, {s for _, s in stems if s != predicate and s not in _GENERIC}


def plays_role(question: str, sentence: str, context: str = "", *, span: tuple[int, int] | None = None) -> bool:
    """Whether the sentence gives its items for the relation the question asks about: the question's predicate
    (the verb or noun after its wh-phrase, by stem or a form in _SAME: "support", "supporters", "backing") is in
    the sentence and not negated ("does not support"). With span (the list's start and end in the sentence), the
    predicate must also be within eight words of the list with no "while"/"but"/";" between. With context (the
    sentence's paragraph), some other content word of the question ("office" of "the liaison office") must be in
    the sentence or the context. A question with no predicate found ("Which countries?") is not checked: True."""
    predicate, objects = _question_roles(question)
    if predicate is None:
        return True
    words = [t for t in _tokens(sentence) if t.kind == "word"]
    stems = tokenize([w.text for w in words]) if words else []
    hits = [i for i, ss in enumerate(stems) if predicate in map(_stem_class, ss) and not _negated(words, i)]
    if span is not None:
        hits = [i for i in hits if _near(sentence, words[i], span)]
    if not hits:
        return False
    if not context or not objects:
        return True
    around = {_stem_class(s) for ss in tokenize([sentence, context]) for s in ss}
    return bool(objects & around)


def _negated(words: list[_Tok], i: int) -> bool:
    """A "not", "n't", "never" or "no longer" in the two words before: "does not support", "has never backed"."""
    return any(w.low in _NEGATION or w.low.endswith(("n't", "n’t")) for w in words[max(0, i - 2) : i])


def _near(sentence: str, word: _Tok, span: tuple[int, int]) -> bool:
    gap = sentence[word.end : span[0]] if word.end <= span[0] else sentence[span[1] : word.start]
    return len(_QWORD.findall(gap)) <= 8 and not _CONTRAST.search(gap)


# ---------------------------------------------------------------------------------------------------------------
# 4. Items found in several sentences, once each.


def item_key(text: str) -> str:
    """What two items must share to be the same item: case, punctuation, spacing and a leading "the"/"a" aside
    ("the U.S." = "US", but not = "the United States")."""
    t = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    t = " ".join(re.sub(r"[^\w\s']", "", t).split())
    return re.sub(r"^(?:the|a|an) ", "", t)


def merge_items(groups: Iterable[Iterable[T]], text: Callable[[T], str] = str) -> list[T]:
    """The items of all groups in order, each item_key once (its first occurrence kept, with whatever citation it
    carries: text gives an item's words, e.g. ``lambda c: c.quote``)."""
    seen: set[str] = set()
    merged = []
    for group in groups:
        for item in group:
            key = item_key(text(item))
            if key and key not in seen:
                seen.add(key)
                merged.append(item)
    return merged
