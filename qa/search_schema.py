"""The search index's file layout: its SQLite schema, the files beside it, and the SQL that filters and FTS5
queries become (read by ``qa.search_index`` and written by ``qa.search_sync``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from qa.errors import IndexCorrupt

if TYPE_CHECKING:
    from qa.retrieval import Filters

SEARCH_FILE = "search.sqlite3"
SCHEMA_VERSION = 2  # 2: the sentences table and files (an index of version 1 is built anew)
REMEDY = "run `qa index --rebuild` to build it anew"
# What the bm25s cache of earlier versions kept in the same folder: removed once, and the index built anew.
OLD_VERSION_FILES = ("articles.json", "chunks.json", "tokens.npz", "token_vocab.json", "vectors.npy", "params.index.json",
                     "vocab.index.json", "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy",
                     "nonoccurrence_array.index.npy")  # fmt: skip
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY,        -- the FTS5 rowid
    row INTEGER NOT NULL,          -- the chunk's row in the vectors file
    chunk_id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL,
    source TEXT NOT NULL,
    published_ord INTEGER NOT NULL,
    text TEXT NOT NULL,
    meta TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE INDEX IF NOT EXISTS chunks_published ON chunks(published_ord);
CREATE INDEX IF NOT EXISTS chunks_row ON chunks(row);
CREATE TABLE IF NOT EXISTS sentences(
    id INTEGER PRIMARY KEY,
    row INTEGER NOT NULL,          -- the sentence's row in the sentence vectors file (and its key in the ANN graph)
    sentence_id TEXT NOT NULL UNIQUE,  -- the citation id
    chunk_id TEXT NOT NULL,
    article_id TEXT NOT NULL,
    source TEXT NOT NULL,
    published_ord INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sentences_article ON sentences(article_id);
CREATE INDEX IF NOT EXISTS sentences_source ON sentences(source);
CREATE INDEX IF NOT EXISTS sentences_published ON sentences(published_ord);
CREATE INDEX IF NOT EXISTS sentences_row ON sentences(row);
CREATE TABLE IF NOT EXISTS articles(article_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(tokens, tokenize="unicode61 remove_diacritics 0 tokenchars '_'");
CREATE VIRTUAL TABLE IF NOT EXISTS fts_vocab USING fts5vocab(fts, 'row');
"""
DROP_TABLES = (
    "DROP TABLE IF EXISTS fts_vocab; DROP TABLE IF EXISTS fts; DROP TABLE IF EXISTS chunks;"
    "DROP TABLE IF EXISTS sentences; DROP TABLE IF EXISTS articles; DROP TABLE IF EXISTS meta;"
)
LEXICAL_POSTINGS = 100_000  # chunks a lexical search scores at most, over its words (bench/search_engine.py)
Hit = tuple[str, str, dict, float]  # chunk id, text, metadata, score (as ArticleStore.query gives them)


class Chunk(NamedTuple):
    id: str
    text: str
    meta: dict


class State(NamedTuple):
    """What one committed sync left: the vectors file and its committed rows, live chunks, a change counter; the
    same for sentences, and the ANN graph files over the first ``ann_rows`` sentence rows and the first
    ``chunk_ann_rows`` chunk rows (qa.sentence_rows)."""

    epoch: int
    rows: int
    live: int
    width: int
    vectors_file: str
    store_generation: int | str | None  # qa.search_sync.store_version
    sentence_rows: int = 0
    sentence_live: int = 0
    sentence_file: str = ""
    ann_file: str = ""
    ann_rows: int = 0
    chunk_ann_file: str = ""
    chunk_ann_rows: int = 0


def damaged(path: Path, detail: str) -> IndexCorrupt:
    return IndexCorrupt(f"the search index {path} is damaged ({detail}); {REMEDY}")


def file_identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def remove_search_files(folder: Path) -> None:
    """Delete a search index (it is built anew from the store on next use)."""
    for path in [*folder.glob(f"{SEARCH_FILE}*"), *folder.glob("vectors-*.f16"), *folder.glob("sentences-*")]:
        path.unlink(missing_ok=True)


def filter_sql(filters: Filters | None) -> tuple[str, list]:
    """A WHERE clause over the chunks table (and its parameters) for ``filters``; "1" for none."""
    if filters is None or filters.is_empty():
        return "1", []
    from qa.articles import date_ordinal

    clauses, params = [], []
    for column, values in (("article_id", filters.article_ids), ("source", filters.sources)):
        if values:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params += list(values)
    if filters.published_from:
        clauses.append("published_ord >= ?")
        params.append(date_ordinal(filters.published_from))
    if filters.published_to:
        clauses.append("published_ord <= ?")
        params.append(date_ordinal(filters.published_to))
    return " AND ".join(clauses), params


def match_expression(words: Iterable[str]) -> str:
    """An FTS5 query that matches any of ``words``, each quoted: a question is never FTS5 syntax."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)
