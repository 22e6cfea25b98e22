"""Which questions ask for several things, and whether a sentence gives its list for the relation a question asks
about (qa/lists.py has the items themselves)."""

from __future__ import annotations

import re

from qa.list_words import _AUX, _DET, _FUNCTION, _MODAL, _plural, _Tok, _tokens
from qa.retrieval import tokenize

# ---------------------------------------------------------------------------------------------------------------
# 1. Does the question ask for several things?

_QWORD = re.compile(r"[\w'’-]+")
_POLITE = re.compile(r"^(?:please\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?)", re.IGNORECASE)
_ADJECTIVE = set(
    "other new main key major top senior big several different specific particular few many two three "
    "four five six seven eight nine ten of the".split()
)
# Predicates that several may share: "Who opposes the plan?" may well have several answers, "Who said ...?" one.
_SHARED = {
    "support",
    "back",
    "backer",
    "favour",
    "favor",
    "endors",
    "oppos",
    "opposit",
    "oppon",
    "against",
    "reject",
    "object",
    "critic",
    "criticis",
    "condemn",
    "welcom",
    "attend",
    "attende",
    "join",
    "particip",
    "sign",
    "signatori",
    "vote",
    "boycott",
    "invit",
    "sponsor",
    "fund",
    "ratifi",
    "approv",
}


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
