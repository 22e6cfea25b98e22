"""Damage to an embedded index, found before it turns into a traceback, a Rust panic or silently lost articles;
and what can be saved from a damaged index for ``qa index --rebuild``.

Chroma keeps the records (and our article texts) in ``chroma.sqlite3`` and each collection's vectors in an
HNSW segment folder of four files. ``check_files`` reads only file sizes and the 100-byte HNSW headers, so it
runs before every open; ``check_database`` adds SQLite's own ``quick_check`` (it reads the whole file) and runs
in ``qa index`` and ``qa status``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import struct
from contextlib import closing
from pathlib import Path

import numpy as np

from qa.articles import Article
from qa.errors import DiskFull, IndexBusy, IndexCorrupt, IndexWriteError, QAError
from qa.records import PENDING, article_from_record

DATABASE = "chroma.sqlite3"
REMEDY = "run `qa index --rebuild` (it keeps every article it can still read and sets the damaged folder aside)"
_HNSW_FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin")
# header.bin: version (int32), then offsetLevel0, max_elements, cur_element_count, size_data_per_element,
# label_offset, offsetData (uint64), maxlevel (int32), enterpoint (uint32), maxM, maxM0, M (uint64), ...
_HEADER = struct.Struct("<iQQQQQQiIQQQ")
# Below this much free space, a failing store call is put down to the full disk, not to damage: Chroma's own
# errors do not say why a write inside a read (it replays its log into the vector files) failed.
LOW_SPACE_BYTES = 64 * 2**20
# Fingerprints of the vector files whose graph was checked, so a file is read in full only after it changed.
VERIFIED_FILE = ".qa-verified-2.json"  # the number moves on whenever the checks do: an older verdict is not trusted
_GRAPH_BLOCK = 65536  # elements checked at a time: bounded memory on any index


def damaged(folder: Path | str, detail: str) -> IndexCorrupt:
    return IndexCorrupt(f"the index in {folder} is damaged ({detail}); {REMEDY}")


def free_bytes(folder: Path | str) -> int | None:
    """Free space on the disk that holds ``folder`` (or the nearest folder above it that exists); None for a
    server URL."""
    path = Path(folder)
    if "://" in str(folder):
        return None
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def last_line(exc: BaseException, limit: int) -> str:
    """The last line of an error's message, where Chroma's errors state their cause ("" when it has none)."""
    return (str(exc).strip().splitlines() or [""])[-1][:limit]


def storage_error(location: Path | str, exc: BaseException) -> QAError:
    """What a failed store call means for its user: a full disk, a read-only folder, a busy database, or damage
    (only when it is none of the others), each with its own remedy."""
    code = getattr(exc, "sqlite_errorcode", None)
    free = free_bytes(location)
    if (
        (free is not None and free < LOW_SPACE_BYTES)
        or code == sqlite3.SQLITE_FULL
        or (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG))
    ):
        room = f"{free / 2**20:.1f} MiB free" if free is not None else "no space left"
        return DiskFull(f"the disk holding the index at {location} is full ({room}); free some space and retry: "
                        "nothing indexed was lost")  # fmt: skip
    if code == sqlite3.SQLITE_READONLY or (isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES)):
        return IndexWriteError(f"the index at {location} cannot be written (read-only), and its last write must be "
                               "finished: make the folder writable and retry; nothing indexed was lost")  # fmt: skip
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return IndexBusy(f"the index at {location} is busy: another process is writing to it; retry in a moment")
    detail = last_line(exc, 120)
    return damaged(location, f"{exc.__class__.__name__}: {detail}" if detail else exc.__class__.__name__)


def rust_panics() -> tuple[type[BaseException], ...]:
    """The panic types of the Rust extensions loaded so far (Chroma's core among them). pyo3 raises a panic as
    ``pyo3_runtime.PanicException``, a direct BaseException subclass that each extension makes for itself on its
    first panic and that no module exports: so it is found by name among BaseException's subclasses, when an
    error is being matched (an ``except`` clause evaluates its types then, after the panic made the class)."""
    return tuple(kind for kind in BaseException.__subclasses__()
                 if kind.__module__ == "pyo3_runtime" and kind.__name__ == "PanicException")  # fmt: skip


# sqlite3 errors that mean a bug in the SQL or in its caller, never damage: they propagate as themselves.
SQLITE_BUGS = (sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.NotSupportedError)


def store_failures() -> tuple[type[BaseException], ...]:
    """The errors that mean the store is damaged, full, read-only, busy or gone, for ``except store_failures()``
    (list ``SQLITE_BUGS`` in an ``except`` before it): Chroma's internal, not-found and version errors (its Rust
    core raises SQLite and HNSW failures as ``InternalError``), SQLite's database errors, the file system's, and
    panics of Chroma's Rust core. Chroma's argument errors (``InvalidArgumentError``, ``DuplicateIDError`` ...)
    are bugs of the caller and are not among them; neither is any other Python error, nor KeyboardInterrupt or
    SystemExit."""
    import chromadb.errors as chroma

    return (chroma.InternalError, chroma.NotFoundError, chroma.VersionMismatchError, sqlite3.DatabaseError, OSError,
            *rust_panics())  # fmt: skip


def is_store_failure(exc: BaseException) -> bool:
    """Whether an error is one of ``store_failures`` (and not a bug)."""
    return isinstance(exc, store_failures()) and not isinstance(exc, SQLITE_BUGS)


def check_files(folder: Path) -> None:
    """Raise ``IndexCorrupt`` when the database is gone from a folder that held articles, or an HNSW segment
    that Chroma persisted is missing, truncated or far larger than its element count allows."""
    database = folder / DATABASE
    segments = [p for p in folder.iterdir() if p.is_dir() and (p / "header.bin").exists()] if folder.is_dir() else []
    if not database.exists() or database.stat().st_size == 0:
        if segments or any(folder.glob("*-bm25/search.sqlite3")):
            what = "is empty" if database.exists() else "is missing"
            raise damaged(folder, f"{DATABASE} {what}, but the folder held articles: they were not deleted")
        return
    verified = _read_verified(folder)
    checked = {}
    for segment in {*segments, *(folder / s for s in persisted_segments(folder))}:
        fingerprint = _fingerprint(segment)
        if fingerprint is None or verified.get(segment.name) != fingerprint:
            check_segment(folder, segment)
        checked[segment.name] = _fingerprint(segment)
    if checked != verified:
        _write_verified(folder, checked)


def persisted_segments(folder: Path) -> list[str]:
    """Ids of the vector segments whose files Chroma wrote (it records the last write in ``max_seq_id``)."""
    try:
        with _open_for_reading(folder / DATABASE) as db:
            return [row[0] for row in db.execute(
                "SELECT s.id FROM segments s JOIN max_seq_id m ON m.segment_id = s.id WHERE s.scope = 'VECTOR'")]  # fmt: skip
    except sqlite3.Error as exc:
        raise storage_error(folder, exc) from None


def check_segment(folder: Path, segment: Path) -> None:
    missing = [name for name in _HNSW_FILES if not (segment / name).is_file()]
    if missing:
        raise damaged(folder, f"vector segment {segment.name} lacks {', '.join(missing)}")
    header = (segment / "header.bin").read_bytes()
    if len(header) < _HEADER.size:
        raise damaged(folder, f"vector segment {segment.name}: header.bin is truncated")
    version, _, capacity, count, element_bytes, _, _, _, _, max_m, _, _ = _HEADER.unpack_from(header)
    sizes = {name: (segment / name).stat().st_size for name in _HNSW_FILES}
    # Chroma writes the elements in use, or a whole capacity: the present one, or an earlier, smaller one (a
    # resized index that has not filled its new room keeps the old file length).
    if version != 1 or count > capacity or not _holds(sizes["data_level0.bin"], element_bytes, count, capacity):
        raise damaged(folder, f"vector segment {segment.name}: data_level0.bin does not match its header")
    if not _holds(sizes["length.bin"], 4, count, capacity):
        raise damaged(folder, f"vector segment {segment.name}: length.bin does not match its header")
    # An element's upper-level links take (maxM + 1) * 4 bytes a level; levels beyond 32 do not occur
    # (their odds fall by a factor M each). Runaway files, written by two processes at once, reach gigabytes.
    if sizes["link_lists.bin"] > count * (max_m + 1) * 4 * 32 + 2**20:
        raise damaged(folder, f"vector segment {segment.name}: link_lists.bin is {sizes['link_lists.bin']:,} bytes "
                              f"for {count:,} vectors")  # fmt: skip
    problem = _header_problem(_HEADER.unpack_from(header)) or _graph_problem(segment, _HEADER.unpack_from(header))
    if problem:
        raise damaged(folder, f"vector segment {segment.name}: {problem}")


def _holds(size: int, element_bytes: int, count: int, capacity: int) -> bool:
    """Whether a file of ``size`` bytes holds whole elements, at least ``count`` and at most ``capacity``."""
    return element_bytes > 0 and size % element_bytes == 0 and count <= size // element_bytes <= max(capacity, 1)


def _header_problem(fields: tuple) -> str:
    """What in header.bin contradicts the way hnswlib lays out a graph, or "": each element is a link count and
    ``max_m0`` neighbour ids, then its vector, then its 8-byte label; ``max_m0`` is twice ``M`` and ``max_m`` is
    ``M``. Chroma's native code trusts these numbers (a zeroed M crashes it)."""
    _, level0_offset, _, count, element_bytes, label_offset, data_offset, max_level, entry, max_m, max_m0, m = fields
    if level0_offset != 0 or m < 2 or max_m != m or max_m0 != 2 * m or data_offset != 4 + 4 * max_m0:
        return "header.bin holds impossible graph settings"
    if not data_offset < label_offset == element_bytes - 8 or (label_offset - data_offset) % 4:
        return "header.bin holds an impossible element layout"
    if count and (entry >= count or not 0 <= max_level < 64):
        return "header.bin holds an impossible entry point"
    return ""


def _graph_problem(segment: Path, fields: tuple) -> str:
    """What is wrong with the HNSW graph's links, or "". A flipped byte in a link count or a neighbour id makes
    the graph point outside itself, and Chroma's native code then crashes the whole process (SIGSEGV)
    instead of raising an error: so every link is checked before the files are opened."""
    _, _, _, count, element_bytes, _, level0_bytes, max_level, entry, max_m, max_m0, _ = fields
    if count == 0:
        return ""
    level0 = np.memmap(segment / "data_level0.bin", dtype=np.uint8, mode="r", shape=(count, element_bytes))
    for lo in range(0, count, _GRAPH_BLOCK):
        links = np.ascontiguousarray(level0[lo : lo + _GRAPH_BLOCK, :level0_bytes]).view("<u4")
        if _bad_links(links, max_m0, count):
            return f"data_level0.bin has links outside the graph (near element {lo:,})"
    return _upper_levels_problem(segment / "link_lists.bin", count, max_level, entry, max_m)


def _upper_levels_problem(path: Path, count: int, max_level: int, entry: int, max_m: int) -> str:
    """link_lists.bin holds, for each element in turn, the byte size of its upper-level links (0 for most) and
    then, for each of its levels, a link count and ``max_m`` neighbour ids. The search starts at ``entry`` on
    ``max_level``: that element must have links on every level up to it."""
    data = np.fromfile(path, dtype="<u4")
    level_words = 1 + max_m
    at, element, top = 0, 0, 0
    while element < count and at < len(data):
        size = int(data[at])
        levels = size // (4 * level_words)
        if size % (4 * level_words) or levels > max_level or at + 1 + size // 4 > len(data):
            return f"link_lists.bin has an impossible link list (element {element:,})"
        if size and _bad_links(data[at + 1 : at + 1 + size // 4].reshape(-1, level_words), max_m, count):
            return f"link_lists.bin has links outside the graph (element {element:,})"
        if element == entry and levels != max_level:
            return "the graph's entry point is not on its top level"
        top = max(top, levels)
        at, element = at + 1 + size // 4, element + 1
    if element != count or at != len(data):
        return "link_lists.bin does not hold one link list per element"
    return "" if top == max_level else "the graph's top level holds no element"


def _bad_links(links: np.ndarray, most: int, count: int) -> bool:
    """Whether rows of (link count, neighbour ids...) hold a count above ``most`` or a used id beyond ``count``.
    The count is the low 16 bits; hnswlib keeps a deleted mark above them."""
    used = links[:, 0] & 0xFFFF
    if (used > most).any():
        return True
    in_use = np.arange(most)[None, :] < used[:, None]
    return bool((links[:, 1:][in_use] >= count).any())


def _fingerprint(segment: Path) -> list[list[int]] | None:
    """Size, times and inode of a segment's files: they change whenever a file is written or replaced (the
    ctime even when the mtime is set back)."""
    try:
        return [[s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_ino]
                for s in ((segment / name).stat() for name in _HNSW_FILES)]  # fmt: skip
    except OSError:
        return None


def _read_verified(folder: Path) -> dict:
    try:
        verified = json.loads((folder / VERIFIED_FILE).read_text())
        return verified if isinstance(verified, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_verified(folder: Path, verified: dict) -> None:
    tmp = folder / f"{VERIFIED_FILE}.{os.getpid()}"
    try:
        tmp.write_text(json.dumps(verified))
        os.replace(tmp, folder / VERIFIED_FILE)
    except OSError:
        pass  # a read-only folder or a full disk: the files are checked again next time


def check_database(folder: Path) -> None:
    """``check_files`` and SQLite's ``quick_check`` of the whole database."""
    check_files(folder)
    database = folder / DATABASE
    if not database.exists():
        return
    try:
        with _open_for_reading(database) as db:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
    except sqlite3.Error as exc:
        raise storage_error(folder, exc) from None
    if problems != ["ok"]:
        raise damaged(folder, f"{DATABASE}: {problems[0][:120]}")


def salvage_articles(folder: Path, collection: str) -> tuple[list[Article], bool]:
    """Every completely written article whose record SQLite can still read from the folder's database, and
    whether the database is sound (``quick_check``), i.e. whether that is all there is.

    Read with SQLite directly, not through Chroma, so damage elsewhere in the store (vectors, other tables)
    does not stop it. Each record holds the article's text and metadata; see ``ArticleStore._put_records``.
    """
    fields: dict[str, dict[str, str]] = {}
    sound = False
    try:
        with _open_for_reading(folder / DATABASE) as db:
            sound = [row[0] for row in db.execute("PRAGMA quick_check")] == ["ok"]
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
        sound = False  # keep what was read before the damaged page
    articles = [article_from_record(article_id, record["chroma:document"], record)
                for article_id, record in fields.items()
                # an interrupted write is left out: its file, if still given, is indexed again
                if record.get("chroma:document") and not record.get("content_hash", "").startswith(PENDING)]  # fmt: skip
    return articles, sound


def _open_for_reading(path: Path) -> closing[sqlite3.Connection]:
    """A connection for reading ``path``. It is opened read-write (never created) when it can be: a writer killed
    mid-transaction leaves a rollback journal that SQLite must replay before anyone may read, and a read-only
    connection cannot, so it would report a sound database as unreadable. Callers hold the store lock."""
    db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # replays a journal left by a killed writer
        return closing(db)
    except sqlite3.Error as exc:
        db.close()
        if getattr(exc, "sqlite_errorcode", None) not in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN,
                                                          sqlite3.SQLITE_PERM):  # fmt: skip
            raise
    return closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30))
