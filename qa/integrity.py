"""Damage to an embedded index, found before it turns into a traceback, a Rust panic or silently lost articles;
and what can be saved from a damaged index for ``qa index --rebuild``.

Chroma keeps the records (and our article texts) in ``chroma.sqlite3`` and each collection's vectors in an
HNSW segment folder of four files. ``check_files`` reads only file sizes and the 100-byte HNSW headers, so it
runs before every open; ``check_database`` adds SQLite's own ``quick_check`` (it reads the whole file) and runs
in ``qa index`` and ``qa status``.
"""

from __future__ import annotations

import sqlite3
import struct
from contextlib import closing
from pathlib import Path

from qa.articles import Article
from qa.errors import IndexCorrupt

DATABASE = "chroma.sqlite3"
REMEDY = "run `qa index --rebuild` (it keeps every article it can still read and sets the damaged folder aside)"
_HNSW_FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin")
# header.bin: version (int32), then offsetLevel0, max_elements, cur_element_count, size_data_per_element,
# label_offset, offsetData (uint64), maxlevel (int32), enterpoint (uint32), maxM, maxM0, M (uint64), ...
_HEADER = struct.Struct("<iQQQQQQiIQQQ")


def damaged(folder: Path | str, detail: str) -> IndexCorrupt:
    return IndexCorrupt(f"the index in {folder} is damaged ({detail}); {REMEDY}")


def check_files(folder: Path) -> None:
    """Raise ``IndexCorrupt`` when the database is gone from a folder that held articles, or an HNSW segment
    that Chroma persisted is missing, truncated or far larger than its element count allows."""
    database = folder / DATABASE
    segments = [p for p in folder.iterdir() if p.is_dir() and (p / "header.bin").exists()] if folder.is_dir() else []
    if not database.exists() or database.stat().st_size == 0:
        if segments or any(folder.glob("*-bm25/articles.json")):
            what = "is empty" if database.exists() else "is missing"
            raise damaged(folder, f"{DATABASE} {what}, but the folder held articles: they were not deleted")
        return
    for segment in {*segments, *(folder / s for s in persisted_segments(folder))}:
        check_segment(folder, segment)


def persisted_segments(folder: Path) -> list[str]:
    """Ids of the vector segments whose files Chroma wrote (it records the last write in ``max_seq_id``)."""
    try:
        with _read_only(folder / DATABASE) as db:
            return [row[0] for row in db.execute(
                "SELECT s.id FROM segments s JOIN max_seq_id m ON m.segment_id = s.id WHERE s.scope = 'VECTOR'")]  # fmt: skip
    except sqlite3.Error as exc:
        raise damaged(folder, f"{DATABASE}: {exc}") from None


def check_segment(folder: Path, segment: Path) -> None:
    missing = [name for name in _HNSW_FILES if not (segment / name).is_file()]
    if missing:
        raise damaged(folder, f"vector segment {segment.name} lacks {', '.join(missing)}")
    header = (segment / "header.bin").read_bytes()
    if len(header) < _HEADER.size:
        raise damaged(folder, f"vector segment {segment.name}: header.bin is truncated")
    version, _, capacity, count, element_bytes, _, _, _, _, max_m, _, _ = _HEADER.unpack_from(header)
    sizes = {name: (segment / name).stat().st_size for name in _HNSW_FILES}
    # Chroma writes the elements in use, or (for an empty index) the whole capacity.
    if version != 1 or count > capacity or sizes["data_level0.bin"] not in (count * element_bytes, capacity * element_bytes):
        raise damaged(folder, f"vector segment {segment.name}: data_level0.bin does not match its header")
    if sizes["length.bin"] not in (count * 4, capacity * 4):
        raise damaged(folder, f"vector segment {segment.name}: length.bin does not match its header")
    # An element's upper-level links take (maxM + 1) * 4 bytes a level; levels beyond 32 do not occur
    # (their odds fall by a factor M each). Runaway files, written by two processes at once, reach gigabytes.
    if sizes["link_lists.bin"] > count * (max_m + 1) * 4 * 32 + 2**20:
        raise damaged(folder, f"vector segment {segment.name}: link_lists.bin is {sizes['link_lists.bin']:,} bytes "
                              f"for {count:,} vectors")  # fmt: skip


def check_database(folder: Path) -> None:
    """``check_files`` and SQLite's ``quick_check`` of the whole database."""
    check_files(folder)
    database = folder / DATABASE
    if not database.exists():
        return
    try:
        with _read_only(database) as db:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
    except sqlite3.Error as exc:
        raise damaged(folder, f"{DATABASE}: {exc}") from None
    if problems != ["ok"]:
        raise damaged(folder, f"{DATABASE}: {problems[0][:120]}")


def salvage_articles(folder: Path, collection: str) -> list[Article]:
    """Every completely written article whose record can still be read from the folder's database.

    Read with SQLite directly, not through Chroma, so damage elsewhere in the store (vectors, other tables)
    does not stop it. Each record holds the article's text and metadata; see ``ArticleStore._put_records``.
    """
    fields: dict[str, dict[str, str]] = {}
    try:
        with _read_only(folder / DATABASE) as db:
            rows = db.execute(
                "SELECT e.embedding_id, m.key, m.string_value FROM collections c "
                "JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA' "
                "JOIN embeddings e ON e.segment_id = s.id JOIN embedding_metadata m ON m.id = e.id "
                "WHERE c.name = ? AND m.string_value IS NOT NULL",
                (f"{collection}-articles",),
            )
            for article_id, key, value in rows:
                fields.setdefault(article_id, {})[key] = value
    except sqlite3.Error:
        pass  # keep what was read before the damaged page
    articles = []
    for article_id, record in fields.items():
        text = record.get("chroma:document")
        if not text or record.get("content_hash", "").startswith("pending:"):
            continue  # an interrupted write: its file, if still given, is indexed again
        articles.append(Article(id=article_id, text=text, **{k: record.get(k, "") for k in
                                                             ("title", "source", "author", "published", "url", "origin")}))  # fmt: skip
    return articles


def _read_only(path: Path) -> closing[sqlite3.Connection]:
    return closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
