"""Chunk vectors as float16 rows in one file, memory-mapped, searched exactly by inner product (usearch).

Exact, because Chroma's HNSW graph loses chunks among many near-identical ones (bench/hnsw.py); float16, because
it halves the file and the page cache it takes, and usearch searches it directly (an exact search over a million
rows of 384 numbers takes about 0.2 s on two cores, numpy about 1.6 s: numpy has no fast float16 path).
The file holds rows past the committed ones only while a sync writes (or after one was cut short): they are never
read, and the next sync overwrites them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.errors import IndexCorrupt
from qa.usearch_first import MetricKind, search

VECTOR_DTYPE = np.float16
BLOCK_ROWS = 1 << 17  # rows searched at once: a filtered search copies at most this many (96 MiB at 384 numbers)


class VectorsFileMissing(IndexCorrupt):
    """The vectors file a commit names is gone: damage, unless a compaction replaced it after the read began."""


class VectorRows:
    """The first ``rows`` rows of a vectors file (opened read-only)."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = matrix

    @classmethod
    def open(cls, path: Path, rows: int, width: int, damaged: Callable[[str], IndexCorrupt]) -> VectorRows:
        needed = rows * width * np.dtype(VECTOR_DTYPE).itemsize
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise VectorsFileMissing(str(damaged(f"its vectors file {path.name} is missing"))) from None
        if size < needed:
            raise damaged(f"its vectors file {path.name} holds {size:,} bytes, not the {needed:,} of {rows:,} rows")
        return cls(np.memmap(path, dtype=VECTOR_DTYPE, mode="r", shape=(rows, width)))

    def __len__(self) -> int:
        return len(self.matrix)

    def nearest(self, vector: np.ndarray, n: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``n`` rows nearest to ``vector`` among ``allowed`` (sorted rows; None: all) and their inner
        products, best first, ties by row. Searched a block at a time, so a filter never copies more than a block."""
        query = np.asarray(vector, dtype=VECTOR_DTYPE)
        found_rows, found_scores = [], []
        total = len(self.matrix) if allowed is None else len(allowed)
        for lo in range(0, total, BLOCK_ROWS):
            if allowed is None:
                rows = np.arange(lo, min(lo + BLOCK_ROWS, total), dtype=np.int64)
                block = self.matrix[lo : lo + BLOCK_ROWS]
            else:
                rows = allowed[lo : lo + BLOCK_ROWS]
                block = self.matrix[rows]
            keys, scores = exact_search(block, query, n)
            found_rows.append(rows[keys])
            found_scores.append(scores)
        if not found_rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows, scores = np.concatenate(found_rows), np.concatenate(found_scores)
        order = np.lexsort((rows, -scores))[:n]
        return rows[order], scores[order]


def exact_search(block: np.ndarray, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``block`` of its ``n`` rows of largest inner product with ``query``, and those products."""
    count = min(n, len(block))
    if count == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    matches = search(block, query, count, MetricKind.IP, exact=True)
    keys = np.asarray(matches.keys, dtype=np.int64)
    return keys, 1.0 - np.asarray(matches.distances, dtype=np.float32)  # usearch's IP distance is 1 - product


class RowAppender:
    """Appends rows to a vectors file after its ``committed`` rows (whatever lay past them, from a sync cut short,
    goes first); ``finish`` makes them durable before the sync commits the new row count."""

    def __init__(self, path: Path, committed: int, width: int) -> None:
        self.path, self.rows, self.width = path, committed, width
        self._file = open(path, "r+b" if path.exists() else "w+b")  # noqa: SIM115 - closed by finish or close
        self._file.truncate(self.rows * self._row_bytes)
        self._file.seek(self.rows * self._row_bytes)

    @property
    def _row_bytes(self) -> int:
        return self.width * np.dtype(VECTOR_DTYPE).itemsize

    def append(self, vectors: np.ndarray) -> range:
        """Write rows; returns their row numbers."""
        if vectors.ndim != 2 or vectors.shape[1] != self.width:
            raise ValueError(f"vectors of shape {vectors.shape} for rows of {self.width} numbers")
        self._file.write(np.ascontiguousarray(vectors, dtype=VECTOR_DTYPE).tobytes())
        self.rows += len(vectors)
        return range(self.rows - len(vectors), self.rows)

    def finish(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self.close()

    def close(self) -> None:
        self._file.close()
