"""The Chroma store: a collection of chunk vectors and a collection of article records.

An article record is written last and carries the article's content hash, so it marks a complete
write: a record whose hash starts with ``pending:`` belongs to a write that was interrupted, and the
next index run redoes or removes it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np

from qa.articles import Article
from qa.citations import clipped
from qa.collection_swap import finish_swap
from qa.embeddings import Embedder
from qa.errors import CitationNotFound, IndexCorrupt, IndexWriteError, StoreUnavailable
from qa.integrity import (
    DATABASE,
    LOW_SPACE_BYTES,
    SQLITE_BUGS,
    check_database,
    free_bytes,
    last_line,
    storage_error,
    store_failures,
)
from qa.lease import ServerLease
from qa.locks import IndexFolder, index_run_lock
from qa.records import (  # noqa: F401 (moved to qa.records; importable from here too, as callers do)
    CHUNK_COUNT,
    FILTER_FIELDS,
    PENDING,
    RECORD_FIELDS,
    ChunkPage,
    IndexedArticle,
    SentenceRecord,
    article_from_record,
    article_metadata,
)
from qa.removed import RECORD_VECTOR, RemovedArticles
from qa.salvage import DOCUMENT
from qa.settings import Settings
from qa.store_client import PAGE, ChromaEmbeddingFunction, StoreCollection, connect_server, gets_of, pages_of  # noqa: F401

# The vector indexes' HNSW settings (bench/hnsw.py): with Chroma's defaults (M 16, ef 100), 10,000 near-identical
# articles leave 3 of 46 other chunks (8 in the worst build) unfindable even by their own vector; these settings
# lose 2 (3), as many as M 48 / ef 400 at less cost. An embedded store's chunks and sentences are searched in the
# search index on disk instead (qa.search_index, qa.sentence_rows); a Chroma server's by these graphs.
HNSW = {"space": "cosine", "max_neighbors": 32, "ef_construction": 200, "ef_search": 200}
# An embedded store's graphs are never searched, but Chroma keeps one for every collection: built with the fewest
# links it allows, Chroma's writes take less than half the time (20,000 adds: 684/s with HNSW, 1,496/s with these).
# A store created before keeps the settings it was created with.
EMBEDDED_HNSW = {"space": "cosine", "max_neighbors": 8, "ef_construction": 16, "ef_search": 16}


def count_in_sqlite(database: Path, collection: str, at_most: int = -1) -> int | None:
    """How many records (up to ``at_most``; -1: all) a collection of an embedded Chroma holds, from its SQLite
    tables (read-only), or None where they cannot be read as expected."""
    query = "SELECT count(*) FROM (SELECT 1 FROM embeddings WHERE segment_id = ? LIMIT ?)"
    found = read_chroma_tables(database, collection, lambda db, segment: db.execute(query, (segment, at_most)))
    return None if found is None else found[0][0]


def ids_by_text_hash_in_sqlite(database: Path, collection: str, hashes: Sequence[str]) -> dict[str, str] | None:
    """One record id per text hash (of those held), from an embedded Chroma's SQLite tables (read-only), or None
    where they cannot be read as expected. One index lookup per hash however many records share it: a sentence
    repeated across 100,000 articles (a newsletter line) costs no more than one said once."""
    query = ("SELECT j.value, (SELECT e.embedding_id FROM embedding_metadata m JOIN embeddings e ON e.id = m.id "
             "WHERE m.key = 'text_hash' AND m.string_value = j.value AND e.segment_id = ? LIMIT 1) "
             "FROM json_each(?) j")  # fmt: skip
    rows = read_chroma_tables(
        database, collection, lambda db, segment: db.execute(query, (segment, json.dumps(hashes)))
    )
    return None if rows is None else {h: record_id for h, record_id in rows if record_id is not None}


IDS_AFTER = "SELECT id, embedding_id FROM embeddings WHERE +segment_id = ? AND id > ? ORDER BY id LIMIT ?"


def ids_after_in_sqlite(database: Path, collection: str, after: int, limit: int) -> list[tuple[int, str]] | None:
    """Up to ``limit`` of a collection's (row, record id) with rows past ``after``, in the order written, from an
    embedded Chroma's SQLite tables (read-only), or None where they cannot be read as expected. The rows are
    walked in rowid order (``+segment_id`` keeps SQLite off the segment's index, which it would read whole and
    sort for every page: 5 s for the first page of 773,584 sentences, 0.07 s this way)."""
    return read_chroma_tables(database, collection, lambda db, segment: db.execute(IDS_AFTER, (segment, after, limit)))


def record_in_sqlite(database: Path, collection: str, record_id: str) -> tuple[str, dict] | None:
    """A record's document and text metadata, from an embedded Chroma's SQLite tables (read-only), or None where
    it is not there as expected (no such record, or tables of another shape): Chroma answers then."""
    query = ("SELECT m.key, m.string_value FROM embeddings e JOIN embedding_metadata m ON m.id = e.id "
             "WHERE e.segment_id = ? AND e.embedding_id = ? AND m.string_value IS NOT NULL")  # fmt: skip
    rows = read_chroma_tables(database, collection, lambda db, segment: db.execute(query, (segment, record_id)))
    fields = dict(rows or ())
    text = fields.pop(DOCUMENT, None)
    return None if text is None else (text, fields)


def records_in_sqlite(database: Path, collection: str, keys: Sequence[str] = ()) -> dict[str, dict] | None:
    """Every record's metadata (without its document; only ``keys`` where given), by id, from an embedded Chroma's
    SQLite tables (read-only), or None where they cannot be read as expected."""
    wanted = f"m.key IN ({', '.join('?' * len(keys))})" if keys else "m.key != ?"
    # CROSS JOIN keeps SQLite from scanning every chunk's and sentence's metadata first (twice as slow)
    query = ("SELECT e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value "
             f"FROM embeddings e CROSS JOIN embedding_metadata m ON m.id = e.id WHERE e.segment_id = ? AND {wanted}")  # fmt: skip
    values = tuple(keys) or (DOCUMENT,)
    rows = read_chroma_tables(database, collection, lambda db, segment: db.execute(query, (segment, *values)))
    if rows is None:
        return None
    records: dict[str, dict] = {}
    for record_id, key, text, number, real, flag in rows:
        value = next((v for v in (text, number, real) if v is not None), None if flag is None else bool(flag))
        records.setdefault(record_id, {})[key] = value
    return records


def read_chroma_tables(database: Path, collection: str, read) -> list | None:
    """``read(db, segment)``'s rows, ``segment`` being the collection's metadata segment in an embedded Chroma's
    SQLite database: Chroma's own reads load the collection's whole HNSW segment into the process (490 MB at
    250,000 chunks for a count). None where the tables are not as expected (another Chroma version)."""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
            segments = db.execute(
                "SELECT s.id FROM collections c JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA' "
                "WHERE c.name = ?",
                (collection,),
            ).fetchall()
            return read(db, segments[0][0]).fetchall() if len(segments) == 1 else None
    except sqlite3.Error:
        return None


class ArticleStore(RemovedArticles):
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
        self.chunks, self.sentences, self.records = (
            StoreCollection(self, n) for n in ("chunks", "sentences", "records")
        )
        self.removed = StoreCollection(self, "removed")  # tombstones of removed articles: see ``tombstones``
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
        prefix = self.settings.collection
        names = {f"{prefix}-chunks", f"{prefix}-sentences", f"{prefix}-articles"}
        try:
            finish_swap(client, prefix, before=self.folder_will_write)  # a rebuild or compaction cut short
            if self._folder is not None and not names <= {c.name for c in client.list_collections()}:
                self._folder.will_write()
            self._collections = {
                "chunks": client.get_or_create_collection(
                    f"{prefix}-chunks", embedding_function=self._function,
                    configuration={"hnsw": self.hnsw}, metadata={"embedding_model": self.settings.embedding_model},
                ),
                "sentences": client.get_or_create_collection(
                    f"{prefix}-sentences", embedding_function=self._function, configuration={"hnsw": self.hnsw}
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

    @property
    def hnsw(self) -> dict:
        """The HNSW settings of the vector collections this store creates: a server searches its graphs."""
        return EMBEDDED_HNSW if self._folder is not None else HNSW

    _pages = staticmethod(pages_of)  # tests/index_checks.py reads the store through it

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
        """How many numbers a chunk vector has (None while the store holds no chunk): the collection's record, read
        afresh. A read of even one vector makes an embedded Chroma load the collection's whole HNSW segment into
        this process (108 MB at 50,000 chunks; about 2 GB at a million by that rate), so a vector is read only where the record
        has no width."""
        with self.using():
            try:
                record = self.client.get_collection(self._collections["chunks"].name, embedding_function=self._function)
            except SQLITE_BUGS:
                raise
            except store_failures() as exc:
                raise storage_error(self.settings.store_location, exc) from None
        width = getattr(getattr(record, "_model", None), "dimension", None)  # Chroma's collection model
        if width:
            return int(width)
        got = self.chunks.get(limit=1, include=["embeddings"])
        return len(got["embeddings"][0]) if got["ids"] else None

    def _from_tables(self, collection: str, read: Callable, *args):
        """``read(database, collection name, *args)`` on an embedded store's SQLite tables (see
        ``read_chroma_tables``), under the store lock; None on a server."""
        if self._folder is None:
            return None
        with self.using():
            return read(self._folder.path / DATABASE, f"{self.settings.collection}-{collection}", *args)

    def has_chunks(self) -> bool:
        """Whether the store holds any chunk (asked before every question; see ``counts``)."""
        found = self._from_tables("chunks", count_in_sqlite, 1)
        return found > 0 if found is not None else self.chunks.count() > 0

    def counts(self) -> tuple[int, int]:
        """(articles, chunks) in the store (the chat shows them). Embedded, counted in Chroma's SQLite tables."""
        with self.using():  # both of one state of the store
            counted = [self._from_tables(name, count_in_sqlite) for name in ("articles", "chunks")]
        if None not in counted:
            return counted[0], counted[1]
        return self.records.count(), self.chunks.count()

    def article_records(self, keys: Sequence[str] = ()) -> dict[str, dict]:
        """Every article record's metadata (title, source, ..., content_hash; at least ``keys`` where given), by
        article id. Embedded, read from Chroma's SQLite tables: Chroma's ``get`` takes about 0.15 ms a record
        and loads the records' HNSW segment, SQLite a sixth of that (all keys) or less (a few). Chroma answers
        where a record there lacks its content hash (tables of another shape), and on a server."""
        return dict(self._records(keys))

    def _records(self, keys: Sequence[str]) -> Iterator[tuple[str, dict]]:
        """``article_records`` one record at a time. Through Chroma, only ``keys`` are kept of each page: a
        server client's first sync at 250,000 chunks held every record's whole metadata (150 MB)."""
        wanted = tuple(dict.fromkeys((*keys, "content_hash", "written_hash"))) if keys else ()
        found = self._from_tables("articles", records_in_sqlite, wanted)
        if found is not None and all("content_hash" in meta for meta in found.values()):
            records = iter(found.items())
        else:
            records = ((i, m if not wanted else {k: m[k] for k in wanted if k in m})
                       for ids, _, metas in pages_of(self.records, include=["metadatas"]) for i, m in zip(ids, metas))  # fmt: skip
        for article_id, meta in records:
            written, complete = meta.get("written_hash"), meta.get("content_hash", "")
            if written and not complete.startswith(PENDING) and complete != written:
                meta["content_hash"] = PENDING + written  # two writers interleaved: redone like an interrupted write
            yield article_id, meta

    def complete_articles(self) -> Iterator[Article]:
        """Every completely written article, a page at a time (what a rebuild keeps)."""
        for ids, texts, metas in pages_of(self.records, ["documents", "metadatas"]):
            for article_id, text, meta in zip(ids, texts, metas):
                if text and not meta.get("content_hash", "").startswith(PENDING):
                    yield article_from_record(article_id, text, meta)

    def article_hashes(self) -> dict[str, str]:
        """Content hash of every article record, ``pending:...`` for interrupted writes."""
        return {i: m.get("content_hash", "") for i, m in self._records(["content_hash"])}

    def unknown_filter_values(self, article_ids: Sequence[str], sources: Sequence[str]) -> list[str]:
        """The article ids and sources among these that no indexed article has, as "article 'X'" / "source 'Y'"."""
        known = set(self.records.get(ids=list(article_ids), include=[])["ids"]) if article_ids else set()
        unknown = [f"article {a!r}" for a in article_ids if a not in known]
        unknown += [f"source {s!r}" for s in sources
                    if not self.records.get(where={"source": s}, limit=1, include=[])["ids"]]  # fmt: skip
        return unknown

    def get_article(self, article_id: str) -> Article:
        """An article by id: embedded, from Chroma's SQLite tables; Chroma is asked where the record is not found
        there."""
        if (found := self._from_tables("articles", record_in_sqlite, article_id)) is not None:
            return article_from_record(article_id, *found)
        got = self.records.get(ids=[article_id], include=["documents", "metadatas"])
        if not got["ids"]:
            raise CitationNotFound(f"no article with id {clipped(article_id)!r} in the index")
        return article_from_record(article_id, got["documents"][0], got["metadatas"][0])

    def get_chunks(self, ids: Sequence[str]) -> list[tuple[str, str, dict]]:
        return [row for page in pages_of(self.chunks, ["documents", "metadatas"], ids=ids) for row in zip(*page)]

    def iter_chunks(self, vectors: bool = False) -> Iterator[ChunkPage]:
        """All chunks, a page at a time (with their vectors if asked)."""
        yield from self._chunk_pages(vectors)

    def chunks_of(self, article_ids: Sequence[str], vectors: bool = False) -> Iterator[ChunkPage]:
        """The chunks of some articles, a few hundred articles at a time (with their vectors if asked)."""
        for lo in range(0, len(article_ids), 500):
            yield from self._chunk_pages(vectors, where={"article_id": {"$in": list(article_ids[lo : lo + 500])}})

    def _chunk_pages(self, vectors: bool, where: dict | None = None) -> Iterator[ChunkPage]:
        include = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
        for got in self.gets("chunks", include) if where is None else gets_of(self.chunks, include, where=where):
            rows = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1) if vectors else None
            yield ChunkPage(got["ids"], got["documents"], got["metadatas"], rows)

    def gets(self, name: str, include: list[str]) -> Iterator[dict]:
        """Every record of the collection ``name`` ("chunks", "sentences"), a ``collection.get`` a page at a time.
        Embedded, the pages are asked for by ids listed from Chroma's SQLite tables in the order written: Chroma
        pages by offset, reading past every earlier record for each page (at 150,000 sentences a last page takes
        1.1 s by offset, 0.45 s by ids), quadratic over a million."""
        collection = getattr(self, name)
        listed = self._from_tables(name, ids_after_in_sqlite, 0, PAGE)
        if listed is None:  # a server, or tables of another shape
            yield from gets_of(collection, include)
            return
        while listed:
            yield collection.get(ids=[record_id for _, record_id in listed], include=include)
            after = listed[-1][0]
            listed = self._from_tables(name, ids_after_in_sqlite, after, PAGE)
            if listed is None:  # read a moment ago: a passing failure, not another shape (pages would repeat)
                raise StoreUnavailable(f"reading the {name} of {self.settings.store_location} failed; try again")

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

    def query_sentences(
        self, embedding: np.ndarray, n: int, where: dict | None = None
    ) -> list[tuple[str, dict, float]]:
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
                for got_ids, vectors, _ in pages_of(self.sentences, ["embeddings"], ids=ids)
                for i, v in zip(got_ids, vectors)}  # fmt: skip

    def vectors_by_text_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors for the given text hashes (any one per hash). Embedded, the ids come from
        Chroma's SQLite tables, one per hash, and Chroma reads those vectors only; a server is asked for every
        record of the hashes, a page at a time, until each hash has one."""
        found: dict[str, np.ndarray] = {}
        for lo in range(0, len(hashes), 500):
            part = list(hashes[lo : lo + 500])
            ids = self._from_tables("sentences", ids_by_text_hash_in_sqlite, part)
            pages = (
                pages_of(self.sentences, ["embeddings", "metadatas"], where={"text_hash": {"$in": part}})
                if ids is None
                else pages_of(self.sentences, ["embeddings", "metadatas"], ids=list(ids.values()))
            )
            for _, vectors, metas in pages:
                for meta, vector in zip(metas, vectors):
                    found.setdefault(meta["text_hash"], np.asarray(vector, dtype=np.float32))
                if all(h in found for h in part):
                    break
        return found

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
            detail = (
                f"the disk is full: {free / 2**20:.1f} MiB free"
                if low
                else last_line(exc, 160) or exc.__class__.__name__
            )
            raise IndexWriteError(
                f"writing to the index at {self.settings.store_location} failed ({detail}); articles indexed "
                "before are kept: free some disk space or fix the folder, then run `qa index` again"
            ) from exc

    def write_articles(self, batch: Sequence[IndexedArticle]) -> None:
        """Replace each article's chunks, sentences and record."""
        if self._lease:
            self._lease.check()
        with self._writing(), self.using():
            self._stamp_records()  # before as well: a writer that dies midway still changes it
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
            self._stamp_records()
            self._delete_parts(article_ids)
            self.records.delete(ids=list(article_ids))
            self._stamp_records()

    def _delete_parts(self, article_ids: Sequence[str]) -> None:
        """Delete the articles' chunks and sentences, by id a page at a time (see ``qa.store_client.pages_of``)."""
        for collection in (self.chunks, self.sentences):
            for lo in range(0, len(article_ids), 500):
                where = {"article_id": {"$in": list(article_ids[lo : lo + 500])}}
                doomed = [i for ids, _, _ in pages_of(collection, [], where=where) for i in ids]
                for start in range(0, len(doomed), PAGE):
                    collection.delete(ids=doomed[start : start + PAGE])

    def _mark_written(self, batch: Sequence[IndexedArticle]) -> None:
        """Replace the ``pending:`` hashes by the real ones; the texts stay (a metadata-only update). The chunk
        count goes with it, for the library (``qa.library``), which would otherwise count chunks per article."""
        self.records.update(ids=[item.article.id for item in batch],
                            metadatas=[{"content_hash": item.article.content_hash, CHUNK_COUNT: len(item.chunks)}
                                       for item in batch])  # fmt: skip

    def _put_records(self, records: Sequence[tuple[Article, str]]) -> None:
        self.records.upsert(
            ids=[a.id for a, _ in records],
            documents=[a.text for a, _ in records],
            embeddings=[RECORD_VECTOR] * len(records),
            # article_id lets a page-by-page salvage name the article; written_hash is the hash of this very text,
            # so a record whose content_hash another run set afterwards is seen to be inconsistent
            metadatas=[
                {
                    **a.model_dump(exclude={"id", "text"}),
                    "content_hash": h,
                    "article_id": a.id,
                    "written_hash": a.content_hash,
                }
                for a, h in records
            ],
        )
