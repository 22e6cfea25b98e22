"""Dense search over the search index's sentence rows, and over its chunk rows past ``CHUNK_ANN_MIN_ROWS``: an
HNSW graph on disk for candidates, reranked exactly with the float16 rows.

The graph (usearch, its keys the sentence rows) is opened memory-mapped (``Index.restore(view=True)``): a search
reads only the nodes it visits, so an answering process never holds the 2.6 million sentences of a million chunks
(Chroma's embedded HNSW graph would load all of them, about 4 GB as float32). The writer extends it after a sync
commits (``qa.sentence_sync``); the rows written since are searched exactly, and so is every row while there are
few, or when a filter lets few through. Removed sentences stay in the graph until a compaction rebuilds it: the
graph's candidates are over-fetched and what is no longer live or outside the filters is dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from qa.dense_rows import VectorRows
from qa.usearch_first import Index

log = logging.getLogger("qa")

ANN_MIN_ROWS = 50_000  # rows searched exactly before a graph is built (about 10 ms at 384 numbers on two cores)
# Chunks are searched exactly up to here (about 25 ms at 250,000 chunks, 200 ms at a million), and beyond through a
# graph of their own: bench/hnsw.py measures its near-duplicate recall, bench/scale.py its time.
CHUNK_ANN_MIN_ROWS = 200_000
OVERFETCH = 4  # graph candidates per sentence asked for: removed ones and those outside a filter are dropped
NARROW_SHARE = 0.05  # a filter that allows fewer rows than this share: an exact search over those rows
NARROW_ROWS = 200_000  # ... or fewer than these (an exact search over them takes about 40 ms)
MAX_CANDIDATES = 4096
# The graph's breadth of search (ef), beyond the candidates asked for, for recall. At 250,001 chunks (bench/scale.py's
# corpus, 50 bench questions), the chunk graph (M 32) reranked exactly gave the exact search's 30 best for every
# question at ef 512 (at 256, 99.3% of them; one question 73%), in about 4 ms against 54 ms exact (both under load).
EXPANSION_SEARCH = 512
# Links per node and breadth while building: the exact rerank of 4x over-fetched candidates makes up for a sparser
# graph (bench/results/sentence_recall.md), and building one costs a quarter of M 32 / ef 128's time (40,000
# random vectors on two cores: 3,213 adds/s against 818; 2.6 million sentences a million chunks hold).
CONNECTIVITY, EXPANSION_ADD = 16, 64
# The chunk graph is denser: among bench/hnsw.py's 10,000 near-identical articles, graph candidates reranked exactly
# found 24-38 of the 46 chunks by their own vectors at M 16 / ef 64 (ef 256-1024 to search), 46 at M 32 / ef 128
# (ef 512); it takes about twice as long to build, on a quarter as many rows as the sentences.
CHUNK_CONNECTIVITY, CHUNK_EXPANSION_ADD = 32, 128


def open_graph(path: Path) -> Index | None:
    """The graph file, memory-mapped (None when it is gone: a newer sync replaced it after this read began, and
    the rows are searched exactly this once)."""
    try:
        graph = Index.restore(str(path), view=True)
    except (FileNotFoundError, RuntimeError, ValueError) as exc:  # usearch reports a missing file as RuntimeError
        if path.exists():
            log.warning("the graph %s cannot be read (%s): searching its rows exactly", path, exc)
        return None
    if graph is not None:
        graph.expansion_search = EXPANSION_SEARCH
    return graph


def nearest_rows(rows: VectorRows, graph: Index | None, graph_rows: int, query: np.ndarray, want: int,
                 allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Up to ``want`` rows (sentences or chunks) nearest to a unit-length ``query`` among ``allowed`` (sorted
    rows; None: all), and their exact inner products, best first. Removed rows may be among them: the caller drops
    them when it reads their ids, so it asks for more than it needs (``OVERFETCH``)."""
    narrow = allowed is not None and (len(allowed) < NARROW_ROWS or len(allowed) < NARROW_SHARE * len(rows))
    if graph is None or graph_rows == 0 or narrow:
        return exact_rows(rows, query, want, allowed)
    share = 1.0 if allowed is None else max(len(allowed) / len(rows), 1e-6)
    found = graph.search(np.asarray(query, dtype=np.float32), min(int(want / share), MAX_CANDIDATES, graph_rows))
    candidates = np.asarray(found.keys, dtype=np.int64)
    if allowed is None:
        tail_allowed = np.arange(graph_rows, len(rows), dtype=np.int64)
    else:
        tail_allowed = allowed[allowed >= graph_rows]
    if len(tail_allowed):  # written since the graph was built: searched exactly
        tail, _ = rows.nearest(query, want, tail_allowed)
        candidates = np.concatenate([candidates, tail])
    candidates = np.unique(candidates)
    if allowed is not None:
        candidates = candidates[np.isin(candidates, allowed, assume_unique=True)]
    if len(candidates) < want and allowed is not None:  # the filter let too few of the graph's through: exactly
        return exact_rows(rows, query, want, allowed)
    return rerank(rows, candidates, query, want)


def exact_rows(
    rows: VectorRows, query: np.ndarray, want: int, allowed: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """An exact search (usearch's float16 kernel), its scores computed again in float32 as the graph's are."""
    found, _ = rows.nearest(query, want, allowed)
    return rerank(rows, np.sort(found), query, want)


def rerank(rows: VectorRows, candidates: np.ndarray, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best of ``candidates`` (sorted rows) by their exact inner product with ``query``, ties by row."""
    scores = np.asarray(rows.matrix[candidates], dtype=np.float32) @ np.asarray(query, dtype=np.float32)
    order = np.lexsort((candidates, -scores))[:n]
    return candidates[order], scores[order]


def new_graph(width: int, connectivity: int = CONNECTIVITY, expansion_add: int = EXPANSION_ADD) -> Index:
    """An empty graph for rows of ``width`` numbers: inner product over float16 (the rows are unit length)."""
    return Index(
        ndim=width,
        metric="ip",
        dtype="f16",
        connectivity=connectivity,
        expansion_add=expansion_add,
        expansion_search=EXPANSION_SEARCH,
    )
