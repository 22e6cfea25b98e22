"""Bringing the search index (``qa.search_index``) up to date with the store, crash-consistently.

Unchanged articles (same content hash) are kept, removed and changed ones dropped, fresh ones read from the store
with their vectors and tokenized. Each sync is one SQLite transaction: the vector rows are appended to the vectors
file (and synced to disk) before it commits, and the committed row count is the truth, so a sync cut short leaves
the previous state readable and its rows past the count are overwritten by the next one. Rows of removed chunks
stay in the vectors file (left out by every search) until they pass a quarter of it: then the live rows are copied
into a new file, which the same commit names.

The store's generation (a number every writing process moves on) is recorded with each sync: while it has not
moved, a sync reads nothing from the store (a cold `qa ask` over a million chunks does not read every record).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from qa.dense_rows import VECTOR_DTYPE, RowAppender
from qa.search_index import SearchIndex, State
from qa.sentence_sync import SentencePage, add_sentences, drop_sentences, refresh_graph, sentence_pages
from qa.text.tokens import tokenize

if TYPE_CHECKING:
    from qa.records import ChunkPage
    from qa.store import ArticleStore

log = logging.getLogger("qa")
COMPACT_SHARE = 0.25  # dead rows beyond this share of the vectors file: it is rewritten with the live rows only
COPY_ROWS = 1 << 16


def sync(index: SearchIndex, store: ArticleStore) -> bool:
    """Bring ``index`` up to date with ``store``; whether anything changed. The sentence graph is extended after
    (also when a process that wrote rows stopped before it extended the graph)."""
    changed = _bring_up_to_date(index, store)
    with index.damage_as_error():
        refresh_graph(index)
    return changed


def _bring_up_to_date(index: SearchIndex, store: ArticleStore) -> bool:
    with index.damage_as_error(), index.snapshot() as conn:
        state = index.state(conn)
    generation = store_version(store)
    width = (store.vector_width() or 0) if index.keeps_vectors else 0  # one chunk read: vectors of another model?
    if generation is not None and generation == state.store_generation and (not state.live or width == state.width):
        return False
    with store.using():  # the hashes of one state of the store, and its version read before them
        generation, current = store_version(store), store.article_hashes()
    saved = index.article_hashes()
    if saved == current and (not width or not state.live or width == state.width):
        if generation is not None:
            with index.damage_as_error(), _transaction(index) as conn:
                _set_meta(conn, store_generation=generation)
        return False
    with index.damage_as_error():
        _write(index, store, current, width, generation)
    return True


def store_version(store: ArticleStore) -> int | str | None:
    """What every write to the store changes: an embedded folder's generation, or the stamp a server's writers
    leave before and after each write (``ArticleStore.records_version``; None before the first): a client that
    starts against an unchanged server reads one stamp, not every article's hash (30 s at 250,000 chunks)."""
    return store.generation if store.folder is not None else store.records_version()


class _transaction:
    """One write transaction on this thread's connection (BEGIN IMMEDIATE: one writer at a time, across processes)."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index

    def __enter__(self) -> sqlite3.Connection:
        with self.index.connection() as conn:
            self.conn = conn
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


def _write(
    index: SearchIndex, store: ArticleStore, current: dict[str, str], width: int, generation: int | None
) -> None:
    appender = sentence_appender = None
    try:
        with _transaction(index) as conn:
            state = index.state(conn)
            if width and state.width and width != state.width:
                log.warning("the vectors in %s have %d numbers, the store's %d: building the search index anew",
                            index.folder, state.width, width)  # fmt: skip
                _drop_everything(conn)
                state = state._replace(rows=0, live=0, vectors_file="", sentence_rows=0, sentence_live=0,
                                       sentence_file="", ann_file="", ann_rows=0, chunk_ann_file="",
                                       chunk_ann_rows=0)  # fmt: skip
            saved = dict(
                conn.execute("SELECT article_id, content_hash FROM articles")
            )  # another process may have synced
            unchanged = {a for a, h in saved.items() if current.get(a) == h}
            _drop_articles(conn, [a for a in saved if a not in unchanged])
            fresh = [a for a in current if a not in unchanged]
            pages = (
                store.iter_chunks(vectors=index.keeps_vectors)
                if not saved
                else store.chunks_of(fresh, vectors=index.keeps_vectors)
            )  # fmt: skip (a first build reads all at once)
            vectors_file = state.vectors_file or f"vectors-{state.epoch + 1}.f16"
            if index.keeps_vectors and width:
                appender = RowAppender(index.folder / vectors_file, state.rows, width)
            rows, covered = _add_chunks(conn, pages, set(fresh), appender, state.rows)
            conn.executemany("INSERT INTO articles VALUES (?, ?)", [(a, current[a]) for a in fresh if a in covered])
            live = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            if appender is not None:
                appender.finish()
            if index.keeps_vectors and width and rows and rows - live > COMPACT_SHARE * rows:
                vectors_file, rows = _compact(index, conn, vectors_file, rows, width, state.epoch + 1)
                state = state._replace(chunk_ann_file="", chunk_ann_rows=0)  # its keys were the old rows
            sentences = state
            if appender is not None:
                if saved:  # none may be left of an article read again
                    drop_sentences(conn, fresh)
                sentence_appender = _sentence_appender(index, state, width)
                sentences = _sync_sentences(
                    index, conn, store, state, sentence_appender, covered, fresh if saved else None
                )
            before_commit()
            _set_meta(conn, epoch=state.epoch + 1, rows=rows, live=live, width=width or state.width,
                      vectors_file=vectors_file if width else state.vectors_file, store_generation=generation,
                      chunk_ann_file=state.chunk_ann_file, chunk_ann_rows=state.chunk_ann_rows,
                      **_sentence_meta(sentences))  # fmt: skip
    finally:
        for opened in (appender, sentence_appender):
            if opened is not None:
                opened.close()
    _remove_other_vector_files(index, vectors_file, sentences)


def _sentence_appender(index: SearchIndex, state: State, width: int) -> RowAppender:
    name = state.sentence_file or f"sentences-{state.epoch + 1}.f16"
    return RowAppender(index.folder / name, state.sentence_rows, width)


def _sync_sentences(index: SearchIndex, conn: sqlite3.Connection, store: ArticleStore, state: State,
                    appender: RowAppender, covered: set[str], fresh: list[str] | None) -> State:  # fmt: skip
    """Add the sentences of the articles whose chunks were added (``fresh``; None: a first build, every one);
    the sentence fields of the state after (rows compacted once the removed ones pass a quarter)."""
    rows = add_sentences(conn, sentence_pages(store, fresh), covered, appender, state.sentence_rows)
    appender.finish()
    live = conn.execute("SELECT count(*) FROM sentences").fetchone()[0]
    sentence_file, ann_file, ann_rows = appender.path.name, state.ann_file, state.ann_rows
    if rows and rows - live > COMPACT_SHARE * rows:
        sentence_file, rows = _compact(index, conn, sentence_file, rows, state.width or appender.width,
                                       state.epoch + 1, "sentences")  # fmt: skip
        ann_file, ann_rows = "", 0  # its keys were the old rows: built anew after the commit
    return state._replace(sentence_rows=rows, sentence_live=live, sentence_file=sentence_file, ann_file=ann_file,
                          ann_rows=ann_rows)  # fmt: skip


def _sentence_meta(state: State) -> dict:
    return {"sentence_rows": state.sentence_rows, "sentence_live": state.sentence_live,
            "sentence_file": state.sentence_file, "ann_file": state.ann_file, "ann_rows": state.ann_rows}  # fmt: skip


def add_articles(index: SearchIndex, pages: Iterable[ChunkPage], article_hashes: dict[str, str], width: int,
                 sentences: Iterable[SentencePage] = ()) -> None:  # fmt: skip
    """Add the chunks and sentences of new articles (pages with their vectors, ``width`` numbers each) in one
    transaction: what a sync does for fresh articles, without a store (bench/search_engine.py fills a large index
    with it). The sentence graph is extended by ``qa.sentence_sync.refresh_graph``."""
    appender = sentence_appender = None
    try:
        with index.damage_as_error(), _transaction(index) as conn:
            state = index.state(conn)
            vectors_file = state.vectors_file or f"vectors-{state.epoch + 1}.f16"
            if index.keeps_vectors:
                appender = RowAppender(index.folder / vectors_file, state.rows, width)
            rows, covered = _add_chunks(conn, pages, set(article_hashes), appender, state.rows)
            conn.executemany(
                "INSERT INTO articles VALUES (?, ?)", [(a, h) for a, h in article_hashes.items() if a in covered]
            )
            if appender is not None:
                appender.finish()
            live = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            sentence_state = state
            if index.keeps_vectors:
                sentence_appender = _sentence_appender(index, state, width)
                sentence_rows = add_sentences(conn, sentences, covered, sentence_appender, state.sentence_rows)
                sentence_appender.finish()
                sentence_live = conn.execute("SELECT count(*) FROM sentences").fetchone()[0]
                sentence_state = state._replace(sentence_rows=sentence_rows, sentence_live=sentence_live,
                                                sentence_file=sentence_appender.path.name)  # fmt: skip
            _set_meta(conn, epoch=state.epoch + 1, rows=rows, live=live, width=width, vectors_file=vectors_file,
                      **_sentence_meta(sentence_state))  # fmt: skip
    finally:
        for opened in (appender, sentence_appender):
            if opened is not None:
                opened.close()


def before_commit() -> None:
    """Called after the vector rows are written and before the commit (tests cut a sync short here)."""


def _add_chunks(conn: sqlite3.Connection, pages: Iterable[ChunkPage], fresh: set[str],
                appender: RowAppender | None, rows: int) -> tuple[int, set[str]]:  # fmt: skip
    """Insert the chunks of ``fresh`` articles (and append their vectors); the row count after, and the articles
    whose chunks were read (an article written meanwhile is read next time)."""
    next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM chunks").fetchone()[0]
    covered: set[str] = set()
    for page in pages:
        keep = [n for n, meta in enumerate(page.metas) if meta["article_id"] in fresh]
        if not keep:
            continue
        metas, texts = [page.metas[n] for n in keep], [page.texts[n] for n in keep]
        if appender is not None:
            numbers = appender.append(page.vectors[keep])
        else:
            numbers = range(rows, rows + len(keep))
        rows = numbers.stop
        ids = range(next_id, next_id + len(keep))
        next_id = ids.stop
        conn.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
            (i, row, page.ids[n], m["article_id"], m.get("source") or "", m.get("published_ord") or 0, text,
             json.dumps(m)) for i, row, n, m, text in zip(ids, numbers, keep, metas, texts)])  # fmt: skip
        conn.executemany("INSERT INTO fts(rowid, tokens) VALUES (?, ?)",
                         zip(ids, (" ".join(t) for t in tokenize(texts))))  # fmt: skip
        covered.update(m["article_id"] for m in metas)
    return rows, covered


def _drop_articles(conn: sqlite3.Connection, article_ids: list[str]) -> None:
    for lo in range(0, len(article_ids), 500):
        part = article_ids[lo : lo + 500]
        marks = ",".join("?" * len(part))
        conn.execute(f"DELETE FROM fts WHERE rowid IN (SELECT id FROM chunks WHERE article_id IN ({marks}))", part)
        conn.execute(f"DELETE FROM chunks WHERE article_id IN ({marks})", part)
        conn.execute(f"DELETE FROM sentences WHERE article_id IN ({marks})", part)
        conn.execute(f"DELETE FROM articles WHERE article_id IN ({marks})", part)


def _drop_everything(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM fts")
    conn.execute("DELETE FROM chunks")
    conn.execute("DELETE FROM sentences")
    conn.execute("DELETE FROM articles")


def _compact(index: SearchIndex, conn: sqlite3.Connection, old_file: str, rows: int, width: int,
             epoch: int, table: str = "chunks") -> tuple[str, int]:  # fmt: skip
    """Copy the live rows of ``table``, in index order, into a new vectors file and renumber them; the new file
    and row count."""
    found = conn.execute(f"SELECT id, row FROM {table} ORDER BY id").fetchall()
    ids = np.fromiter((i for i, _ in found), dtype=np.int64, count=len(found))
    old_rows = np.fromiter((r for _, r in found), dtype=np.int64, count=len(found))
    del found
    new_file = f"{'vectors' if table == 'chunks' else table}-{epoch}.f16"
    source = np.memmap(index.folder / old_file, dtype=VECTOR_DTYPE, mode="r", shape=(rows, width)) if rows else None
    appender = RowAppender(index.folder / new_file, 0, width)
    try:
        for lo in range(0, len(old_rows), COPY_ROWS):
            appender.append(np.asarray(source[old_rows[lo : lo + COPY_ROWS]]))
        appender.finish()
    finally:
        appender.close()
    conn.executemany(f"UPDATE {table} SET row = ? WHERE id = ?", zip(range(len(ids)), ids.tolist()))
    log.info("rewrote the vectors of %s without %d removed rows", index.folder, rows - len(ids))
    return new_file, len(ids)


def _set_meta(conn: sqlite3.Connection, **values) -> None:
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())


def _remove_other_vector_files(index: SearchIndex, keep: str, state: State) -> None:
    """Vectors files and graphs a committed sync (``keep``, and ``state``'s sentence rows and graphs) no longer
    names (replaced by a compaction, or left by one cut short); a graph another process is saving has a name of
    its own until it is named."""
    named = {keep, state.sentence_file, state.ann_file, state.chunk_ann_file}
    for path in [*index.folder.glob("vectors-*.f16"), *index.folder.glob("sentences-*.f16"),
                 *index.folder.glob("*-graph-*.usearch")]:  # fmt: skip
        if path.name not in named:
            path.unlink(missing_ok=True)


def state_of(index: SearchIndex) -> State:
    with index.damage_as_error(), index.snapshot() as conn:
        return index.state(conn)
