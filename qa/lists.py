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
from typing import TypeVar

# The question side, importable from here as before (qa.answering, qa.api, tests):
from qa.list_questions import asks_for_several, plays_role  # noqa: F401
from qa.list_words import (
    _ADVERB,
    _AUX,
    _BOTH,
    _CONJ,
    _CONNECT,
    _DET,
    _MODAL,
    _OBJECT,
    _PREP,
    _QUANT,
    _SAY,
    _STOP,
    _TIME,
    _VERB,
    _plural,
    _Seg,
    _Tok,
    _tokens,
)

T = TypeVar("T")

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
