"""Hybrid retrieval: dense (Chroma, and an exact search over the chunk vectors on disk; sentences by a graph on disk
reranked exactly, or a Chroma server's) and lexical (BM25 by SQLite FTS5), fused by reciprocal rank, as a LangChain
retriever.

>>> retriever = HybridRetriever(store=store, embedder=embedder, lexical=SearchIndex(folder))  # doctest: +SKIP
>>> retriever.invoke("Who did Kishida meet in Vilnius?")[0].metadata["title"]                # doctest: +SKIP
"""

from __future__ import annotations

from datetime import date

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field, model_validator

from qa.articles import date_ordinal
from qa.embeddings import Embedder
from qa.search_index import SearchIndex
from qa.store import ArticleStore
from qa.text.tokens import tokenize  # noqa: F401 (the BM25 vocabulary, imported from here by the rule modules)


class Filters(BaseModel):
    """Restrict retrieval to some articles, sources or a publication date range (inclusive)."""

    article_ids: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    published_from: date | None = None
    published_to: date | None = None

    @model_validator(mode="after")
    def _from_before_to(self) -> Filters:
        if self.published_from and self.published_to and self.published_from > self.published_to:
            raise ValueError(f"published_from {self.published_from} is after published_to {self.published_to}")
        return self

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


class HybridRetriever(BaseRetriever):
    """Dense + BM25 candidates, fused by reciprocal rank; Documents carry the chunk's metadata and scores."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ArticleStore
    embedder: Embedder
    lexical: SearchIndex
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
        dense = self.dense(query_vector)
        found.update(dense)
        rankings.append(list(dense))
        # Dense, sentence level: the one sentence that matches the question, ranked by its chunk.
        # An embedded store's are searched in the search index on disk (qa.sentence_rows), a server's by the server.
        if self.lexical.keeps_vectors:
            sentence_hits = self.lexical.nearest_sentences(query_vector, self.candidates, self.filters)
        else:
            sentence_hits = self.store.query_sentences(query_vector, self.candidates, where)
        rankings.append(list(dict.fromkeys(m["chunk_id"] for _, m, _ in sentence_hits)))
        # Lexical: rare names and numbers the embedder blurs.
        lexical = self.lexical.search(query, self.candidates, self.filters)
        for chunk_id, text, meta, _ in lexical:
            found.setdefault(chunk_id, (text, meta))
        rankings.append([chunk_id for chunk_id, *_ in lexical])
        fused: dict[str, float] = {}
        for ranking in rankings:
            for rank, chunk_id in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1 / (self.rrf_k + rank + 1)
        best = sorted(fused, key=lambda i: (-fused[i], i))[: self.k]  # ties by id: the same answer every time
        # A sentence's chunk that no chunk ranking brought: from the search index, which holds every chunk's text
        # (a read through an embedded Chroma loads the whole chunk collection into this process), else the store.
        missing = [i for i in best if i not in found]
        found.update((i, (text, meta)) for i, text, meta in self.lexical.chunks(missing))
        if missing := [i for i in missing if i not in found]:
            found.update((i, (text, meta)) for i, text, meta in self.store.get_chunks(missing))
        return [
            Document(
                id=i, page_content=found[i][0], metadata={**found[i][1], "chunk_id": i, "rrf": fused[i], "rank": r}
            )
            for r, i in enumerate(best)
            if i in found
        ]

    def dense(self, query_vector: np.ndarray) -> dict[str, tuple[str, dict]]:
        """The ``candidates`` chunks nearest to the query vector within the filters, best first, as chunk id ->
        (text, metadata). Embedded, the exact search over the vectors on disk is the whole search: every index
        run brings them up to date, and Chroma's graph would load every chunk vector into this process. Against a
        server, the server's graph answers, and the search index holds no vectors."""
        nearest = {}
        if not self.lexical.keeps_vectors:
            nearest = {i: (similarity, text, meta) for i, text, meta, similarity
                       in self.store.query(query_vector, self.candidates, self.filters.to_chroma_where())}  # fmt: skip
        for chunk_id, text, meta, similarity in self.lexical.nearest(query_vector, self.candidates, self.filters):
            nearest[chunk_id] = (similarity, text, meta)
        ranked = sorted(nearest, key=lambda i: (-nearest[i][0], i))[: self.candidates]  # ties by id, as below
        return {i: nearest[i][1:] for i in ranked}
