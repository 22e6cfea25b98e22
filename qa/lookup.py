"""Citations back to their passages: the passage behind a citation or chunk id (``Assistant.lookup``), and the
passages that state a quote or claim (``Assistant.find``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qa.articles import Article
from qa.citations import Passage, citation_id, clipped, is_chunk_id, page_at, parse_citation_id
from qa.errors import CitationNotFound

if TYPE_CHECKING:
    from qa.embeddings import Embedder
    from qa.retrieval import HybridRetriever
    from qa.store import ArticleStore

CONTEXT_CHARS = 300


def lookup(store: ArticleStore, citation: str) -> Passage:
    """The passage behind a citation id (ARTICLE:START-END@VERSION) or chunk id (ARTICLE#HASH), with its
    context; ``changed`` when the citation names an earlier version of the article."""
    citation = (citation or "").strip()
    if is_chunk_id(citation):
        found = store.get_chunks([citation])
        if not found:
            cited_article(store, citation.rsplit("#", 1)[0])  # a removed article's chunk says so
            raise CitationNotFound(f"no chunk with id {clipped(citation)!r} in the index")
        _, _, meta = found[0]
        article_id, start, end, version = meta["article_id"], meta["start"], meta["end"], ""
    else:
        article_id, start, end, version = parse_citation_id(citation)
    article = cited_article(store, article_id)
    changed = bool(version) and version != article.version
    if end > len(article.text):
        raise CitationNotFound(
            f"{clipped(citation)!r} points past the end of article {clipped(article_id)!r}, which is now "
            f"{len(article.text):,} characters long" + ("; it has changed since the citation was made"
                                                        if changed else "")
        )  # fmt: skip
    found_passage = passage(article, start, end)
    found_passage.changed = changed
    return found_passage


def cited_article(store: ArticleStore, article_id: str) -> Article:
    """The article a citation names; one that was removed says so, and when (``qa.library``)."""
    from qa.library import removed_line

    try:
        return store.get_article(article_id)
    except CitationNotFound:
        tombstone = store.tombstones([article_id]).get(article_id)
        if tombstone is None:
            raise
        raise CitationNotFound(removed_line(article_id, tombstone)) from None


def find(store: ArticleStore, embedder: Embedder, retriever: HybridRetriever, text: str, k: int,
         vectors=None) -> list[Passage]:  # fmt: skip
    """The ``k`` sentences of the retrieved passages most like ``text``, best first, as passages with a score.
    ``vectors`` has the stored sentence vectors (``.sentence_vectors(ids)``; default: the store)."""
    from qa.answering import passage_sentences, sentence_vectors

    docs = retriever.invoke(text)
    sentences = list({(p.doc.metadata["article_id"], p.start): p for d in docs for p in passage_sentences(d)}.values())
    if not sentences:
        return []
    similarity = sentence_vectors(sentences, vectors or store, embedder) @ embedder.query_vector(text)
    articles: dict[str, Article] = {}
    passages = []
    for n in np.argsort(-similarity)[:k]:
        p = sentences[n]
        article_id = p.doc.metadata["article_id"]
        article = articles.get(article_id) or articles.setdefault(article_id, store.get_article(article_id))
        found = passage(article, p.start, p.end, chunk_id=p.doc.metadata["chunk_id"])
        found.score = round(float(similarity[n]), 4)
        passages.append(found)
    return passages


def passage(article: Article, start: int, end: int, chunk_id: str = "") -> Passage:
    """The quote ``article.text[start:end]`` as a Passage, with its context either side."""
    text = article.text
    return Passage(
        id=citation_id(article.id, start, end, article.version), chunk_id=chunk_id, article_id=article.id,
        title=article.title, source=article.source, author=article.author, published=article.published,
        url=article.url, quote=text[start:end], start=start, end=end,
        page=page_at(article.page_starts, start),
        before=text[max(0, start - CONTEXT_CHARS) : start], after=text[end : end + CONTEXT_CHARS],
    )  # fmt: skip
