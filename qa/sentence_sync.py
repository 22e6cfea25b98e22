"""Writing the search index's sentences (``qa.search_sync`` calls these inside its transaction) and extending the
sentence and chunk graphs after a sync commits (``qa.sentence_rows`` reads them).

The sentences of the store's sentences collection go into the ``sentences`` table (citation id, chunk, filter
fields) and their vectors, as float16, into a row-aligned file, exactly as the chunks do: appended before the sync
commits its row count, compacted with the chunks' rule. The graph covers the first ``ann_rows`` rows of one
sentence file; it is extended by the writer after the commit, saved under a new name (an atomic rename), and named
by a second, small commit: a crash before that leaves the previous graph named, and its rows past it are searched
exactly until the next sync extends it. The chunk vectors get a graph of their own the same way, from
``CHUNK_ANN_MIN_ROWS`` chunks on.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from qa.dense_rows import VECTOR_DTYPE, RowAppender
from qa.sentence_rows import (
    ANN_MIN_ROWS,
    CHUNK_ANN_MIN_ROWS,
    CHUNK_CONNECTIVITY,
    CHUNK_EXPANSION_ADD,
    CONNECTIVITY,
    EXPANSION_ADD,
    new_graph,
)
from qa.store_client import gets_of
from qa.usearch_first import Index

if TYPE_CHECKING:
    from qa.search_index import SearchIndex
    from qa.store import ArticleStore

log = logging.getLogger("qa")
GRAPH_BATCH = 1 << 16  # rows added to the graph at once


class SentencePage(NamedTuple):
    """Some sentences of the store: citation ids, metadata (with chunk_id) and one unit-length vector each."""

    ids: list[str]
    metas: list[dict]
    vectors: np.ndarray


def sentence_pages(store: ArticleStore, article_ids: Sequence[str] | None = None) -> Iterator[SentencePage]:
    """The store's sentences (of these articles; None: all) with metadata and vectors, a page at a time."""
    include = ["metadatas", "embeddings"]
    gets = store.gets("sentences", include) if article_ids is None else (
        got for lo in range(0, len(article_ids), 500)
        for got in gets_of(store.sentences, include, where={"article_id": {"$in": list(article_ids[lo : lo + 500])}}))  # fmt: skip
    for got in gets:
        vectors = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1)
        yield SentencePage(got["ids"], got["metadatas"], vectors)


def add_sentences(conn: sqlite3.Connection, pages: Iterable[SentencePage], articles: set[str],
                  appender: RowAppender, rows: int) -> int:  # fmt: skip
    """Insert the sentences of ``articles`` (and append their vectors); the row count after."""
    for page in pages:
        keep = [n for n, meta in enumerate(page.metas) if meta["article_id"] in articles]
        if not keep:
            continue
        numbers = appender.append(page.vectors[keep])
        rows = numbers.stop
        conn.executemany(
            "INSERT OR REPLACE INTO sentences(row, sentence_id, chunk_id, article_id, source, published_ord) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(row, page.ids[n], m["chunk_id"], m["article_id"], m.get("source") or "", m.get("published_ord") or 0)
             for row, n in zip(numbers, keep) for m in [page.metas[n]]],
        )  # fmt: skip
    return rows


def drop_sentences(conn: sqlite3.Connection, article_ids: Sequence[str]) -> None:
    for lo in range(0, len(article_ids), 500):
        part = list(article_ids[lo : lo + 500])
        conn.execute(f"DELETE FROM sentences WHERE article_id IN ({','.join('?' * len(part))})", part)


class Graph(NamedTuple):
    """A graph over one kind of vector rows: the State fields of its rows, file and coverage, its file names."""

    rows: str  # State field: the committed rows
    file: str  # State field: the rows' file
    ann_file: str  # State field: the graph's file
    ann_rows: str  # State field: the rows it covers
    prefix: str  # its files: PREFIX-EPOCH.usearch
    min_rows: int  # rows searched exactly before a graph is built
    links: tuple[int, int]  # connectivity (M) and expansion (ef) while building


GRAPHS = {
    "sentences": Graph("sentence_rows", "sentence_file", "ann_file", "ann_rows", "sentences-graph", ANN_MIN_ROWS,
                       (CONNECTIVITY, EXPANSION_ADD)),
    "chunks": Graph("rows", "vectors_file", "chunk_ann_file", "chunk_ann_rows", "chunks-graph", CHUNK_ANN_MIN_ROWS,
                    (CHUNK_CONNECTIVITY, CHUNK_EXPANSION_ADD)),
}  # fmt: skip


def refresh_graph(index: SearchIndex) -> bool:
    """Extend the sentence and chunk graphs with the rows written since they were built, once those are enough
    (``Graph.min_rows``; or build one anew after a compaction); whether a new graph was named."""
    return any([_refresh(index, graph) for graph in GRAPHS.values()])


def _refresh(index: SearchIndex, kind: Graph) -> bool:
    from qa.search_sync import _set_meta, _transaction, state_of

    state = state_of(index)
    rows, rows_file, ann_file = getattr(state, kind.rows), getattr(state, kind.file), getattr(state, kind.ann_file)
    built = getattr(state, kind.ann_rows) if ann_file and (index.folder / ann_file).exists() else 0
    if not index.keeps_vectors or not rows or rows - built < kind.min_rows:
        return False
    name = f"{kind.prefix}-{state.epoch}.usearch"
    scratch = index.folder / f"{name}.{os.getpid()}.tmp"
    try:
        graph = Index.restore(str(index.folder / ann_file)) if built else new_graph(state.width, *kind.links)
        matrix = np.memmap(index.folder / rows_file, dtype=VECTOR_DTYPE, mode="r", shape=(rows, state.width))
        for lo in range(built, rows, GRAPH_BATCH):
            hi = min(lo + GRAPH_BATCH, rows)
            graph.add(np.arange(lo, hi, dtype=np.uint64), np.asarray(matrix[lo:hi]))
        graph.save(str(scratch))
        os.replace(scratch, index.folder / name)
    finally:
        scratch.unlink(missing_ok=True)
    with index.damage_as_error(), _transaction(index) as conn:
        now = index.state(conn)
        if getattr(now, kind.file) != rows_file or getattr(now, kind.ann_rows) > rows:
            return False  # another sync compacted the rows or built a larger graph meanwhile
        _set_meta(conn, **{kind.ann_file: name, kind.ann_rows: rows})
    for path in index.folder.glob(f"{kind.prefix}-*.usearch"):  # the graph this one extends (readers keep theirs open)
        if path.name != name:
            path.unlink(missing_ok=True)
    log.info("the %s of %s covers %d rows", kind.prefix.replace("-", " "), index.folder, rows)
    return True
