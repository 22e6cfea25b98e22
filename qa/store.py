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
from typing import NamedTuple
from urllib.parse import urlparse

import numpy as np

from qa.articles import Article
from qa.chunking import Chunk
from qa.citations import clipped
from qa.embeddings import ChromaEmbeddingFunction, Embedder
from qa.errors import CitationNotFound, IndexCorrupt, IndexWriteError, StoreUnavailable
from qa.integrity import (
    LOW_SPACE_BYTES,
    SQLITE_BUGS,
    check_database,
    free_bytes,
    last_line,
    storage_error,
    store_failures,
)
from qa.lease import ServerLease
from qa.locks import IndexFolder, chroma_settings, index_run_lock
from qa.settings import Settings

PENDING = "pending:"
CHUNK_COUNT = "chunks"  # an article record's metadata: how many chunks it has (records written before: none)
RECORD_FIELDS = ("title", "source", "author", "published", "url", "origin", "page_starts")  # an article record's own metadata
FILTER_FIELDS = ("article_id", "source", "published_ord")  # the metadata qa.retrieval.Filters reads
_PAGE = 5000
# The vector indexes' HNSW settings (bench/hnsw.py): with Chroma's defaults (M 16, ef 100), 10,000 near-identical
# articles leave 3 of 46 other chunks (8 in the worst build) unfindable even by their own vector; these settings
# lose 2 (3), as many as M 48 / ef 400 at less cost. The retriever's chunk search is also exact, over its in-memory
# copy of the chunk vectors (qa.retrieval.LexicalIndex.nearest); the sentence search relies on the graph alone.
HNSW = {"space": "cosine", "max_neighbors": 32, "ef_construction": 200, "ef_search": 200}
# Chroma keeps no embedding-free records, so article records carry this constant 1-d vector.
_RECORD_VECTOR = [1.0]


def connect_server(url: str):
    """A client of the Chroma server at ``url``, with a clear error when it cannot be reached."""
    import chromadb
    import chromadb.errors
    import httpx

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise StoreUnavailable(f"QA_CHROMA_URL must look like http://HOST:PORT, not {url!r}")
    try:
        client = chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            headers={"Authorization": f"Bearer {os.environ['CHROMA_TOKEN']}"} if "CHROMA_TOKEN" in os.environ else None,
            settings=chroma_settings(),
        )
        client.heartbeat()
    # chromadb's HttpClient reports a server it cannot reach as a ValueError ("Could not connect to a Chroma
    # server"); the heartbeat raises httpx's transport errors or Chroma's own
    except (ValueError, OSError, httpx.HTTPError, chromadb.errors.ChromaError) as exc:
        raise StoreUnavailable(
            f"cannot reach the Chroma server at {url} ({exc.__class__.__name__}); "
            "start it with `chroma run --path index --host 127.0.0.1 --port 8000` or unset QA_CHROMA_URL"
        ) from None
    return client


class ArticleStore:
    """Chunks, sentences and articles in Chroma. All writes go through ``write_articles`` and ``delete_articles``.

    Sentence vectors (keyed by citation id) let the answerer score passages without running the model
    at question time; a chunk's vector is the normalised mean of its sentences' vectors. Every call to a
    collection goes through ``using()``: for an embedded store that holds its ``IndexFolder``.
    """

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        self.settings = settings
        self._function = ChromaEmbeddingFunction(embedder)
        self._folder = None if settings.chroma_url else IndexFolder.of(Path(settings.index_dir), settings.lock_timeout)
        self._server = connect_server(settings.chroma_url) if settings.chroma_url else None
        self._collections: dict[str, object] = {}
        self._lease: ServerLease | None = None  # held by an index run on a server
        self._opened = -1  # the folder's client the collections belong to
        self.chunks, self.sentences, self.records = (_Collection(self, n) for n in ("chunks", "sentences", "records"))
        self.removed = _Collection(self, "removed")  # tombstones of removed articles: see ``tombstones``
        with self.using():
            model = (self._collections["chunks"].metadata or {}).get("embedding_model")
        if model and model != settings.embedding_model:
            raise IndexCorrupt(
                f"the index was built with embedding model {model!r}, not {settings.embedding_model!r}; "
                "set QA_EMBEDDING_MODEL back or use another QA_INDEX_DIR / QA_COLLECTION"
            )

    @contextmanager
    def using(self) -> Iterator[None]:
        """Hold the store for a sequence of calls that must see one state (reentrant; a no-op on a server)."""
        if self._folder is None:
            if not self._collections:
                self._open_collections(self._server)
            yield
            return
        with self._folder.held():
            if self._opened != self._folder.opened:
                self._open_collections(self._folder.client)
                self._opened = self._folder.opened
            yield

    @property
    def generation(self) -> int | None:
        """A number that changes whenever any process writes to the embedded store (None for a server)."""
        if self._folder is None:
            return None
        with self.using():
            return self._folder.generation

    def _open_collections(self, client) -> None:
        from qa.rebuild import finish_swap

        prefix = self.settings.collection
        names = {f"{prefix}-chunks", f"{prefix}-sentences", f"{prefix}-articles"}
        try:
            finish_swap(client, prefix, before=self.folder_will_write)  # a rebuild or compaction cut short
            if self._folder is not None and not names <= {c.name for c in client.list_collections()}:
                self._folder.will_write()
            self._collections = {
                "chunks": client.get_or_create_collection(
                    f"{prefix}-chunks", embedding_function=self._function,
                    configuration={"hnsw": HNSW}, metadata={"embedding_model": self.settings.embedding_model},
                ),
                "sentences": client.get_or_create_collection(
                    f"{prefix}-sentences", embedding_function=self._function, configuration={"hnsw": HNSW}
                ),
                "records": client.get_or_create_collection(f"{prefix}-articles", embedding_function=self._function),
            }  # fmt: skip
            self._max_batch = client.get_max_batch_size()  # a server call: made here, where failures are caught
        except SQLITE_BUGS:  # a bug in the SQL or its caller, not damage: as itself
            raise
        except store_failures() as exc:
            raise storage_error(self.settings.store_location, exc) from None

    def check(self) -> None:
        """Raise ``IndexCorrupt`` when the store is damaged: its files and SQLite's ``quick_check`` (embedded),
        then a read of every collection and a vector query in each vector index."""
        if self._folder is not None:
            with self.using():
                check_database(self._folder.path)
        self.records.count()
        for collection in (self.chunks, self.sentences):
            got = collection.get(limit=1, include=["embeddings"])
            if got["ids"]:
                collection.query(query_embeddings=[got["embeddings"][0]], n_results=1, include=[])

    @property
    def server(self):
        """The Chroma server's client (None for an embedded store)."""
        return self._server

    @property
    def folder(self) -> Path | None:
        """The embedded store's folder (None for a server)."""
        return None if self._folder is None else self._folder.path

    @property
    def client(self):
        """The Chroma client in use: the server's, or this process's on the folder (use inside ``using()``)."""
        return self._server if self._folder is None else self._folder.client

    @property
    def embedding_function(self) -> ChromaEmbeddingFunction:
        return self._function

    hnsw = HNSW

    def folder_will_write(self) -> None:
        """Before a write by hand (not through a collection of the store): other processes must reopen."""
        if self._folder is not None:
            self._folder.will_write()

    def reopen_collections(self) -> None:
        """Look the collections up by name again (after they were renamed)."""
        with self.using():
            self._open_collections(self.client)

    # --- reads -------------------------------------------------------------------------------------------

    def vector_width(self) -> int | None:
        """How many numbers a chunk vector has (None while the store holds no chunk)."""
        got = self.chunks.get(limit=1, include=["embeddings"])
        return len(got["embeddings"][0]) if got["ids"] else None

    def counts(self) -> tuple[int, int]:
        """(articles, chunks) in the store."""
        return self.records.count(), self.chunks.count()

    def article_records(self) -> dict[str, dict]:
        """Every article record's metadata (title, source, ..., content_hash), by article id."""
        records: dict[str, dict] = {}
        for ids, _, metas in self._pages(self.records, include=["metadatas"]):
            records.update(zip(ids, metas))
        for meta in records.values():
            written, complete = meta.get("written_hash"), meta.get("content_hash", "")
            if written and not complete.startswith(PENDING) and complete != written:
                meta["content_hash"] = PENDING + written  # two writers interleaved: redone like an interrupted write
        return records

    def complete_articles(self) -> Iterator[Article]:
        """Every completely written article, a page at a time (what a rebuild keeps)."""
        for ids, texts, metas in self._pages(self.records, ["documents", "metadatas"]):
            for article_id, text, meta in zip(ids, texts, metas):
                if text and not meta.get("content_hash", "").startswith(PENDING):
                    yield article_from_record(article_id, text, meta)

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
            raise CitationNotFound(f"no article with id {clipped(article_id)!r} in the index")
        return article_from_record(article_id, got["documents"][0], got["metadatas"][0])

    def get_chunks(self, ids: Sequence[str]) -> list[tuple[str, str, dict]]:
        return [row for page in self._pages(self.chunks, ["documents", "metadatas"], ids=ids) for row in zip(*page)]

    def iter_chunks(self, vectors: bool = False) -> Iterator[ChunkPage]:
        """All chunks, a page at a time (with their vectors if asked)."""
        yield from self._chunk_pages(vectors)

    def chunks_of(self, article_ids: Sequence[str], vectors: bool = False) -> Iterator[ChunkPage]:
        """The chunks of some articles, a few hundred articles at a time (with their vectors if asked)."""
        for lo in range(0, len(article_ids), 500):
            yield from self._chunk_pages(vectors, where={"article_id": {"$in": list(article_ids[lo : lo + 500])}})

    def _chunk_pages(self, vectors: bool, where: dict | None = None) -> Iterator[ChunkPage]:
        include = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
        for got in self._gets(self.chunks, include, where=where):
            rows = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1) if vectors else None
            yield ChunkPage(got["ids"], got["documents"], got["metadatas"], rows)

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
        return {i: np.asarray(v, dtype=np.float32)
                for got_ids, vectors, _ in self._pages(self.sentences, ["embeddings"], ids=ids)
                for i, v in zip(got_ids, vectors)}  # fmt: skip

    def vectors_by_text_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors for the given text hashes (any one per hash)."""
        found: dict[str, np.ndarray] = {}
        for lo in range(0, len(hashes), 500):
            where = {"text_hash": {"$in": list(hashes[lo : lo + 500])}}
            for _, vectors, metas in self._pages(self.sentences, ["embeddings", "metadatas"], where=where):
                for meta, vector in zip(metas, vectors):
                    found.setdefault(meta["text_hash"], np.asarray(vector, dtype=np.float32))
        return found

    def _pages(self, collection, include: list[str], *, ids: Sequence[str] | None = None, where: dict | None = None):
        """``collection.get`` a page at a time, as (ids, the first included field, metadatas)."""
        for got in self._gets(collection, include, ids=ids, where=where):
            n = len(got["ids"])
            first = got.get(include[0]) if include and include[0] != "metadatas" else None
            yield got["ids"], [None] * n if first is None else first, got.get("metadatas") or [{}] * n

    def _gets(self, collection, include: list[str], *, ids: Sequence[str] | None = None, where: dict | None = None):
        """``collection.get`` a page at a time. Chroma turns every id asked for or returned into SQL variables
        and fails past about 32,000 ("too many SQL variables"): a 20 MB article has more chunks than that."""
        if ids is not None:
            ids = list(ids)
            for lo in range(0, len(ids), _PAGE):
                yield collection.get(ids=ids[lo : lo + _PAGE], include=include)
            return
        offset = 0
        while True:
            got = collection.get(where=where, limit=_PAGE, offset=offset, include=include)
            if not got["ids"]:
                return
            yield got
            offset += len(got["ids"])

    # --- writes ------------------------------------------------------------------------------------------

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the index folder's lock for a whole index run.

        Two runs would each decide from what the store held when they started what to write, and both report
        success while some of their writes are lost or interleaved. So a second writer fails at once with
        ``IndexBusy``: a folder's lock file (the kernel drops it when its process dies, even by SIGKILL), or a
        lease on a Chroma server (``qa.lease``) that every write checks.
        """
        if self._folder is not None:
            with index_run_lock(self._folder.path):
                yield
            return
        with ServerLease(self._server, f"{self.settings.collection}-lease", self.settings.store_location) as lease:
            self._lease = lease
            try:
                yield
            finally:
                self._lease = None

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn a failed write (disk full, read-only, I/O error) into one clear qa error. A lost Chroma server
        is already one (``_Collection``)."""
        try:
            yield
        except SQLITE_BUGS:  # a bug in the SQL or its caller, not damage: as itself
            raise
        except store_failures() as exc:
            free = free_bytes(self.settings.store_location)
            low = free is not None and free < LOW_SPACE_BYTES
            detail = f"the disk is full: {free / 2**20:.1f} MiB free" if low else last_line(exc, 160) or exc.__class__.__name__
            raise IndexWriteError(
                f"writing to the index at {self.settings.store_location} failed ({detail}); articles indexed "
                "before are kept: free some disk space or fix the folder, then run `qa index` again"
            ) from exc

    def write_articles(self, batch: Sequence[IndexedArticle]) -> None:
        """Replace each article's chunks, sentences and record."""
        if self._lease:
            self._lease.check()
        with self._writing(), self.using():
            self._write_articles(batch)
            self._stamp_records()

    def _write_articles(self, batch: Sequence[IndexedArticle]) -> None:
        ids = [item.article.id for item in batch]
        self._put_records([(item.article, PENDING + item.article.content_hash) for item in batch])
        self._delete_parts(ids)
        self._add(self.chunks, ids=[c.id for item in batch for c in item.chunks],
                  documents=[c.text for item in batch for c in item.chunks],
                  embeddings=np.concatenate([item.chunk_vectors for item in batch]),
                  metadatas=[{**meta, "start": c.start, "end": c.end, "index": c.index}
                             for item in batch for meta in [article_metadata(item.article)] for c in item.chunks])  # fmt: skip
        self._add(self.sentences, ids=[s.id for item in batch for s in item.sentences],
                  embeddings=np.concatenate([item.sentence_vectors for item in batch]),
                  metadatas=[s.metadata for item in batch for s in item.sentences])  # fmt: skip
        self._mark_written(batch)
        if self._tombstone_collection() is not None:  # an article indexed again is no longer removed
            self.removed.delete(ids=ids)

    def _add(self, collection, ids: list[str], embeddings: np.ndarray, metadatas: list[dict], documents=None) -> None:
        for lo in range(0, len(ids), self._max_batch):
            hi = lo + self._max_batch
            collection.add(ids=ids[lo:hi], embeddings=embeddings[lo:hi], metadatas=metadatas[lo:hi],
                           documents=documents[lo:hi] if documents else None)  # fmt: skip

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        if not article_ids:
            return
        if self._lease:
            self._lease.check()
        with self._writing(), self.using():
            self._delete_parts(article_ids)
            self.records.delete(ids=list(article_ids))
            self._stamp_records()

    def _delete_parts(self, article_ids: Sequence[str]) -> None:
        """Delete the articles' chunks and sentences, by id a page at a time (see ``_pages``)."""
        for collection in (self.chunks, self.sentences):
            for lo in range(0, len(article_ids), 500):
                where = {"article_id": {"$in": list(article_ids[lo : lo + 500])}}
                doomed = [i for ids, _, _ in self._pages(collection, [], where=where) for i in ids]
                for start in range(0, len(doomed), _PAGE):
                    collection.delete(ids=doomed[start : start + _PAGE])

    def _mark_written(self, batch: Sequence[IndexedArticle]) -> None:
        """Replace the ``pending:`` hashes by the real ones; the texts stay (a metadata-only update). The chunk
        count goes with it, for the library (``qa.library``), which would otherwise count chunks per article."""
        self.records.update(ids=[item.article.id for item in batch],
                            metadatas=[{"content_hash": item.article.content_hash, CHUNK_COUNT: len(item.chunks)}
                                       for item in batch])  # fmt: skip

    # --- removed articles --------------------------------------------------------------------------------

    def remove_articles(self, tombstones: dict[str, dict]) -> None:
        """Delete articles for good, remembering each one's tombstone (``{"title": ..., "removed": ISO time}``).

        Call under ``write_lock``. The order keeps an interrupted removal safe: the tombstones first, then each
        record is marked ``pending:`` (so the next index run deletes whatever is left of it), then the chunks and
        sentences, then the records."""
        ids = list(tombstones)
        if not ids:
            return
        if self._lease:
            self._lease.check()
        with self._writing(), self.using():
            self._tombstone_collection(create=True)
            self.removed.upsert(ids=ids, embeddings=[_RECORD_VECTOR] * len(ids), metadatas=list(tombstones.values()))
            self.records.update(ids=ids, metadatas=[{"content_hash": PENDING + "removed"}] * len(ids))
            self._delete_parts(ids)
            self.records.delete(ids=ids)
            self._stamp_records()

    def tombstones(self, article_ids: Sequence[str]) -> dict[str, dict]:
        """The tombstones of those of these articles that were removed (title, removed), by article id."""
        with self.using():
            if not article_ids or self._tombstone_collection() is None:
                return {}
            got = self.removed.get(ids=list(article_ids), include=["metadatas"])
        return dict(zip(got["ids"], got["metadatas"]))

    def records_version(self) -> str | None:
        """A value that changes whenever article records are written or deleted: the folder's generation
        (embedded), or on a server the records collection's id and the stamp its last writer left in its metadata
        (``_stamp_records``; one small request). None when the server has no records collection yet."""
        if self._server is None:
            return str(self.generation)
        import chromadb.errors

        try:
            found = self._server.get_collection(f"{self.settings.collection}-articles", embedding_function=self._function)
        except chromadb.errors.NotFoundError:
            return None
        return f"{found.id}:{(found.metadata or {}).get('written', '')}"

    def _stamp_records(self) -> None:
        """On a server, a new stamp in the records collection's metadata after each write, so that a client's
        cached list of articles (``qa.library.Catalogue``) sees another client's writes (an embedded folder has
        its generation for that)."""
        if self._server is not None:
            self.records.modify(metadata={"written": os.urandom(8).hex()})

    def _tombstone_collection(self, create: bool = False):
        """The collection of tombstones, created by the first removal (so an index never written to by a removal
        has none, and a rebuild's staging store makes none). Looked up again while absent: another client may
        have created it since. None while there is none and ``create`` is false."""
        import chromadb.errors

        with self.using():
            if "removed" not in self._collections:
                name = f"{self.settings.collection}-removed"
                try:
                    if create:
                        self.folder_will_write()
                        found = self.client.get_or_create_collection(name, embedding_function=self._function)
                    else:
                        found = self.client.get_collection(name, embedding_function=self._function)
                except chromadb.errors.NotFoundError:
                    return None
                self._collections["removed"] = found
            return self._collections["removed"]

    def _put_records(self, records: Sequence[tuple[Article, str]]) -> None:
        self.records.upsert(
            ids=[a.id for a, _ in records],
            documents=[a.text for a, _ in records],
            embeddings=[_RECORD_VECTOR] * len(records),
            # article_id lets a page-by-page salvage name the article; written_hash is the hash of this very text,
            # so a record whose content_hash another run set afterwards is seen to be inconsistent
            metadatas=[{**a.model_dump(exclude={"id", "text"}), "content_hash": h, "article_id": a.id,
                        "written_hash": a.content_hash} for a, h in records],
        )


class _Collection:
    """A Chroma collection of the store whose every call holds the store (``ArticleStore.using``), so the
    collection is always the current one; a write first marks other processes' views out of date. On a server,
    a lost connection becomes ``StoreUnavailable`` (one line for the CLI and the UI) instead of an httpx
    traceback; the client reconnects by itself once the server is back."""

    _WRITES = frozenset({"add", "upsert", "update", "delete", "modify"})

    def __init__(self, store: ArticleStore, name: str) -> None:
        self._store, self._name = store, name

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        with self._store.using():
            value = getattr(self._store._collections[self._name], attr)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            import chromadb.errors
            import httpx

            with self._store.using():
                if attr in self._WRITES and self._store._folder is not None:
                    self._store._folder.will_write()
                try:
                    return getattr(self._store._collections[self._name], attr)(*args, **kwargs)
                except httpx.TransportError as exc:
                    raise StoreUnavailable(
                        f"lost the Chroma server at {self._store.settings.chroma_url} ({exc.__class__.__name__}); "
                        "start it again and retry: articles indexed before are kept"
                    ) from exc
                except (chromadb.errors.ChromaAuthError, chromadb.errors.AuthorizationError) as exc:
                    raise StoreUnavailable(
                        f"the Chroma server at {self._store.settings.chroma_url} refused access "
                        f"({exc.__class__.__name__}); set CHROMA_TOKEN to a token it accepts"
                    ) from exc
                except SQLITE_BUGS:  # a bug in the SQL or its caller, not damage: as itself
                    raise
                except store_failures() as exc:
                    if attr in self._WRITES:
                        raise  # a failed write: the indexer says what to do (``ArticleStore._writing``)
                    raise storage_error(self._store.settings.store_location, exc) from exc

        return call


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
