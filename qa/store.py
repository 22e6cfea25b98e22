"""The Chroma store: a collection of chunk vectors and a collection of article records.

An article record is written last and carries the article's content hash, so it marks a complete
write: a record whose hash starts with ``pending:`` belongs to a write that was interrupted, and the
next index run redoes or removes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from qa.articles import Article
from qa.chunking import Chunk
from qa.embeddings import ChromaEmbeddingFunction, Embedder
from qa.errors import CitationNotFound, IndexBusy, IndexCorrupt, IndexWriteError, StoreUnavailable
from qa.settings import Settings

PENDING = "pending:"
FILTER_FIELDS = ("article_id", "source", "published_ord")  # the metadata qa.retrieval.Filters reads
LOCK_FILE = ".qa-index.lock"
_PAGE = 5000
# Chroma keeps no embedding-free records, so article records carry this constant 1-d vector.
_RECORD_VECTOR = [1.0]


def _chroma_settings():
    import chromadb.config

    return chromadb.config.Settings(anonymized_telemetry=False, allow_reset=False)


def connect(settings: Settings):
    """Open the Chroma client named by the settings, with a clear error when that is impossible."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb

    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreUnavailable(f"QA_CHROMA_URL must look like http://HOST:PORT, not {settings.chroma_url!r}")
        try:
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                headers={"Authorization": f"Bearer {os.environ['CHROMA_TOKEN']}"} if "CHROMA_TOKEN" in os.environ else None,
                settings=_chroma_settings(),
            )
            client.heartbeat()
        except Exception as exc:  # connection errors come in several types depending on the transport
            raise StoreUnavailable(
                f"cannot reach the Chroma server at {settings.chroma_url} ({exc.__class__.__name__}); "
                "start it with `chroma run --path index --host 127.0.0.1 --port 8000` or unset QA_CHROMA_URL"
            ) from None
        return client
    path = Path(settings.index_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise IndexCorrupt(f"index location {path} is a file, not a folder; point QA_INDEX_DIR at a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
    except Exception as exc:  # a damaged sqlite file or a foreign folder shows up as various errors
        raise IndexCorrupt(
            f"cannot open the index in {path} ({exc.__class__.__name__}: {str(exc)[:120]}); "
            f"move that folder away and run `qa index` to rebuild it"
        ) from None


class ArticleStore:
    """Chunks, sentences and articles in Chroma. All writes go through ``write_articles`` and ``delete_articles``.

    Sentence vectors (keyed by citation id) let the answerer score passages without running the model
    at question time; a chunk's vector is the normalised mean of its sentences' vectors.
    """

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.client = connect(settings)
        function = ChromaEmbeddingFunction(embedder)
        try:
            self.chunks = self.client.get_or_create_collection(
                f"{settings.collection}-chunks",
                embedding_function=function,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedding_model": settings.embedding_model},
            )
            self.sentences = self.client.get_or_create_collection(
                f"{settings.collection}-sentences",
                embedding_function=function,
                configuration={"hnsw": {"space": "cosine"}},
            )
            self.records = self.client.get_or_create_collection(
                f"{settings.collection}-articles", embedding_function=function
            )
            self._max_batch = self.client.get_max_batch_size()  # a server call: made here, where failures are caught
        except Exception as exc:
            raise IndexCorrupt(
                f"the store at {settings.store_location} cannot be used ({exc.__class__.__name__}: {str(exc)[:160]}); "
                "move it away or choose another QA_COLLECTION, then run `qa index`"
            ) from None
        if settings.chroma_url:
            self.chunks, self.sentences, self.records = (
                _ServerCollection(c, settings.chroma_url) for c in (self.chunks, self.sentences, self.records)
            )
        model = (self.chunks.metadata or {}).get("embedding_model")
        if model and model != settings.embedding_model:
            raise IndexCorrupt(
                f"the index was built with embedding model {model!r}, not {settings.embedding_model!r}; "
                "set QA_EMBEDDING_MODEL back or use another QA_INDEX_DIR / QA_COLLECTION"
            )

    # --- reads -------------------------------------------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        """(articles, chunks) in the store."""
        return self.records.count(), self.chunks.count()

    def article_records(self) -> dict[str, dict]:
        """Every article record's metadata (title, source, ..., content_hash), by article id."""
        records: dict[str, dict] = {}
        for ids, _, metas in self._pages(self.records, include=["metadatas"]):
            records.update(zip(ids, metas))
        return records

    def article_hashes(self) -> dict[str, str]:
        """Content hash of every article record, ``pending:...`` for interrupted writes."""
        return {i: m.get("content_hash", "") for i, m in self.article_records().items()}

    def unknown_filter_values(self, article_ids: Sequence[str], sources: Sequence[str]) -> list[str]:
        """The article ids and sources among these that no indexed article has, as "article 'X'" / "source 'Y'"."""
        known = set(self.records.get(ids=list(article_ids), include=[])["ids"]) if article_ids else set()
        unknown = [f"article {a!r}" for a in article_ids if a not in known]
        unknown += [f"source {s!r}" for s in sources
                    if not self.records.get(where={"source": s}, limit=1, include=[])["ids"]]  # fmt: skip
        return unknown

    def get_article(self, article_id: str) -> Article:
        got = self.records.get(ids=[article_id], include=["documents", "metadatas"])
        if not got["ids"]:
            raise CitationNotFound(f"no article with id {article_id!r} in the index")
        meta = got["metadatas"][0]
        return Article(id=article_id, text=got["documents"][0],
                       **{k: meta.get(k, "") for k in ("title", "source", "author", "published", "url", "origin")})  # fmt: skip

    def get_chunks(self, ids: Sequence[str]) -> list[tuple[str, str, dict]]:
        if not ids:
            return []
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        return list(zip(got["ids"], got["documents"], got["metadatas"]))

    def iter_chunks(self) -> Iterator[tuple[list[str], list[str], list[dict]]]:
        """All chunks, a page at a time: (ids, documents, metadatas)."""
        yield from self._pages(self.chunks, include=["documents", "metadatas"])

    def chunks_of(self, article_ids: Sequence[str]) -> Iterator[tuple[list[str], list[str], list[dict]]]:
        """The chunks of some articles, a few hundred articles at a time: (ids, documents, metadatas)."""
        for lo in range(0, len(article_ids), 500):
            got = self.chunks.get(where={"article_id": {"$in": list(article_ids[lo : lo + 500])}},
                                  include=["documents", "metadatas"])  # fmt: skip
            yield got["ids"], got["documents"], got["metadatas"]

    def query(self, embedding: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, str, dict, float]]:
        """Nearest chunks as (id, document, metadata, cosine similarity), best first."""
        total = self.chunks.count()
        if total == 0:
            return []
        res = self.chunks.query(
            query_embeddings=[embedding.tolist()],
            n_results=min(n, total),
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        return [(i, d, m, 1.0 - float(dist))
                for i, d, m, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0])]  # fmt: skip

    def query_sentences(self, embedding: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, dict, float]]:
        """Nearest sentences as (citation id, metadata with chunk_id, cosine similarity), best first."""
        total = self.sentences.count()
        if total == 0:
            return []
        res = self.sentences.query(query_embeddings=[embedding.tolist()], n_results=min(n, total),
                                   where=where or None, include=["metadatas", "distances"])  # fmt: skip
        return [(i, m, 1.0 - float(d)) for i, m, d in zip(res["ids"][0], res["metadatas"][0], res["distances"][0])]

    def sentence_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the given sentence (citation) ids; unknown ids are left out."""
        if not ids:
            return {}
        got = self.sentences.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}

    def vectors_by_text_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors for the given text hashes (any one per hash)."""
        found: dict[str, np.ndarray] = {}
        for lo in range(0, len(hashes), 500):
            got = self.sentences.get(where={"text_hash": {"$in": list(hashes[lo : lo + 500])}},
                                     include=["embeddings", "metadatas"])  # fmt: skip
            for meta, vector in zip(got["metadatas"], got["embeddings"]):
                found.setdefault(meta["text_hash"], np.asarray(vector, dtype=np.float32))
        return found

    def _pages(self, collection, include: list[str]):
        offset = 0
        while True:
            got = collection.get(limit=_PAGE, offset=offset, include=include)
            if not got["ids"]:
                return
            yield got["ids"], got.get("documents") or [None] * len(got["ids"]), got.get("metadatas") or [{}] * len(got["ids"])
            offset += len(got["ids"])

    # --- writes ------------------------------------------------------------------------------------------

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the index folder's lock for a whole index run.

        Chroma's embedded store is not safe for two writing processes: both runs report success while
        some of their writes are lost. So a second writer fails at once with ``IndexBusy``. The kernel
        drops the lock when its process dies, even by SIGKILL. A Chroma server needs no lock.
        """
        if self.settings.chroma_url:
            yield
            return
        try:
            import fcntl
        except ImportError:  # not on a POSIX system: no lock
            yield
            return
        folder = Path(self.settings.index_dir).expanduser()
        try:
            handle = open(folder / LOCK_FILE, "a")
        except OSError as exc:
            raise IndexWriteError(f"cannot write to the index folder {folder} ({exc.strerror or exc})") from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusy(
                    f"another process is indexing into {folder}; wait for it to finish, then run `qa index` again"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn a failed write (disk full, read-only, I/O error) into one clear qa error. A lost Chroma server
        is already one (``_ServerCollection``)."""
        import chromadb.errors

        try:
            yield
        except (OSError, chromadb.errors.ChromaError) as exc:
            detail = (str(exc).strip().splitlines() or [exc.__class__.__name__])[-1][:160]
            raise IndexWriteError(
                f"writing to the index at {self.settings.store_location} failed ({detail}); articles indexed "
                "before are kept: free some disk space or fix the folder, then run `qa index` again"
            ) from exc

    def write_articles(self, batch: Sequence[IndexedArticle]) -> None:
        """Replace each article's chunks, sentences and record."""
        with self._writing():
            self._write_articles(batch)

    def _write_articles(self, batch: Sequence[IndexedArticle]) -> None:
        ids = [item.article.id for item in batch]
        self._put_records([(item.article, PENDING + item.article.content_hash) for item in batch])
        self.chunks.delete(where={"article_id": {"$in": ids}})
        self.sentences.delete(where={"article_id": {"$in": ids}})
        self._add(self.chunks, ids=[c.id for item in batch for c in item.chunks],
                  documents=[c.text for item in batch for c in item.chunks],
                  embeddings=np.concatenate([item.chunk_vectors for item in batch]),
                  metadatas=[chunk_metadata(item.article, c) for item in batch for c in item.chunks])  # fmt: skip
        self._add(self.sentences, ids=[s.id for item in batch for s in item.sentences],
                  embeddings=np.concatenate([item.sentence_vectors for item in batch]),
                  metadatas=[s.metadata for item in batch for s in item.sentences])  # fmt: skip
        self._mark_written(batch)

    def _add(self, collection, ids: list[str], embeddings: np.ndarray, metadatas: list[dict], documents=None) -> None:
        for lo in range(0, len(ids), self._max_batch):
            hi = lo + self._max_batch
            collection.add(ids=ids[lo:hi], embeddings=embeddings[lo:hi], metadatas=metadatas[lo:hi],
                           documents=documents[lo:hi] if documents else None)  # fmt: skip

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        if not article_ids:
            return
        with self._writing():
            self.chunks.delete(where={"article_id": {"$in": list(article_ids)}})
            self.sentences.delete(where={"article_id": {"$in": list(article_ids)}})
            self.records.delete(ids=list(article_ids))

    def _mark_written(self, batch: Sequence[IndexedArticle]) -> None:
        """Replace the ``pending:`` hashes by the real ones; the texts stay (a metadata-only update)."""
        self.records.update(ids=[item.article.id for item in batch],
                            metadatas=[{"content_hash": item.article.content_hash} for item in batch])  # fmt: skip

    def _put_records(self, records: Sequence[tuple[Article, str]]) -> None:
        self.records.upsert(
            ids=[a.id for a, _ in records],
            documents=[a.text for a, _ in records],
            embeddings=[_RECORD_VECTOR] * len(records),
            metadatas=[{**a.model_dump(exclude={"id", "text"}), "content_hash": h} for a, h in records],
        )


class _ServerCollection:
    """A collection on a Chroma server whose lost connections become ``StoreUnavailable`` (one line for the
    CLI and the UI) instead of an httpx traceback. The client reconnects by itself once the server is back."""

    def __init__(self, collection, url: str) -> None:
        self._collection, self._url = collection, url

    def __getattr__(self, name: str):
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            import httpx

            try:
                return attr(*args, **kwargs)
            except httpx.TransportError as exc:
                raise StoreUnavailable(
                    f"lost the Chroma server at {self._url} ({exc.__class__.__name__}); start it again and retry: "
                    "articles indexed before are kept"
                ) from exc

        return call


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
    }


def chunk_metadata(article: Article, chunk: Chunk) -> dict:
    return {**article_metadata(article), "start": chunk.start, "end": chunk.end, "index": chunk.index}


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
