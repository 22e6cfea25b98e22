"""Hybrid retrieval: dense (Chroma) and lexical (BM25 via bm25s), fused by reciprocal rank, as a LangChain retriever.

>>> retriever = HybridRetriever(store=store, embedder=embedder, lexical=LexicalIndex.from_store(store))  # doctest: +SKIP
>>> retriever.invoke("Who did Kishida meet in Vilnius?")[0].metadata["title"]                           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date
from pathlib import Path

import bm25s
import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field

from qa.articles import date_ordinal
from qa.embeddings import Embedder
from qa.store import ArticleStore

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build

try:  # Snowball stemming makes "met" / "meeting" / "meets" meet; optional, bm25s works without it.
    import Stemmer

    _STEMMER = Stemmer.Stemmer("english").stemWords
except ImportError:  # pragma: no cover
    _STEMMER = None


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed word tokens (the BM25 vocabulary)."""
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False)


class Filters(BaseModel):
    """Restrict retrieval to some articles, sources or a publication date range (inclusive)."""

    article_ids: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    published_from: date | None = None
    published_to: date | None = None

    def is_empty(self) -> bool:
        return not (self.article_ids or self.sources or self.published_from or self.published_to)

    def to_chroma_where(self) -> dict | None:
        clauses: list[dict] = []
        if self.article_ids:
            clauses.append({"article_id": {"$in": self.article_ids}})
        if self.sources:
            clauses.append({"source": {"$in": self.sources}})
        if self.published_from:
            clauses.append({"published_ord": {"$gte": date_ordinal(self.published_from)}})
        if self.published_to:
            clauses.append({"published_ord": {"$lte": date_ordinal(self.published_to)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def matches(self, meta: dict) -> bool:
        ordinal = meta.get("published_ord", 0)
        return (
            (not self.article_ids or meta.get("article_id") in self.article_ids)
            and (not self.sources or meta.get("source") in self.sources)
            and (not self.published_from or ordinal >= date_ordinal(self.published_from))
            and (not self.published_to or ordinal <= date_ordinal(self.published_to))
        )


class LexicalIndex:
    """A BM25 index over every chunk of the store, with the chunks' texts and metadata for filtering."""

    def __init__(self, ids: list[str], texts: list[str], metas: list[dict], bm25: bm25s.BM25 | None = None) -> None:
        self.ids, self.texts, self.metas = ids, texts, metas
        self.bm25 = bm25 or bm25s.BM25()
        if ids and bm25 is None:
            self.bm25.index(tokenize(texts), show_progress=False)
        self.document_frequency = self._document_frequency()

    @classmethod
    def cached(cls, store: ArticleStore, folder: Path) -> "LexicalIndex":
        """Load the BM25 index saved in ``folder`` if it matches the store's articles; else build and save it."""
        fingerprint = hashlib.sha256(json.dumps(sorted(store.article_hashes().items())).encode()).hexdigest()
        try:
            if json.loads((folder / "fingerprint.json").read_text())["fingerprint"] == fingerprint:
                chunks = json.loads((folder / "chunks.json").read_text())
                bm25 = bm25s.BM25.load(str(folder), mmap=False, show_progress=False) if chunks["ids"] else None
                return cls(chunks["ids"], chunks["texts"], chunks["metas"], bm25)
        except (OSError, ValueError, KeyError):
            pass  # missing, stale or damaged: rebuild
        index = cls.from_store(store)
        index.save(folder, fingerprint)
        return index

    def save(self, folder: Path, fingerprint: str) -> None:
        """Write the index beside the vectors; the fingerprint file goes last, so a torn save is never loaded."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "fingerprint.json").unlink(missing_ok=True)
            if self.ids:
                self.bm25.save(str(folder), show_progress=False)
            (folder / "chunks.json").write_text(json.dumps({"ids": self.ids, "texts": self.texts, "metas": self.metas}))
            (folder / "fingerprint.json").write_text(json.dumps({"fingerprint": fingerprint}))
        except OSError as exc:  # a read-only or full disk costs only the next start-up's rebuild
            logging.getLogger("qa").warning("could not save the BM25 index in %s: %s", folder, exc.strerror)

    @classmethod
    def from_store(cls, store: ArticleStore) -> "LexicalIndex":
        ids, texts, metas = [], [], []
        for page_ids, page_docs, page_metas in store.iter_chunks():
            ids += page_ids
            texts += page_docs
            metas += page_metas
        return cls(ids, texts, metas)

    def _document_frequency(self) -> dict[str, int]:
        if not self.ids:
            return {}
        vocab = self.bm25.vocab_dict
        counts = np.diff(self.bm25.scores["indptr"]) if hasattr(self.bm25, "scores") else None
        if counts is None:
            return {}
        return {token: int(counts[i]) for token, i in vocab.items() if i < len(counts)}

    def idf(self, token: str) -> float:
        """Inverse document frequency of a (stemmed) token, high for rare words."""
        n = max(len(self.ids), 1)
        df = self.document_frequency.get(token, 0)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def search(self, query: str, n: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """Positions of the best chunks and their BM25 scores, best first."""
        if not self.ids:
            return []
        tokens = tokenize([query])
        if not tokens[0]:
            return []
        scores = self.bm25.get_scores(tokens[0])
        if filters and not filters.is_empty():
            mask = np.fromiter((filters.matches(m) for m in self.metas), dtype=bool, count=len(self.metas))
            scores = np.where(mask, scores, 0.0)
        top = np.argsort(-scores)[:n]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


class HybridRetriever(BaseRetriever):
    """Dense + BM25 candidates, fused by reciprocal rank; Documents carry the chunk's metadata and scores."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ArticleStore
    embedder: Embedder
    lexical: LexicalIndex
    k: int = Field(4, ge=1)
    candidates: int = Field(30, ge=1)
    rrf_k: int = Field(60, ge=1)
    filters: Filters = Field(default_factory=Filters)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        query_vector = self.embedder.query_vector(query)
        where = self.filters.to_chroma_where()
        found: dict[str, tuple[str, dict]] = {}  # chunk id -> (text, metadata)
        rankings: list[list[str]] = []
        # Dense, chunk level: passages about the question's topic.
        dense = self.store.query(query_vector, self.candidates, where)
        found.update((i, (text, meta)) for i, text, meta, _ in dense)
        rankings.append([i for i, *_ in dense])
        # Dense, sentence level: the one sentence that matches the question, ranked by its chunk.
        sentence_hits = self.store.query_sentences(query_vector, self.candidates, where)
        rankings.append(list(dict.fromkeys(m["chunk_id"] for _, m, _ in sentence_hits)))
        # Lexical: rare names and numbers the embedder blurs.
        lexical = self.lexical.search(query, self.candidates, self.filters)
        for pos, _ in lexical:
            found.setdefault(self.lexical.ids[pos], (self.lexical.texts[pos], self.lexical.metas[pos]))
        rankings.append([self.lexical.ids[pos] for pos, _ in lexical])
        fused: dict[str, float] = {}
        for ranking in rankings:
            for rank, chunk_id in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1 / (self.rrf_k + rank + 1)
        best = sorted(fused, key=lambda i: -fused[i])[: self.k]
        missing = [i for i in best if i not in found]
        found.update((i, (text, meta)) for i, text, meta in self.store.get_chunks(missing))
        return [
            Document(id=i, page_content=found[i][0], metadata={**found[i][1], "chunk_id": i, "rrf": fused[i], "rank": r})
            for r, i in enumerate(best)
            if i in found
        ]

