"""What the store holds for an article, without Chroma: the fields of an article record, the metadata every
chunk carries, and the article ready to store. qa.integrity reads records back through these without loading
Chroma (and without importing qa.store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from qa.articles import Article
from qa.chunking import Chunk

PENDING = "pending:"
CHUNK_COUNT = "chunks"  # an article record's metadata: how many chunks it has (records written before: none)
RECORD_FIELDS = (
    "title",
    "source",
    "author",
    "published",
    "url",
    "origin",
    "page_starts",
)  # an article record's own metadata
FILTER_FIELDS = ("article_id", "source", "published_ord")  # the metadata qa.retrieval.Filters reads


def article_from_record(article_id: str, text: str, meta: dict) -> Article:
    """The article an article record holds (see ``ArticleStore._put_records``)."""
    return Article(id=article_id, text=text, **{k: meta.get(k, "") for k in RECORD_FIELDS})


def article_metadata(article: Article) -> dict:
    """The article fields every chunk carries (for filters and citations); sentences carry FILTER_FIELDS of them."""
    return {
        "article_id": article.id,
        "title": article.title,
        "source": article.source,
        "author": article.author,
        "published": article.published,
        "published_ord": article.published_ordinal,
        "url": article.url,
        "version": article.version,
        # a PDF's page offsets, for the page of each quote (qa.citations.page_at); other articles' chunks stay as
        # they were
        **({"page_starts": article.page_starts} if article.page_starts else {}),
    }


class ChunkPage(NamedTuple):
    """Some chunks of the store; ``vectors`` (one unit-length row per chunk) only when asked for."""

    ids: list[str]
    texts: list[str]
    metas: list[dict]
    vectors: np.ndarray | None


@dataclass
class SentenceRecord:
    id: str  # the citation id ARTICLE:START-END
    metadata: dict  # article metadata, start, end and the chunk_id of the first chunk holding the sentence


@dataclass
class IndexedArticle:
    """An article ready to store: its chunks and sentences with their vectors."""

    article: Article
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentences: list[SentenceRecord]
    sentence_vectors: np.ndarray
