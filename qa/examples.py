"""Example questions for an empty chat, drawn from the indexed articles: their titles and the people, places and
organisations they name most, across different articles.

Only forms the answerer handles whatever the name turns out to be are made: "Who is X?" for a person (a name seen
after a title such as "Mr" or "Prime Minister"), "What happened in X?" for a place (a name seen after "in"),
"What do the articles say about X?" for anything else, and "Summarize “<title>”". A question that guesses at a
relation ("What did X say in Y?") could ask what no article says.

>>> example_questions(assistant.store)  # doctest: +SKIP
['What do the articles say about NATO?', 'Who is Fumio Kishida?', 'What happened in Vilnius?']
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from qa.articles import date_ordinal
from qa.errors import CitationNotFound
from qa.store import PENDING, ArticleStore
from qa.text.entities import key_entities

MAX_ARTICLES = 30  # the newest articles (by publication date) are read for examples: a page load stays quick
MAX_TITLE_CHARS = 100  # a longer title makes a poor button
# Words of a person's title or role: the words after the last of them are a name ("NATO Secretary General Jens
# Stoltenberg" -> "Jens Stoltenberg"); a phrase that is only a role ("Japan's Prime Minister") names no one.
_TITLES = {"mr", "mrs", "ms", "dr", "prof", "sir", "dame", "lord", "lady", "president", "minister", "prime",
           "secretary", "secretary-general", "chancellor", "ambassador", "chairman", "chairwoman", "governor",
           "senator", "mayor", "king", "queen", "pope", "premier", "spokesman", "spokeswoman", "spokesperson",
           "director", "ceo", "chief", "deputy", "vice", "judge", "gen", "col", "capt", "lt", "rep", "sen"}  # fmt: skip
# Capitalised at the start of a sentence only, or adjectives rather than names.
_NOT_NAMES = {"i", "it", "we", "he", "she", "they", "you", "his", "her", "its", "our", "their", "this", "that",
              "these", "those", "there", "the", "a", "an", "as", "at", "in", "on", "no", "yes", "but", "and", "or",
              "if", "so", "for", "with", "after", "before", "while", "when", "monday", "tuesday", "wednesday",
              "thursday", "friday", "saturday", "sunday", "advertisement", "read", "more", "courtesy", "photo",
              "reuters", "afp", "ap"}  # fmt: skip
_DEMONYM = re.compile(r"^(?:\w+(?:ese|ean|ian|ish|can)|German|Dutch|French|Greek|Thai|Swiss|Czech|Arab|Israeli|Iraqi|"
                      r"Pakistani|Saudi|Afghan|Filipino|Welsh|Irish|Scottish|Western|Eastern|Northern|Southern)$")  # fmt: skip
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_SMALL_WORDS = {"of", "the", "and", "a", "an", "to", "in", "at", "on", "for", "by", "with", "as", "is"}


@dataclass
class Name:
    """A name as the articles use it: how often, in which articles, and what it seems to be."""

    text: str
    mentions: int = 0
    articles: set[str] = field(default_factory=set)
    person: int = 0  # mentions after a title ("Mr", "Prime Minister")
    place: int = 0  # mentions after "in"

    @property
    def kind(self) -> str:
        if self.person:
            return "person"
        if self.place * 2 >= self.mentions and not self.text.isupper():
            return "place"
        return "thing"

    @property
    def score(self) -> int:
        """Prominence: mentions, weighted by how many articles name it."""
        return self.mentions * len(self.articles)


def example_questions(store: ArticleStore, n: int = 3) -> list[str]:
    """Up to ``n`` varied questions about the most prominent names and the titles of the newest indexed articles,
    each from another article where there are enough; [] for an empty index."""
    records = {i: m for i, m in store.article_records(["title", "published"]).items()
               if not m.get("content_hash", "").startswith(PENDING)}  # fmt: skip
    articles = _newest_texts(store, records)
    names: dict[str, Name] = {}
    for article_id, text in articles.items():
        for found in article_names(text):
            name = names.setdefault(found.text, Name(found.text))
            name.mentions += found.mentions
            name.person += found.person
            name.place += found.place
            name.articles.add(article_id)
    names = _merged_aliases(names)
    titles = {i: " ".join(str(records[i].get("title", "")).split()) for i in articles}
    titles = {i: t for i, t in titles.items() if t and len(t) <= MAX_TITLE_CHARS}
    return _choose(articles, names, titles, n)


def _newest_texts(store: ArticleStore, records: dict[str, dict]) -> dict[str, str]:
    """The texts of the newest of these articles (by publication date), by article id."""
    dated = {i: date_ordinal(str(meta.get("published") or "")) for i, meta in records.items()}
    newest = sorted(records, key=lambda i: (dated[i], i), reverse=True)[:MAX_ARTICLES]
    texts = {}
    for article_id in newest:
        try:
            texts[article_id] = store.get_article(article_id).text
        except CitationNotFound:  # removed meanwhile by another process
            continue
    return texts


def article_names(text: str) -> list[Name]:
    """The names an article uses (people by their full name where it gives one), with their counts."""
    found: dict[str, Name] = {}
    for line in text.splitlines():
        if _is_headline(line):
            continue  # Title Case headings make every word look like a name
        for phrase in key_entities(line):
            canonical, person = _canonical(phrase)
            if not canonical or not _is_name(canonical, text):
                continue
            name = found.setdefault(canonical, Name(canonical))
            name.mentions += 1
            name.person += person
            name.place += bool(re.search(r"\b(?:in|at)\s+(?:the\s+)?" + re.escape(phrase), line))
    return list(found.values())


def _is_headline(line: str) -> bool:
    words = [w for w in line.split() if w.lower() not in _SMALL_WORDS]
    return len(words) >= 4 and sum(w[0].isupper() for w in words) >= 0.7 * len(words)


def _canonical(phrase: str) -> tuple[str, bool]:
    """A phrase as a name, and whether a title marked it as a person's: "Prime Minister Fumio Kishida's" ->
    ("Fumio Kishida", True); "NATO Secretary General" -> ("", True): a role, no name."""
    words = phrase.split()
    words[-1] = _POSSESSIVE.sub("", words[-1])  # "Japan's" -> "Japan"; "People's Republic of China" stays
    titled = [n for n, w in enumerate(words) if w.lower().rstrip(".") in _TITLES]
    if not titled:
        return " ".join(words).strip(), False
    rest = words[titled[-1] + 1 :]
    if rest and rest[0] == "General":  # "Secretary General", "Attorney General"
        rest = rest[1:]
    if not rest or not rest[0][:1].isupper():  # "President of South Korea": a role
        return "", True
    return " ".join(rest), True


def _is_name(name: str, text: str) -> bool:
    """Not a word capitalised only because it starts a sentence, not an adjective ("Japanese"), not a date."""
    words = name.split()
    if len(words) == 1:
        if name.lower() in _NOT_NAMES or _DEMONYM.match(name) or len(name) < 2:
            return False
        # capitalised after a lower-case word or a comma somewhere: a name, not a sentence's first word
        return bool(re.search(r"[a-z0-9,;:]\s+" + re.escape(name) + r"\b", text))
    return words[0].lower() not in _NOT_NAMES and not any(c.isdigit() for c in name)


def _merged_aliases(names: dict[str, Name]) -> dict[str, Name]:
    """A person's surname or first name alone ("Kishida", "Yoon") counted with their fullest name in the articles
    ("Fumio Kishida", "Yoon Suk-Yeol"), the most mentioned one where there are several."""
    merged = dict(names)
    for short in sorted(names, key=len):
        if " " in short:
            continue
        fuller = [n for n in merged.values() if " " in n.text and short in n.text.split() and len(n.text.split()) <= 4]
        if not fuller or not (names[short].person or any(n.person for n in fuller)):
            continue
        target = max(fuller, key=lambda n: (n.person > 0, n.mentions, n.text))
        alias = merged.pop(short)
        target.mentions += alias.mentions
        target.person += alias.person
        target.articles |= alias.articles
    return merged


def question_about(name: Name) -> str:
    return {"person": f"Who is {name.text}?", "place": f"What happened in {name.text}?"}.get(
        name.kind, f"What do the articles say about {name.text}?"
    )


@dataclass(order=True)
class _Candidate:
    form_uses: int
    rank: tuple
    question: str = field(compare=False)
    form: str = field(compare=False)
    key: str = field(compare=False)


def _choose(articles: dict[str, str], names: dict[str, Name], titles: dict[str, str], n: int) -> list[str]:
    """Round robin over the articles, best-known first: each gives its most prominent name not asked about yet,
    in a form used least so far (so the questions vary), or its title."""
    by_article: dict[str, list[Name]] = defaultdict(list)
    for name in names.values():
        if name.mentions >= 2 or name.person:  # a name said once is rarely what an article is about
            for article_id in name.articles:
                by_article[article_id].append(name)
    best = {a: max((x.score for x in by_article[a]), default=0) for a in articles}
    order = sorted(articles, key=lambda a: (-best[a], a))
    forms: Counter[str] = Counter()
    asked: set[str] = set()
    questions: list[str] = []
    while len(questions) < n:
        before = len(questions)
        for article_id in order:
            if len(questions) == n:
                break
            options = [_Candidate(forms[name.kind], (-name.score, name.text), question_about(name), name.kind, name.text)
                       for name in by_article[article_id] if name.text not in asked]  # fmt: skip
            if article_id in titles and f"title:{article_id}" not in asked:
                options.append(_Candidate(forms["title"], (1, titles[article_id]), f"Summarize “{titles[article_id]}”",
                                          "title", f"title:{article_id}"))  # fmt: skip
            if options:
                chosen = min(options)
                forms[chosen.form] += 1
                asked.add(chosen.key)
                questions.append(chosen.question)
        if len(questions) == before:
            break  # every article has given all it has
    return questions
