"""The search index on disk: every chunk's text, metadata and BM25 tokens in one SQLite file (FTS5 ranks them with
its built-in ``bm25()``), and the chunk vectors as float16 in one row-aligned file beside it, searched exactly up
to ``CHUNK_ANN_MIN_ROWS`` chunks and through a graph on disk beyond (its candidates reranked exactly); the
sentences likewise (``qa.sentence_rows``).

A process keeps no per-chunk Python object in memory: lexical search is one FTS5 query, dense search reads the
memory-mapped vectors (the page cache shares them between processes), a filter is one SQL query over indexed
columns (its rows kept as one array, for the last few filters), and texts and metadata are read for the few chunks
an answer uses. SQLite's write-ahead log lets every process read while one writes; ``qa.search_sync`` writes.

>>> index = SearchIndex(Path("index/articles-bm25"))                              # doctest: +SKIP
>>> index.search("Who did Kishida meet in Vilnius?", 4)[0][2]["title"]           # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.dense_rows import VectorRows, VectorsFileMissing
from qa.errors import IndexCorrupt
from qa.integrity import SQLITE_BUGS, storage_error
from qa.search_schema import (  # noqa: F401 (SEARCH_FILE, State, remove_search_files: importable from here)
    DROP_TABLES,
    LEXICAL_POSTINGS,
    OLD_VERSION_FILES,
    SCHEMA,
    SCHEMA_VERSION,
    SEARCH_FILE,
    Chunk,
    Hit,
    State,
    damaged,
    file_identity,
    filter_sql,
    match_expression,
    remove_search_files,
)
from qa.sentence_rows import OVERFETCH, nearest_rows, open_graph
from qa.text.tokens import tokenize
from qa.usearch_first import Index

if TYPE_CHECKING:
    from qa.retrieval import Filters

log = logging.getLogger("qa")
SentenceHit = tuple[str, dict, float]  # citation id, metadata with chunk_id and article_id, cosine similarity


class SearchIndex:
    """Reads of the search index in ``folder`` (``qa.search_sync.sync`` brings it up to date). ``vectors=False``:
    a client of a Chroma server, whose dense search is the server's; it keeps no vectors file."""

    def __init__(self, folder: Path, vectors: bool = True, timeout: float = 120.0) -> None:
        self.folder, self.path, self.keeps_vectors, self.timeout = folder, folder / SEARCH_FILE, vectors, timeout
        self._local = threading.local()
        self._view: tuple | None = None  # epoch, graph file, vectors, graph, filter -> allowed rows
        self._view_lock = threading.Lock()
        self._sentence_view: tuple | None = None  # epoch, graph file, sentence rows, graph, filter -> allowed rows
        self._open()

    # --- connections and snapshots --------------------------------------------------------------------------

    def _open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexCorrupt(f"cannot create the search index folder {self.folder}: {exc.strerror}") from None
        old = [self.folder / name for name in OLD_VERSION_FILES if (self.folder / name).exists()]
        for path in old:  # an earlier version's cache: rebuilt from the store by the next sync
            path.unlink(missing_ok=True)
        if old:
            log.info("removed the BM25 files of an earlier version from %s", self.folder)
        with self.damage_as_error(), self.connection() as conn:
            if conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0] == 0:
                conn.executescript(f"BEGIN IMMEDIATE;{SCHEMA}INSERT OR IGNORE INTO meta VALUES ('schema', {SCHEMA_VERSION});"
                                   "COMMIT;")  # fmt: skip
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if version is not None and version[0] < SCHEMA_VERSION:  # an earlier version's: built anew by the sync
                conn.executescript(f"BEGIN IMMEDIATE;{DROP_TABLES}{SCHEMA}"
                                   f"INSERT INTO meta VALUES ('schema', {SCHEMA_VERSION});COMMIT;")  # fmt: skip
                log.info("the search index %s is of an earlier version: it is built anew", self.path)
                version = (SCHEMA_VERSION,)
            if version is None or version[0] != SCHEMA_VERSION:
                raise damaged(self.path, f"schema version {version and version[0]}, not {SCHEMA_VERSION}")
        self._identity = file_identity(self.path)

    def replaced(self) -> bool:
        """Whether another file is now at this index's path (a rebuild swapped the index folder)."""
        return file_identity(self.path) != self._identity

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (each thread has its own: SQLite connections are not shared)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses at most the last commits, never consistency
            self._local.conn, self._local.depth = conn, 0
        yield conn

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction (reentrant): the vector rows and the chunks they map to are of the same commit."""
        with self.connection() as conn:
            if self._local.depth == 0:
                conn.execute("BEGIN")
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
                if self._local.depth == 0 and conn.in_transaction:
                    conn.execute("COMMIT")

    @contextmanager
    def damage_as_error(self) -> Iterator[None]:
        """SQLite's and the file system's failures as one line with the remedy: damage (naming the file and
        `qa index --rebuild`), a full disk, a read-only folder or a busy database (``qa.integrity.storage_error``)."""
        try:
            yield
        except SQLITE_BUGS:  # a bug in the SQL or its caller: as itself
            raise
        except (sqlite3.DatabaseError, OSError) as exc:
            raise storage_error(self.path, exc) from None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def state(self, conn: sqlite3.Connection) -> State:
        values = dict(conn.execute("SELECT key, value FROM meta"))
        return State(values.get("epoch", 0), values.get("rows", 0), values.get("live", 0), values.get("width", 0),
                     values.get("vectors_file", ""), values.get("store_generation"), values.get("sentence_rows", 0),
                     values.get("sentence_live", 0), values.get("sentence_file", ""), values.get("ann_file", ""),
                     values.get("ann_rows", 0), values.get("chunk_ann_file", ""),
                     values.get("chunk_ann_rows", 0))  # fmt: skip

    def check(self) -> None:
        """Raise ``IndexCorrupt`` when the file fails SQLite's quick_check or FTS5's integrity-check, or the vectors
        file is shorter than the committed rows (reads the whole file)."""
        with self.damage_as_error(), self.snapshot() as conn:
            problem = conn.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise damaged(self.path, problem)
            conn.execute("INSERT INTO fts(fts) VALUES ('integrity-check')")
            self._rows_view(conn)
            self._sentences_view(conn)

    # --- reads ------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self.damage_as_error(), self.snapshot() as conn:
            return self.state(conn).live

    def article_hashes(self) -> dict[str, str]:
        with self.damage_as_error(), self.snapshot() as conn:
            return dict(conn.execute("SELECT article_id, content_hash FROM articles"))

    def idf(self, token: str) -> float:
        """Inverse document frequency of a (stemmed) token, high for rare words (as Lucene's BM25 has it)."""
        with self.damage_as_error(), self.snapshot() as conn:
            n = max(self.state(conn).live, 1)
            found = conn.execute("SELECT doc FROM fts_vocab WHERE term = ?", (token,)).fetchone()
        df = found[0] if found else 0
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, n: int, filters: Filters | None = None) -> list[Hit]:
        """The ``n`` best chunks for the query's words by BM25 within the filters, best first (score > 0)."""
        words = tokenize([query])[0]
        if not words or n < 1:
            return []
        where, params = filter_sql(filters)
        # Only row ids and ranks go through the sort; texts are read for the n best (rank is bm25() in FTS5).
        sql = ("SELECT fts.rowid, fts.rank FROM fts WHERE fts MATCH ? ORDER BY fts.rank, fts.rowid LIMIT ?" if not params
               else "SELECT fts.rowid, fts.rank FROM fts JOIN chunks c ON c.id = fts.rowid "
                    f"WHERE fts MATCH ? AND {where} ORDER BY fts.rank, fts.rowid LIMIT ?")  # fmt: skip
        with self.damage_as_error(), self.snapshot() as conn:
            words = self._rarest(conn, words)
            if not words:
                return []
            ranked = conn.execute(sql, [match_expression(words), *params, n]).fetchall()
            chunks = {i: (chunk_id, text, meta) for i, chunk_id, text, meta in self._select(
                conn, "SELECT id, chunk_id, text, meta FROM chunks WHERE id IN", [i for i, _ in ranked])}  # fmt: skip
        rows = [(*chunks[i], -rank) for i, rank in ranked if i in chunks]
        return [(i, text, json.loads(meta), float(score)) for i, text, meta, score in rows if score > 0]

    def _rarest(self, conn: sqlite3.Connection, words: list[str]) -> list[str]:
        """The query's words that occur in the index, the rarest first, while the chunks they occur in stay within
        ``LEXICAL_POSTINGS`` (the rarest always): FTS5 scores every chunk that matches, and a word in a tenth of a
        million chunks weighs little in BM25 beside the rarer ones (its idf is low) but costs the most to score."""
        frequency = {}
        for word in dict.fromkeys(words):
            found = conn.execute("SELECT doc FROM fts_vocab WHERE term = ?", (word,)).fetchone()
            if found:
                frequency[word] = found[0]
        chosen, postings = set(), 0
        for word in sorted(frequency, key=lambda w: (frequency[w], w)):
            postings += frequency[word]
            if chosen and postings > LEXICAL_POSTINGS:
                break
            chosen.add(word)
        return [w for w in words if w in chosen]  # in the question's order, repeats kept (they weigh more)

    def nearest(self, vector: np.ndarray, n: int, filters: Filters | None = None) -> list[Hit]:
        """The ``n`` chunks nearest to a unit-length ``vector`` within the filters, with their cosine similarities,
        best first (none for a client of a Chroma server): an exact search over every vector up to
        ``CHUNK_ANN_MIN_ROWS`` chunks, beyond that graph candidates reranked exactly (``qa.sentence_rows``)."""
        return self._over_rows(self._nearest, vector, n, filters)

    def _over_rows(self, search: Callable, vector: np.ndarray, n: int, filters: Filters | None) -> list:
        """``search`` over this index's vector rows: none for a client of a Chroma server, and once more when a
        compaction replaced the rows' file after this read began (the next read names the new one)."""
        if not self.keeps_vectors or n < 1:
            return []
        try:
            return search(vector, n, filters)
        except VectorsFileMissing:
            return search(vector, n, filters)

    def _nearest(self, vector: np.ndarray, n: int, filters: Filters | None) -> list[Hit]:
        with self.damage_as_error(), self.snapshot() as conn:
            state = self.state(conn)
            vectors, graph, masks = self._rows_view(conn)
            if vectors is None:
                return []
            allowed = self._allowed(conn, masks, filters, every=False)
            found = nearest_rows(vectors, graph, state.chunk_ann_rows, vector, n * OVERFETCH, allowed)
            hits = self._chunk_hits(conn, *found, n)
            if len(hits) < min(n, state.live) and allowed is None and state.live < len(vectors):
                allowed = self._allowed(conn, masks, None, every=True)  # many removed rows near it
                hits = self._chunk_hits(conn, *nearest_rows(vectors, None, 0, vector, n, allowed), n)
        return hits

    def _chunk_hits(self, conn: sqlite3.Connection, rows: np.ndarray, similarities: np.ndarray, n: int) -> list[Hit]:
        """The first ``n`` of these rows that hold a live chunk, with their texts and metadata (read for those only:
        the search over-fetches removed rows)."""
        live = {row for (row,) in self._select(conn, "SELECT row FROM chunks WHERE row IN", rows.tolist())}
        best = [(r, float(s)) for r, s in zip(rows.tolist(), similarities) if r in live][:n]
        by_row = {row: (i, text, meta) for row, i, text, meta in self._select(
            conn, "SELECT row, chunk_id, text, meta FROM chunks WHERE row IN", [r for r, _ in best])}  # fmt: skip
        return [(*by_row[r][:2], json.loads(by_row[r][2]), s) for r, s in best if r in by_row]

    def nearest_sentences(self, vector: np.ndarray, n: int, filters: Filters | None = None) -> list[SentenceHit]:
        """The ``n`` sentences nearest to a unit-length ``vector`` within the filters, as (citation id, metadata
        with chunk_id, cosine similarity), best first (as ``ArticleStore.query_sentences`` gives them): graph
        candidates reranked exactly (``qa.sentence_rows``); none for a client of a Chroma server."""
        return self._over_rows(self._nearest_sentences, vector, n, filters)

    def _nearest_sentences(self, vector: np.ndarray, n: int, filters: Filters | None) -> list[SentenceHit]:
        with self.damage_as_error(), self.snapshot() as conn:
            state = self.state(conn)
            rows, graph, masks = self._sentences_view(conn)
            if rows is None:
                return []
            allowed = self._allowed(conn, masks, filters, "sentences", every=False)
            found, scores = nearest_rows(rows, graph, state.ann_rows, vector, n * OVERFETCH, allowed)
            hits = self._sentence_hits(conn, found, scores)
            if len(hits) < min(n, state.sentence_live) and allowed is None and state.sentence_live < len(rows):
                allowed = self._allowed(conn, masks, None, "sentences", every=True)  # many removed rows near it
                hits = self._sentence_hits(conn, *nearest_rows(rows, None, 0, vector, n, allowed))
        return hits[:n]

    def _sentence_hits(self, conn: sqlite3.Connection, rows: np.ndarray, scores: np.ndarray) -> list[SentenceHit]:
        by_row = {row: (i, {"chunk_id": c, "article_id": a}) for row, i, c, a in self._select(
            conn, "SELECT row, sentence_id, chunk_id, article_id FROM sentences WHERE row IN", rows.tolist())}  # fmt: skip
        return [(*by_row[r], float(s)) for r, s in zip(rows.tolist(), scores) if r in by_row]

    def sentence_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored (float16) vectors of these sentences (citation ids) as float32 (unknown ones left out)."""
        if not self.keeps_vectors:
            return {}
        with self.damage_as_error(), self.snapshot() as conn:
            rows, _, _ = self._sentences_view(conn)
            found = self._select(conn, "SELECT sentence_id, row FROM sentences WHERE sentence_id IN", ids)
            return {i: np.asarray(rows.matrix[row], dtype=np.float32) for i, row in found} if rows else {}

    def chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids (unknown ones left out), in the order asked."""
        with self.damage_as_error(), self.snapshot() as conn:
            found = {i: Chunk(i, t, json.loads(m))
                     for i, t, m in self._select(conn, "SELECT chunk_id, text, meta FROM chunks WHERE chunk_id IN", ids)}  # fmt: skip
        return [found[i] for i in ids if i in found]

    def vectors_of(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored (float16) vectors of these chunks as float32, by chunk id (unknown ones left out)."""
        if not self.keeps_vectors:
            return {}
        with self.damage_as_error(), self.snapshot() as conn:
            vectors, _, _ = self._rows_view(conn)
            found = self._select(conn, "SELECT chunk_id, row FROM chunks WHERE chunk_id IN", ids)
            return {i: np.asarray(vectors.matrix[row], dtype=np.float32) for i, row in found} if vectors else {}

    def chunks_of_articles(self, article_ids: Sequence[str]) -> list[Chunk]:
        """Every chunk of these articles, in index order."""
        with self.damage_as_error(), self.snapshot() as conn:
            rows = self._select(conn, "SELECT id, chunk_id, text, meta FROM chunks WHERE article_id IN", article_ids)
        return [Chunk(i, t, json.loads(m)) for _, i, t, m in sorted(rows)]

    def iter_chunks(self, filters: Filters | None = None, batch: int = 1000) -> Iterator[Chunk]:
        """Every chunk within the filters, in index order, read ``batch`` at a time (none is kept)."""
        where, params = filter_sql(filters)
        last = 0
        while True:
            with self.damage_as_error(), self.snapshot() as conn:
                rows = conn.execute(f"SELECT id, chunk_id, text, meta FROM chunks WHERE id > ? AND {where} "
                                    "ORDER BY id LIMIT ?", [last, *params, batch]).fetchall()  # fmt: skip
            yield from (Chunk(i, t, json.loads(m)) for _, i, t, m in rows)
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def articles(self, filters: Filters | None = None) -> dict[str, dict]:
        """The first chunk's metadata (with chunk_id) of every article within the filters, by id, in index order."""
        where, params = filter_sql(filters)
        sql = (f"SELECT chunk_id, meta FROM chunks WHERE id IN (SELECT min(id) FROM chunks WHERE {where} "
               "GROUP BY article_id) ORDER BY id")  # fmt: skip
        with self.damage_as_error(), self.snapshot() as conn:
            rows = conn.execute(sql, params).fetchall()
        return {(meta := json.loads(m))["article_id"]: {**meta, "chunk_id": i} for i, m in rows}

    # --- the vectors and filter masks of one commit ---------------------------------------------------------------

    def _rows_view(self, conn: sqlite3.Connection) -> tuple[VectorRows | None, Index | None, dict]:
        """The chunk vectors and graph of the commit ``conn`` reads and the filter masks made for it (kept until
        the next commit)."""
        state = self.state(conn)
        view = self._view
        if view is None or view[:2] != (state.epoch, state.chunk_ann_file):
            vectors = graph = None
            if self.keeps_vectors and state.rows:
                vectors = VectorRows.open(self.folder / state.vectors_file, state.rows, state.width,
                                          lambda detail: damaged(self.path, detail))  # fmt: skip
                graph = open_graph(self.folder / state.chunk_ann_file) if state.chunk_ann_file else None
            view = (state.epoch, state.chunk_ann_file, vectors, graph, {})
            with self._view_lock:
                self._view = view
        return view[2], view[3], view[4]

    def _sentences_view(self, conn: sqlite3.Connection) -> tuple[VectorRows | None, Index | None, dict]:
        """The sentence rows and graph of the commit ``conn`` reads, and the filter masks made for it."""
        state = self.state(conn)
        view = self._sentence_view
        if view is None or view[:2] != (state.epoch, state.ann_file):
            rows = graph = None
            if self.keeps_vectors and state.sentence_rows:
                rows = VectorRows.open(self.folder / state.sentence_file, state.sentence_rows, state.width,
                                       lambda detail: damaged(self.path, detail))  # fmt: skip
                graph = open_graph(self.folder / state.ann_file) if state.ann_file else None
            view = (state.epoch, state.ann_file, rows, graph, {})
            with self._view_lock:
                self._sentence_view = view
        return view[2], view[3], view[4]

    def _allowed(self, conn: sqlite3.Connection, masks: dict, filters: Filters | None, table: str = "chunks",
                 every: bool = True) -> np.ndarray | None:  # fmt: skip
        """The vector rows of ``table`` the filters let through, sorted (None: every row; with ``every`` False,
        removed rows too). Kept per filter: a question searches twice with the same filters, and a chat keeps
        its filters from turn to turn."""
        key = filters.model_dump_json() if filters is not None and not filters.is_empty() else ""
        if key not in masks:
            state = self.state(conn)
            live, rows = (state.live, state.rows) if table == "chunks" else (state.sentence_live, state.sentence_rows)
            if not key and (live == rows or not every):
                return None  # not kept: ``every`` may ask for the live rows next
            where, params = filter_sql(filters)
            found = conn.execute(f"SELECT row FROM {table} WHERE {where}", params).fetchall()
            masks[key] = np.sort(np.fromiter((r for (r,) in found), dtype=np.int64, count=len(found)))
            while len(masks) > 8:  # the oldest filters go first
                masks.pop(next(iter(masks)))
        return masks[key]

    @staticmethod
    def _select(conn: sqlite3.Connection, sql: str, values: Sequence) -> list[tuple]:
        """``sql`` ending in ``IN`` over ``values``, 500 at a time (SQLite bounds a statement's parameters)."""
        out: list[tuple] = []
        values = list(values)
        for lo in range(0, len(values), 500):
            part = values[lo : lo + 500]
            out += conn.execute(f"{sql} ({','.join('?' * len(part))})", part).fetchall()
        return out
