"""The answers read from whole articles rather than one span: yes/no verdicts with their evidence, overviews of a
topic, where a term is mentioned, and summaries (see qa/answering.py for the kinds)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.documents import Document

from qa.articles import caption_spans
from qa.citations import Answer, Citation
from qa.conversation import Question
from qa.text.words import NAME_TITLES, stems
from qa.verdicts import Evidence, decide

if TYPE_CHECKING:
    from qa.search_index import SearchIndex
from qa.passages import (
    Library,
    PassageSentence,
    Quoter,
    _text_before,
    abstention,
    answer_text,
    passage_sentences,
    quoted,
)
from qa.text.sentences import (
    is_quotable,
    leans_on_previous,
    split_sentences,
)

# Cosine similarity (all-MiniLM-L6-v2) of a sentence to a yes/no question above which it is quoted as evidence:
# about where a sentence stops merely sharing the topic and starts stating what is asked.
EVIDENCE_SIMILARITY = 0.5
EVIDENCE_PREFIX = "The articles say: "
# A verdict is read from the most similar sentences naming the question's names, down to this similarity: a
# sentence that settles the question can share less of its wording ("opposes the plan" for "support the office").
VERDICT_SIMILARITY = 0.25
VERDICT_POOL = 8


# Titles (as BM25 stems) that go with names without telling one person from another: "Mr Kishida" is "Kishida";
# a sentence's names here also drop "leader" ("opposition leader X").
_TITLE_WORDS = stems(NAME_TITLES | {"leader"})


def answer_overview(question: Question, docs: list[Document], library: Library, most: int = 5,
                    already_quoted: Iterable[tuple[str, int, int]] = ()) -> Answer:  # fmt: skip
    """A digest about the question's topic: the best sentence of every article that names it, then the next
    best distinct ones (maximal marginal relevance), 2-5 in all, best first, each with its marker. Sentences
    ``already_quoted`` (article id, start, end) by the previous answer are left out: "tell me more" means more."""
    topic = question.topic
    about = _about(topic, library.lexical)
    candidates = _candidate_sentences(docs)
    candidates = [p for p, words in zip(candidates, _words([p.text for p in candidates])) if about(words)]
    if not candidates:
        return abstention(question.text, f"The articles don't say anything about {topic}.")
    quoted = list(already_quoted)
    candidates = [p for p in candidates if not any(p.doc.metadata["article_id"] == a and p.start < end and start < p.end
                                                   for a, start, end in quoted)]  # fmt: skip
    quoter = library.quoter()  # a sentence that points back is quoted with the one before, or not at all
    candidates = [p for p in candidates if not leans_on_previous(p.text)
                  or quoter.lean_start(p.doc.metadata["article_id"], p.start) != p.start]  # fmt: skip
    if not candidates:
        return abstention(question.text, f"That is all the passages found say about {topic}.")
    vectors = library.vectors(candidates)
    relevance = vectors @ library.query_vector(topic)
    order = list(np.argsort(-relevance))
    chosen: list[int] = []
    for article in dict.fromkeys(candidates[n].doc.metadata["article_id"] for n in order):  # best of each article
        chosen.append(next(n for n in order if candidates[n].doc.metadata["article_id"] == article))
    chosen = chosen[:most]
    while len(chosen) < most:
        n = _most_marginal(relevance, vectors, chosen)
        if n is None or (len(chosen) >= 2 and relevance[n] < relevance[order[0]] - 0.2):
            break
        chosen.append(n)
    chosen.sort(key=lambda n: -relevance[n])
    citations: list[Citation] = []
    for n in chosen:
        c = _cite_sentence(quoter, candidates[n], len(citations) + 1, float(relevance[n]), lean=True)
        if not any(c.article_id == d.article_id and c.start < d.end and d.start < c.end for d in citations):
            citations.append(c)
    return Answer(question=question.text, text=answer_text(citations), citations=citations)


def _about(topic: str, lexical: SearchIndex) -> Callable[[set[str]], bool]:
    """Whether a sentence's (stemmed) words are about the topic: they hold the words that carry at least half
    the rarity (idf) of one of the topic's names (titles aside: "Macron" is about "President Emmanuel Macron
    of France"), or, for a topic without names, of the topic's words."""
    from qa.retrieval import tokenize

    groups = _names(topic) or [set(tokenize([topic])[0])]
    weights = [{t: lexical.idf(t) for t in group} for group in groups]

    def covers(words: set[str], weight: dict[str, float]) -> bool:
        total = sum(weight.values())
        return total > 0 and sum(w for t, w in weight.items() if t in words) >= 0.5 * total

    return lambda words: any(covers(words, w) for w in weights)


def _most_marginal(relevance: np.ndarray, vectors: np.ndarray, chosen: list[int], trade_off: float = 0.7,
                   duplicate: float = 0.85) -> int | None:  # fmt: skip
    """Maximal marginal relevance: the sentence most relevant and least like those chosen (None: no more)."""
    best, best_score = None, -np.inf
    for n in range(len(relevance)):
        if n in chosen:
            continue
        similarity = max((float(vectors[n] @ vectors[c]) for c in chosen), default=0.0)
        if similarity >= duplicate:
            continue
        score = trade_off * relevance[n] - (1 - trade_off) * similarity
        if score > best_score:
            best, best_score = n, score
    return best


def answer_yes_no(question: Question, docs: list[Document], library: Library,
                  read: Callable[[], Answer] | None = None, most: int = 2) -> Answer:  # fmt: skip
    """The evidence for a yes/no question, the sentences closest in meaning to the question among those that
    name most of its names (when none comes close, the sentences the reader (``read``) quotes, if they name them
    too), led by "Yes." or "No." where one of them settles it (qa/verdicts.py), else by "The articles say:"."""
    names = _names(question.text)
    sentences = _candidate_sentences(docs)
    words = _words([p.text for p in sentences])
    naming = [(p, _names_most(names, w), not names or bool(names[0] & w))  # "Bankman-Fried" for "Sam Bankman-Fried"
              for p, w in zip(sentences, words) if not names or any(n <= w for n in names)]  # fmt: skip
    candidates = [p for p, _, _ in naming]
    similarity = library.vectors(candidates) @ library.query_vector(question.text) if candidates else np.zeros(0)
    ranked = [int(n) for n in np.argsort(-similarity, kind="stable")]
    quoter = library.quoter()
    # read for a verdict: the sentences most like the question that name its subject (a word of its first name;
    # qa.verdicts checks the names itself)
    pool = [n for n in ranked if naming[n][2] and similarity[n] >= VERDICT_SIMILARITY][:VERDICT_POOL]
    ranked = [n for n in ranked if naming[n][1]]  # quoted as evidence: sentences naming most of the names
    evidence = [Evidence(p.text, _text_before(quoter, p.doc.metadata["article_id"], p.start))
                for p in (candidates[n] for n in pool)]  # fmt: skip
    verdict = decide(question.text, evidence)
    order = [n for n in ranked if similarity[n] >= EVIDENCE_SIMILARITY][:most]
    if verdict:
        settling = pool[verdict.index]
        order = [settling] + [n for n in order if n != settling][: most - 1]
    if order:
        citations = [_cite_sentence(quoter, candidates[n], i + 1, float(similarity[n])) for i, n in enumerate(order)]
        return _evidence_answer(question.text, citations, verdict.value if verdict else None)
    read_answer = read() if read else abstention(question.text)
    quotes = _words([c.quote for c in read_answer.citations])
    if read_answer.abstained or not all(_names_most(names, words) for words in quotes):
        return abstention(question.text, related=read_answer.related or read_answer.citations)
    verdict = decide(question.text, [Evidence(c.quote) for c in read_answer.citations])
    if verdict:
        first = read_answer.citations.pop(verdict.index)
        read_answer.citations.insert(0, first)
        for n, c in enumerate(read_answer.citations, 1):
            c.marker = n
    answer = _evidence_answer(question.text, read_answer.citations, verdict.value if verdict else None)
    answer.short_answer, answer.confidence = read_answer.short_answer, read_answer.confidence
    return answer


def _evidence_answer(question: str, citations: list[Citation], verdict: str | None) -> Answer:
    prefix = {"yes": "Yes. ", "no": "No. "}.get(verdict or "", EVIDENCE_PREFIX)
    return Answer(question=question, text=answer_text(citations, prefix), citations=citations, verdict=verdict)


def _names_most(names: list[set[str]], words: set[str]) -> bool:
    """Whether the words name more than half of the names ("they" may stand for one of two people)."""
    return not names or 2 * sum(n <= words for n in names) > len(names)


def _names(text: str) -> list[set[str]]:
    """The (stemmed) words of each name in a text, titles aside: [{"kishida"}, {"south", "korea"}]."""
    from qa.retrieval import tokenize
    from qa.text.entities import key_entities

    names = key_entities(text)
    return [n for n in (set(t) - _TITLE_WORDS for t in tokenize(names)) if n] if names else []


def _words(texts: list[str]) -> list[set[str]]:
    """The (stemmed) words of each text."""
    from qa.retrieval import tokenize

    return [set(w) for w in tokenize(texts)] if texts else []


def _cite_sentence(quoter: Quoter, p: PassageSentence, marker: int, score: float, lean: bool = False) -> Citation:
    return quoter.cite(p.doc.metadata, p.start, p.end, p.text, marker, score, lean)


def _candidate_sentences(docs: list[Document]) -> list[PassageSentence]:
    """The quotable sentences of the passages, each once."""
    return list({(p.doc.metadata["article_id"], p.start): p for d in docs for p in passage_sentences(d)
                 if is_quotable(p.text) and len(p.text.split()) >= 4}.values())  # fmt: skip


def answer_mention(question: Question, library: Library, most: int = 5) -> Answer:
    """Which articles name the term (or each of "China and Russia"), how often, and one cited example each,
    counted in the whole texts."""
    quoter, total = library.quoter(), len(library.articles())
    parts, citations = [], []
    for term in _mention_terms(question.topic):
        text, cited = _mentions(term, library, quoter, total, question.every_article, len(citations) + 1, most)
        parts.append(text)
        citations += cited
    return Answer(question=question.text, text="\n".join(parts), citations=citations)


def _mention_pattern(term: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", re.IGNORECASE)


def _mention_terms(topic: str) -> list[str]:
    """The terms asked about: "China and Russia" is two names, "the liaison office and its role" one term."""
    parts = [p.strip() for p in re.split(r",\s*|\s+(?:and|or|nor)\s+", topic) if p.strip()]
    return parts if len(parts) > 1 and all(p[0].isupper() for p in parts) else [topic]


def _mentions(term: str, library: Library, quoter: Quoter, total: int, every_article: bool, first_marker: int,
              most: int) -> tuple[str, list[Citation]]:  # fmt: skip
    """What the articles say of one term: the verdict, the count and an example in each article that names it."""
    pattern = _mention_pattern(term)
    named = list(dict.fromkeys(meta["article_id"] for _, text, meta in library.chunks() if pattern.search(text)))
    counts, citations = {}, []
    for article_id in named:
        text = quoter.text(article_id) or ""
        counts[article_id] = len(pattern.findall(text))
        if len(citations) < most and (example := _first_mention(text, pattern)):
            start, end = example
            meta = library.chunk_meta(article_id, start, end)
            citations.append(quoter.cite(meta, start, end, text[start:end], first_marker + len(citations)))
    details = [f"{_times(counts[c.article_id])} in “{c.title or c.article_id}”"
               f"{f' ({c.source})' if c.source else ''}: {quoted(c)}" for c in citations]  # fmt: skip
    if len(named) > len(citations):
        details.append(f"and {len(named) - len(citations)} more articles")
    verdict = _mention_verdict(term, len(named), total, every_article)
    return verdict + (" " + "; ".join(details) + "." if details else ""), citations


def _first_mention(text: str, pattern: re.Pattern) -> tuple[int, int] | None:
    """The first quotable sentence that names the term (a heading naming it is counted, never quoted)."""
    for start, end in split_sentences(text):
        if pattern.search(text[start:end]) and is_quotable(text[start:end]):
            return start, end
    return None


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _mention_verdict(term: str, named: int, total: int, every_article: bool) -> str:
    all_of = "the article" if total == 1 else "both articles" if total == 2 else f"all {total} articles"
    if named == 0:
        return f"No. {'The article does not' if total == 1 else f'None of the {total} articles'} mention" \
               f"{'' if total == 1 else 's'} “{term}”."  # fmt: skip
    if named == total:
        return f"Yes, {all_of} mention{'s' if total == 1 else ''} “{term}”:"
    if every_article:
        return f"No, only {named} of the {total} articles mention{'s' if named == 1 else ''} “{term}”:"
    return f"Yes, {named} of the {total} articles mention{'s' if named == 1 else ''} “{term}”:"


def answer_summary(question: Question, library: Library, per_article: int = 2, most_articles: int = 5) -> Answer:
    """The lead sentences of the article named (by title or source words), or of each article in scope."""
    scope = library.articles()
    chosen = _named_articles(question.topic, scope) if question.topic else list(scope)[:most_articles]
    if not chosen:
        return abstention(question.text, f"No indexed article has “{question.topic}” in its title or source.")
    quoter = library.quoter()
    lead_count = per_article + 1 if len(chosen) == 1 else per_article
    parts, citations = [], []
    for article_id in chosen:
        text = quoter.text(article_id) or ""
        captions = caption_spans(text)
        lead = [(s, e) for s, e in split_sentences(text) if is_quotable(text[s:e]) and len(text[s:e].split()) >= 5
                and not any(a <= s and e <= b for a, b in captions)][:lead_count]  # fmt: skip
        cited = [quoter.cite(library.chunk_meta(article_id, s, e), s, e, text[s:e], len(citations) + n + 1)
                 for n, (s, e) in enumerate(lead)]  # fmt: skip
        citations += cited
        meta = scope[article_id]
        source = f" ({meta['source']})" if meta.get("source") else ""
        label = f"“{meta.get('title') or article_id}”{source}: "
        parts.append(answer_text(cited, prefix=label if len(chosen) > 1 else ""))
    return Answer(question=question.text, text="\n".join(parts), citations=citations)


def _named_articles(name: str, scope: dict[str, dict]) -> list[str]:
    """The articles whose title and source hold most of the name's words."""
    words = set(re.findall(r"\w+", name.lower())) - {"the", "a", "an", "of", "article", "story", "piece"}
    if not words:
        return list(scope)
    overlap = {a: len(words & set(re.findall(r"\w+", f"{m.get('title', '')} {m.get('source', '')}".lower())))
               for a, m in scope.items()}  # fmt: skip
    best = max(overlap.values(), default=0)
    return [a for a, n in overlap.items() if n == best] if best >= max(1, len(words) / 2) else []
