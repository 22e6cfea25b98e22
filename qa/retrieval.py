"""Hybrid retrieval: dense (Chroma) and lexical (BM25 via bm25s), fused by reciprocal rank, as a LangChain retriever.

>>> retriever = HybridRetriever(store=store, embedder=embedder, lexical=LexicalIndex.from_store(store))  # doctest: +SKIP
>>> retriever.invoke("Who did Kishida meet in Vilnius?")[0].metadata["title"]                           # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import bm25s
import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field, model_validator

from qa.articles import date_ordinal
from qa.embeddings import Embedder
from qa.store import ArticleStore, ChunkPage

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


class LexicalIndex:
    """A BM25 index over every chunk of the store, with the chunks' texts and metadata for filtering, and their
    vectors for an exact dense search (``nearest``).

    Chroma's HNSW graph can lose chunks among many near-identical ones (bench/hnsw.py: 10,000 of them leave
    some unfindable even by their own vector), while an exact search over this copy cannot. Its vectors cost
    1.5 KB a chunk (384 float32), about what the chunk's text and metadata cost.

    It is saved beside the vectors with each chunk's token ids and vector and the content hash of every article
    it covers. After an index run only the chunks of added or changed articles are read from the store and
    tokenized; removed ones are dropped. The BM25 score matrix is then recomputed from the saved token ids
    (every score depends on corpus-wide statistics), which takes a fraction of a full build.
    """

    def __init__(
        self,
        ids: list[str],
        texts: list[str],
        metas: list[dict],
        vectors: np.ndarray,
        tokens: TokenIds | None = None,
        article_hashes: dict[str, str] | None = None,
        bm25: bm25s.BM25 | None = None,
    ) -> None:
        if len(vectors) != len(ids):
            raise ValueError(f"{len(vectors)} vectors for {len(ids)} chunks")
        self.ids, self.texts, self.metas, self.vectors = ids, texts, metas, vectors
        self.tokens = tokens if tokens is not None else TokenIds.from_tokens(tokenize(texts))
        self.article_hashes = article_hashes if article_hashes is not None else {}
        if bm25 is None:
            bm25 = bm25s.BM25()
            if ids:  # bm25s adds "" to the vocab it is given: hand it a copy
                bm25.index(bm25s.tokenization.Tokenized(ids=self.tokens.lists(), vocab=dict(self.tokens.vocab)),
                           show_progress=False)  # fmt: skip
        self.bm25 = bm25
        self.document_frequency = self._document_frequency()
        self._mask: tuple[str, np.ndarray] | None = None  # the last filters (as JSON) and the chunks they let through

    @classmethod
    def cached(cls, store: ArticleStore, folder: Path) -> LexicalIndex:
        """The index saved in ``folder``, brought up to date with the store (and saved again if it changed)."""
        current = store.article_hashes()
        try:
            saved = cls.load(folder)
        except FileNotFoundError:  # not built yet, or a save was cut short
            saved = None
        except Exception as exc:  # damaged or from an older version: whatever the reason, it is rebuilt
            logging.getLogger("qa").warning("the BM25 index in %s cannot be read (%s); rebuilding it from the store",
                                            folder, exc.__class__.__name__)  # fmt: skip
            saved = None
        if saved is not None and len(saved.ids) and saved.vectors.shape[1:] != (store.vector_width(),):
            logging.getLogger("qa").warning("the vectors saved in %s do not match the index's (%s); rebuilding them "
                                            "from the store", folder, saved.vectors.shape)  # fmt: skip
            saved = None
        if saved is not None and saved.article_hashes == current:
            return saved
        index = saved.updated(store, current) if saved is not None else cls.from_store(store, current)
        with store.using():  # one process saves at a time
            index.save(folder)
        return index

    @classmethod
    def from_store(cls, store: ArticleStore, article_hashes: dict[str, str]) -> LexicalIndex:
        """Every chunk of the store; ``article_hashes`` is what the store held when the caller looked."""
        return cls(*_concat(store.iter_chunks(vectors=True)), article_hashes=article_hashes).with_covered()

    def updated(self, store: ArticleStore, current: dict[str, str]) -> LexicalIndex:
        """A copy without the chunks of removed or changed articles and with those of added or changed ones."""
        unchanged = {a for a, h in self.article_hashes.items() if current.get(a) == h}
        keep = [n for n, m in enumerate(self.metas) if m["article_id"] in unchanged]
        kept_articles = {self.metas[n]["article_id"] for n in keep}
        fresh = [a for a in current if a not in kept_articles]
        ids, texts, metas, vectors = _concat(store.chunks_of(fresh, vectors=True))
        tokens = self.tokens.select(keep).extend(tokenize(texts))
        return LexicalIndex([self.ids[n] for n in keep] + ids, [self.texts[n] for n in keep] + texts,
                            [self.metas[n] for n in keep] + metas, _stack([self.vectors[keep], vectors]), tokens,
                            current).with_covered()  # fmt: skip

    def with_covered(self) -> LexicalIndex:
        """Record hashes only for articles whose chunks were read: an article written meanwhile is read next time."""
        self.article_hashes = _covered(self.article_hashes, self.metas)
        return self

    def save(self, folder: Path) -> None:
        """Write the index beside the vectors; articles.json goes last, so a torn save is never loaded."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "articles.json").unlink(missing_ok=True)
            if self.ids:
                self.bm25.save(str(folder), show_progress=False)
            (folder / "chunks.json").write_text(json.dumps({"ids": self.ids, "texts": self.texts, "metas": self.metas}))
            self.tokens.save(folder)
            np.save(folder / "vectors.npy", self.vectors)
            (folder / "articles.json").write_text(json.dumps(self.article_hashes))
        except OSError as exc:  # a read-only or full disk costs only the next start-up's rebuild
            logging.getLogger("qa").warning("could not save the BM25 index in %s: %s", folder, exc.strerror)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        article_hashes = json.loads((folder / "articles.json").read_text())
        chunks = json.loads((folder / "chunks.json").read_text())
        tokens = TokenIds.load(folder)
        if len(tokens) != len(chunks["ids"]):
            raise ValueError("token ids do not match the chunks")
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        if vectors.ndim != 2 or len(vectors) != len(chunks["ids"]) or not np.issubdtype(vectors.dtype, np.floating):
            raise ValueError(f"vectors.npy holds {vectors.shape} {vectors.dtype}, not one vector per chunk")
        bm25 = bm25s.BM25.load(str(folder), mmap=False, show_progress=False) if chunks["ids"] else None
        return cls(chunks["ids"], chunks["texts"], chunks["metas"], vectors, tokens, article_hashes, bm25)

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
        scores = np.where(self._allowed(filters), self.bm25.get_scores(tokens[0]), 0.0)
        top = np.argsort(-scores)[:n]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def nearest(self, vector: np.ndarray, n: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """Positions of the ``n`` chunks nearest to a unit-length ``vector`` and their cosine similarities, best
        first: an exact search (ties by position, so the same every time)."""
        if not self.ids:
            return []
        similarity = np.where(self._allowed(filters), self.vectors @ vector.astype(np.float32), -np.inf)
        top = np.argsort(-similarity, kind="stable")[:n]
        return [(int(i), float(similarity[i])) for i in top if np.isfinite(similarity[i])]

    def _allowed(self, filters: Filters | None) -> np.ndarray | bool:
        """Which chunks the filters let through (True: all). The mask of the last filters is kept: a question
        searches twice (BM25 and dense) with the same filters, and a chat keeps its filters from turn to turn."""
        if not filters or filters.is_empty():
            return True
        key, last = filters.model_dump_json(), self._mask  # one read: another thread may replace it meanwhile
        if last is None or last[0] != key:
            last = self._mask = (key, np.fromiter((filters.matches(m) for m in self.metas), dtype=bool,
                                                  count=len(self.metas)))  # fmt: skip
        return last[1]


def _concat(pages: Iterable[ChunkPage]) -> tuple[list[str], list[str], list[dict], np.ndarray]:
    ids, texts, metas, vectors = [], [], [], []
    for page in pages:
        ids += page.ids
        texts += page.texts
        metas += page.metas
        vectors.append(page.vectors)
    return ids, texts, metas, _stack(vectors)


def _stack(vectors: list[np.ndarray]) -> np.ndarray:
    """Rows of vectors, one under the other."""
    vectors = [v for v in vectors if len(v)]
    return np.concatenate(vectors, dtype=np.float32) if vectors else np.zeros((0, 0), dtype=np.float32)


def _covered(article_hashes: dict[str, str], metas: list[dict]) -> dict[str, str]:
    present = {m["article_id"] for m in metas}
    return {a: h for a, h in article_hashes.items() if a in present}


class TokenIds:
    """Every chunk's BM25 tokens as ids into one vocabulary, in one flat array (compact to keep and to save)."""

    def __init__(self, vocab: dict[str, int], flat: np.ndarray, offsets: np.ndarray) -> None:
        self.vocab, self.flat, self.offsets = vocab, flat, offsets

    @classmethod
    def from_tokens(cls, tokens: list[list[str]]) -> TokenIds:
        return cls({}, np.zeros(0, np.int32), np.zeros(1, np.int64)).extend(tokens)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lists(self) -> list[list[int]]:
        return [part.tolist() for part in np.split(self.flat, self.offsets[1:-1])] if len(self) else []

    def select(self, rows: list[int]) -> TokenIds:
        rows = np.asarray(rows, dtype=np.int64)
        lengths = (self.offsets[1:] - self.offsets[:-1])[rows]
        starts = self.offsets[rows]
        flat = np.concatenate([self.flat[s : s + n] for s, n in zip(starts, lengths)]) if len(rows) else self.flat[:0]
        return TokenIds(self.vocab, flat.astype(np.int32), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    def extend(self, tokens: list[list[str]]) -> TokenIds:
        """A copy with more chunks; new words join the vocabulary (ids of known words never change)."""
        vocab = dict(self.vocab)
        new = [vocab.setdefault(t, len(vocab)) for chunk in tokens for t in chunk]
        lengths = np.array([len(chunk) for chunk in tokens], dtype=np.int64)
        flat = np.concatenate([self.flat, np.asarray(new, dtype=np.int32)])
        return TokenIds(vocab, flat, np.concatenate([self.offsets, self.offsets[-1] + np.cumsum(lengths)]))

    def save(self, folder: Path) -> None:
        np.savez(folder / "tokens.npz", flat=self.flat, offsets=self.offsets)
        (folder / "token_vocab.json").write_text(json.dumps(list(self.vocab)))

    @classmethod
    def load(cls, folder: Path) -> TokenIds:
        arrays = np.load(folder / "tokens.npz")
        words = json.loads((folder / "token_vocab.json").read_text())
        return cls({w: i for i, w in enumerate(words)}, arrays["flat"], arrays["offsets"])


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
        dense = self.dense(query_vector)
        found.update(dense)
        rankings.append(list(dense))
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
        best = sorted(fused, key=lambda i: (-fused[i], i))[: self.k]  # ties by id: the same answer every time
        missing = [i for i in best if i not in found]
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
        (text, metadata). The exact search over the in-memory copy finds what the HNSW graph can lose; the
        graph adds chunks written since the copy was taken (by another client of a Chroma server)."""
        nearest = {i: (similarity, text, meta) for i, text, meta, similarity
                   in self.store.query(query_vector, self.candidates, self.filters.to_chroma_where())}  # fmt: skip
        for pos, similarity in self.lexical.nearest(query_vector, self.candidates, self.filters):
            nearest[self.lexical.ids[pos]] = (similarity, self.lexical.texts[pos], self.lexical.metas[pos])
        ranked = sorted(nearest, key=lambda i: (-nearest[i][0], i))[: self.candidates]  # ties by id, as below
        return {i: nearest[i][1:] for i in ranked}
