"""Article records read back from a damaged ``chroma.sqlite3`` page by page, without SQLite.

``qa.integrity.salvage_articles`` reads the records with one SQL query: one damaged page on its way (a zeroed
header, a truncated file, a garbage ``-journal`` that SQLite will not open the file without) and it keeps none.
This module reads the file format itself (https://www.sqlite.org/fileformat2.html), in pure Python:
``recover_rows`` walks every page of the file and yields every row of every table leaf page that still parses,
skipping what does not, and ``salvage_articles_from_pages`` puts Chroma's article records back together from
those rows, without the schema table (``sqlite_master``, page 1, may be the damaged page).

A record's rows are told apart by their shape (see ``_metadata_row`` and the others below). Every article
record carries the hash of its content (``Article.content_hash``: id, text and metadata), so each article put
back together is checked against it: damage never turns into a wrong text, title or id (only the origin, the
file an article was read from, is not covered; one that does not decode is dropped). Damage that leaves a record
parseable but wrong is common (a changed byte of text is still text), so a record that fails its hash is left
out, never returned as it was read.

The file is read a block of pages at a time (overflow pages one at a time), so memory holds the article
records found, not the file.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from qa.articles import Article

DATABASE = "chroma.sqlite3"
PENDING = "pending:"  # qa.store.PENDING (not imported: qa.store loads Chroma)
DOCUMENT = "chroma:document"
FIELDS = ("title", "source", "author", "published", "url", "origin", "page_starts")  # qa.store.RECORD_FIELDS
ELIDED = Ellipsis  # a value that ``local_only`` left on its overflow pages

# The database header (the first 100 bytes of page 1).
_MAGIC = b"SQLite format 3\x00"
_ENCODINGS = {1: "utf-8", 2: "utf-16-le", 3: "utf-16-be"}
# B-tree page types: the first byte of the page header.
_INTERIOR_INDEX, _INTERIOR_TABLE, _LEAF_INDEX, _LEAF_TABLE = 0x02, 0x05, 0x0A, 0x0D
_PAGE_SIZES = tuple(2**k for k in range(9, 17))  # 512 .. 65536
_GUESS_BYTES = 16 * 2**20  # how much of the file is read to guess a page size the header no longer gives
_BLOCK_PAGES = 256  # pages read at once
_MAX_PAYLOAD = 2**31 - 1  # SQLite's hard limit on a row's size


class _Bad(Exception):
    """A cell or page that does not parse (caught where it is skipped; never leaves this module)."""


# --- the file format ---------------------------------------------------------------------------------------


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    """A big-endian varint at ``pos``: 7 bits a byte while the high bit is set, all 8 bits of a ninth byte."""
    value = 0
    for _ in range(8):
        if pos >= end:
            raise _Bad
        byte = buf[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    if pos >= end:
        raise _Bad
    return (value << 8) | buf[pos], pos + 1


def _u16(buf, pos: int) -> int:
    return (buf[pos] << 8) | buf[pos + 1]


def _u32(buf, pos: int) -> int:
    return int.from_bytes(buf[pos : pos + 4], "big")


# Bytes a value of each serial type takes: 0 NULL, 1-6 ints of 1, 2, 3, 4, 6, 8 bytes, 7 a float, 8 and 9 the
# constants 0 and 1, 10 and 11 reserved (-1 here: damage); from 12 up, even: a blob of (N-12)/2 bytes, odd: text
# of (N-13)/2. The table covers the one-byte serial types, most of them.
_SIZES = (0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1, *((n - 12) // 2 for n in range(12, 128)))


def _serial_size(serial: int) -> int:
    return _SIZES[serial] if serial < 128 else (serial - 12) // 2


def _value(serial: int, raw, encoding: str):
    if serial >= 13 and serial % 2:
        try:
            return str(raw, encoding)
        except UnicodeDecodeError:
            return str(raw, encoding, errors="replace")  # the last resort: damage, or foreign bytes
    if serial == 0:
        return None
    if serial <= 6:
        return int.from_bytes(raw, "big", signed=True)
    if serial == 7:
        return struct.unpack(">d", raw)[0]
    return serial - 8 if serial in (8, 9) else bytes(raw)


def _record(payload: bytes, total: int, encoding: str) -> list:
    """The values of a record: a header (its size, then one serial type a column) and the values in order.
    ``payload`` may be only the first part of a ``total``-byte record; values past it come back as ``ELIDED``."""
    header_size, pos = _varint(payload, 0, len(payload))
    if not 0 < header_size <= min(total, len(payload)):
        raise _Bad
    serials = []
    while pos < header_size:  # serial types of one and two bytes (texts under 8,186 bytes) read inline: most
        byte = payload[pos]
        if byte < 0x80:
            serials.append(byte)
            pos += 1
        elif pos + 1 < header_size and payload[pos + 1] < 0x80:
            serials.append(((byte & 0x7F) << 7) | payload[pos + 1])
            pos += 2
        else:
            serial, pos = _varint(payload, pos, header_size)
            serials.append(serial)
    if pos != header_size:
        raise _Bad
    sizes = list(map(_serial_size, serials))
    if -1 in sizes or header_size + sum(sizes) != total:
        raise _Bad  # a reserved serial type, or values that do not fill the payload exactly
    values, pos, available = [], header_size, len(payload)
    for serial, size in zip(serials, sizes):
        end = pos + size
        values.append(_value(serial, payload[pos:end], encoding) if end <= available else ELIDED)
        pos = end
    return values


def _btree_header(page, start: int, usable: int) -> tuple[int, int, int] | None:
    """(page type, cell count, where the cell pointers start) when ``page`` is a plausible b-tree page."""
    if start + 12 > usable:
        return None
    kind = page[start]
    if kind not in (_INTERIOR_INDEX, _INTERIOR_TABLE, _LEAF_INDEX, _LEAF_TABLE):
        return None
    # 1: first freeblock, 3: cell count, 5: start of the cell content area (0 means 65536), 7: fragmented bytes;
    # interior pages add the right-most child's page number (4 bytes).
    freeblock, cells, content = _u16(page, start + 1), _u16(page, start + 3), _u16(page, start + 5) or 65536
    fragmented = page[start + 7]
    pointers = start + (8 if kind in (_LEAF_INDEX, _LEAF_TABLE) else 12)
    if content > usable or content < pointers + 2 * cells or fragmented > 60:
        return None
    if freeblock and not content <= freeblock <= usable - 4:
        return None
    for i in range(cells):  # every cell lies in the content area
        if not content <= _u16(page, pointers + 2 * i) < usable:
            return None
    return kind, cells, pointers


def _read_header(header: bytes) -> dict | None:
    """Page size, usable size, text encoding and freelist of a readable database header, else None."""
    if len(header) < 100 or header[:16] != _MAGIC or header[21:24] != b"\x40\x20\x20":
        return None  # 21-23: the payload fractions, fixed at 64, 32 and 32
    page_size = _u16(header, 16)
    page_size = 65536 if page_size == 1 else page_size
    reserved = header[20]
    if page_size not in _PAGE_SIZES or page_size - reserved < 480:
        return None
    return {"page_size": page_size, "usable": page_size - reserved,
            "encoding": _ENCODINGS.get(_u32(header, 56), "utf-8"),
            "freelist": (_u32(header, 32), _u32(header, 36))}  # fmt: skip  # first trunk page, page count


def _guess_page_size(sample: bytes) -> tuple[int, int]:
    """The page size under which the most pages of ``sample`` parse as b-tree pages, and how many did."""
    view = memoryview(sample)
    scores = {}
    for size in _PAGE_SIZES:
        scores[size] = sum(_btree_header(view[off : off + size], 100 if off == 0 else 0, size) is not None
                           for off in range(0, len(sample) - size + 1, size))  # fmt: skip
    best = max(_PAGE_SIZES, key=lambda s: (scores[s], s == 4096))  # ties: SQLite's default size
    return best, scores[best]


class PageReader:
    """The rows of an SQLite database file, read page by page; damaged cells and pages are skipped.

    With a readable header: its page size, encoding and freelist (free pages are skipped, so deleted rows do
    not come back). Without one: the page size the pages themselves agree on, UTF-8, and no freelist.
    One pass at a time: a pass holds the file open (``self._file``) while it runs.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.file_size = self.path.stat().st_size
        with self.path.open("rb") as f:
            header = _read_header(f.read(100))
            if header is None:
                f.seek(0)
                size, _ = _guess_page_size(f.read(_GUESS_BYTES))
                header = {"page_size": size, "usable": size, "encoding": "utf-8", "freelist": (0, 0)}
                self.header_ok = False
            else:
                self.header_ok = True
        self.page_size, self.usable, self.encoding = header["page_size"], header["usable"], header["encoding"]
        self.page_count = self.file_size // self.page_size  # a partial last page is left out
        self.freelist = self._freelist(*header["freelist"])
        self.leaf_pages = self.cells = self.bad_cells = 0

    def describe(self) -> str:
        how = "from the header" if self.header_ok else "guessed from the pages (the header is unreadable)"
        return (f"page size {self.page_size} {how}; {self.leaf_pages:,} of {self.page_count:,} pages held table rows, "
                f"{self.bad_cells:,} unreadable rows skipped, {len(self.freelist):,} free pages ignored")  # fmt: skip

    def rows(self, local_only: bool = False) -> Iterator[tuple[int, list]]:
        """(rowid, values) of every readable row of every table leaf page, in file order."""
        for _, rows in self.pages(local_only):
            yield from rows

    def pages(self, local_only: bool = False) -> Iterator[tuple[int, list[tuple[int, list]]]]:
        """(page number, its rows) for every table leaf page not on the freelist. ``local_only``: values kept
        on overflow pages are not read and come back as ``ELIDED`` (a cheaper pass)."""
        self.leaf_pages = self.cells = self.bad_cells = 0
        with self.path.open("rb") as self._file:
            for number, page in self._blocks():
                if number in self.freelist:
                    continue
                start = 100 if number == 1 else 0  # page 1 starts with the database header
                parsed = _btree_header(page, start, self.usable)
                if parsed is None or parsed[0] != _LEAF_TABLE:
                    continue  # an index or interior page, an overflow page, or damage
                self.leaf_pages += 1
                yield number, self._cells(page, parsed[1], parsed[2], local_only)

    def _blocks(self) -> Iterator[tuple[int, memoryview]]:
        """Every page, read ``_BLOCK_PAGES`` at a time; where a block cannot be read (an I/O error: a bad
        sector), its pages one by one, leaving out those that cannot be read either."""
        for first in range(1, self.page_count + 1, _BLOCK_PAGES):
            count = min(_BLOCK_PAGES, self.page_count - first + 1)
            try:
                self._file.seek((first - 1) * self.page_size)
                block = memoryview(self._file.read(self.page_size * count))
            except OSError:
                block = None
            for number in range(first, first + count):
                if block is None:
                    try:
                        yield number, memoryview(self._page(number))
                    except _Bad:
                        pass
                elif (off := (number - first) * self.page_size) + self.page_size <= len(block):
                    yield number, block[off : off + self.page_size]

    def _cells(self, page, count: int, pointers: int, local_only: bool) -> list[tuple[int, list]]:
        rows = []
        for i in range(count):
            try:
                rows.append(self._cell(page, _u16(page, pointers + 2 * i), local_only))
            except (_Bad, ValueError, IndexError, struct.error):
                self.bad_cells += 1
        self.cells += len(rows)
        return rows

    def _cell(self, page, at: int, local_only: bool) -> tuple[int, list]:
        """A table leaf cell: payload size (varint), rowid (varint), the payload's first part, and when the
        payload does not fit, the number of its first overflow page (4 bytes)."""
        size, pos = _varint(page, at, self.usable)
        rowid, pos = _varint(page, pos, self.usable)
        if size > _MAX_PAYLOAD:
            raise _Bad
        local = self._local_size(size)
        end = pos + local + (4 if local < size else 0)
        if end > self.usable or size - local > self.page_count * (self.usable - 4):
            raise _Bad  # the cell leaves its page, or its overflow would not fit in the whole file
        payload = bytes(page[pos : pos + local])
        if local < size and not local_only:
            payload += self._overflow(_u32(page, pos + local), size - local)
        rowid -= 2**64 if rowid >= 2**63 else 0  # rowids are signed 64-bit
        return rowid, _record(payload, size, self.encoding)

    def _local_size(self, size: int) -> int:
        """How much of a table leaf cell's payload is kept on the page itself (the rest goes to overflow pages)."""
        most = self.usable - 35
        if size <= most:
            return size
        least = (self.usable - 12) * 32 // 255 - 23
        local = least + (size - least) % (self.usable - 4)
        return local if local <= most else least

    def _overflow(self, number: int, remaining: int) -> bytes:
        """The rest of a payload from its chain of overflow pages: each starts with the next one's number (0 on
        the last) and holds ``usable - 4`` bytes. A chain that leaves the file, loops, runs through a free page or
        ends early or late is damage."""
        parts, seen = [], set()
        while remaining > 0:
            if not 1 < number <= self.page_count or number in seen or number in self.freelist:
                raise _Bad
            seen.add(number)
            page = self._page(number)
            take = min(remaining, self.usable - 4)
            parts.append(page[4 : 4 + take])
            remaining -= take
            number = _u32(page, 0)
        if number != 0:
            raise _Bad
        return b"".join(parts)

    def _page(self, number: int) -> bytes:
        try:
            self._file.seek((number - 1) * self.page_size)
            page = self._file.read(self.page_size)
        except OSError:
            raise _Bad from None
        if len(page) < self.page_size:
            raise _Bad
        return page

    def _freelist(self, trunk: int, count: int) -> frozenset[int]:
        """Every free page: trunk pages chain from the header (offset 32); a trunk page holds the next trunk's
        number, how many leaf pages it lists, and their numbers."""
        free: set[int] = set()
        with self.path.open("rb") as self._file:
            while 1 < trunk <= self.page_count and trunk not in free and len(free) <= count:
                free.add(trunk)
                try:
                    page = self._page(trunk)
                except _Bad:
                    break
                listed = min(_u32(page, 4), (self.usable - 8) // 4)
                free.update(n for n in (_u32(page, 8 + 4 * i) for i in range(listed)) if 1 < n <= self.page_count)
                trunk = _u32(page, 0)
        return frozenset(free)


def recover_rows(path: Path | str, local_only: bool = False) -> Iterator[tuple[int, list]]:
    """(rowid, values) of every row that can still be read from the SQLite database file at ``path``, of all
    tables, in file order. Never raises for damage: what does not parse is skipped."""
    try:
        reader = PageReader(path)
    except OSError:
        return
    yield from reader.rows(local_only)


# --- Chroma's tables, told apart by the shape of their rows -----------------------------------------------


def _metadata_row(values: list) -> tuple[int, str, str | None] | None:
    """embedding_metadata (and embedding_metadata_array): id (the embeddings row), key, string_value,
    int_value, float_value, bool_value -> (id, key, string_value)."""
    if len(values) != 6 or type(values[0]) is not int or type(values[1]) is not str:
        return None
    if type(values[2]) not in (str, type(None)) or any(type(v) not in (int, float, type(None)) for v in values[3:]):
        return None
    return values[0], values[1], values[2]


def _embeddings_row(values: list) -> tuple[str, str] | None:
    """embeddings: id (the rowid: stored as NULL), segment_id, embedding_id, seq_id, created_at ->
    (segment_id, embedding_id)."""
    if len(values) != 5 or values[0] is not None or not all(type(v) is str for v in (values[1], values[2], values[4])):
        return None
    return (values[1], values[2]) if type(values[3]) in (int, bytes) and len(values[1]) == 36 else None


def _segments_row(values: list) -> tuple[str, str, str] | None:
    """segments: id, type ('urn:chroma:segment/...'), scope, collection -> (id, scope, collection)."""
    if len(values) != 4 or not all(type(v) is str for v in values) or not values[1].startswith("urn:chroma:segment/"):
        return None
    return values[0], values[2], values[3]


def _collections_row(values: list) -> tuple[str, str] | None:
    """collections: id, name, dimension, database_id, config_json_str, schema_str -> (id, name)."""
    if len(values) != 6 or not all(type(v) is str for v in (values[0], values[1], values[3])):
        return None
    return (values[0], values[1]) if type(values[2]) in (int, type(None)) and len(values[0]) == 36 else None


def _queue_row(values: list) -> tuple[str, str] | None:
    """embeddings_queue (Chroma's write log): seq_id (the rowid: stored as NULL), created_at, operation, topic,
    id, vector, encoding, metadata (JSON) -> (id, content hash) for a logged article record write."""
    if len(values) != 8 or values[0] is not None or type(values[4]) is not str or type(values[7]) is not str:
        return None
    if '"content_hash"' not in values[7] or len(values[7]) > 4096:
        return None
    try:
        content_hash = json.loads(values[7]).get("content_hash")
    except (ValueError, AttributeError):
        return None
    return (values[4], content_hash.removeprefix(PENDING)) if type(content_hash) is str else None


def _document_row(values: list) -> str | None:
    """embedding_fulltext_search_content: id (the embeddings row: stored as NULL), c0 (the document)."""
    return values[1] if len(values) == 2 and values[0] is None and type(values[1]) is str else None


# --- article records ---------------------------------------------------------------------------------------


class _Scan:
    """What the passes over the file learn; only article records' values are held."""

    def __init__(self, reader: PageReader) -> None:
        self.reader = reader
        self.collections: dict[str, str] = {}  # collection id -> name
        self.segments: dict[str, tuple[str, str]] = {}  # segment id -> (scope, collection id)
        self.records: set[int] = set()  # embeddings ids whose metadata has a content_hash: article records
        self.versions: dict[str, set[str]] = {}  # first 8 of a content hash -> article ids of chunks carrying it
        self.logged: dict[str, set[str]] = {}  # content hash -> ids of article records logged with it
        self.values: dict[int, dict[str, tuple[int, str]]] = {}  # record -> key -> (rowid, value), newest row
        self.ids: dict[int, list[str]] = {}  # record -> embedding ids (normally one)
        self.segment_of: dict[int, list[str]] = {}
        self.documents: dict[int, list[str]] = {}  # record -> full-text-search copies of its document

    def find_records(self) -> None:
        """Pass 1 (the first part of each row only): collections, segments, which records are articles, and
        the ids that chunks name with their article's version and that Chroma's write log names with a content
        hash (to identify a record whose embeddings row is lost)."""
        for _, rows in self.reader.pages(local_only=True):
            chunks: dict[int, dict[str, str]] = {}
            for _, values in rows:
                if row := _metadata_row(values):
                    if row[1] == "content_hash":
                        self.records.add(row[0])
                    elif row[1] in ("version", "article_id") and type(row[2]) is str:
                        chunks.setdefault(row[0], {})[row[1]] = row[2]
                elif row := _queue_row(values):
                    self.logged.setdefault(row[1], set()).add(row[0])
                elif row := _segments_row(values):
                    self.segments[row[0]] = row[1:]
                elif row := _collections_row(values):
                    self.collections[row[0]] = row[1]
            # A chunk's metadata rows are written together, so they share a page (or all but a few chunks do).
            for meta in chunks.values():
                if len(meta) == 2:
                    self.versions.setdefault(meta["version"], set()).add(meta["article_id"])

    def read_records(self) -> None:
        """Pass 2: the article records' metadata and documents, and their embeddings rows (their ids)."""
        wanted = {DOCUMENT, "content_hash", "written_hash", "article_id", *FIELDS}
        for rowid, values in self.reader.rows():
            if (row := _metadata_row(values)) and row[0] in self.records:
                held = self.values.setdefault(row[0], {})
                if row[1] in wanted and row[2] is not None and rowid >= held.get(row[1], (rowid,))[0]:
                    held[row[1]] = (rowid, row[2])  # a stale copy of a row loses to the newer row
            elif rowid in self.records and (row := _embeddings_row(values)):
                self.segment_of.setdefault(rowid, []).append(row[0])
                self.ids.setdefault(rowid, []).append(row[1])

    def read_documents(self, records: set[int]) -> None:
        """Pass 3, for records whose own document is missing or damaged: the full-text index's copy."""
        for rowid, values in self.reader.rows():
            if rowid in records and (text := _document_row(values)) is not None:
                self.documents.setdefault(rowid, []).append(text)

    def foreign(self, record: int, collection: str) -> bool:
        """Whether a record is known to belong to another collection than ``<collection>-articles``: its
        embeddings row names a segment of a collection of another name, or it has no embeddings row and the
        folder holds several article collections."""
        name = f"{collection}-articles"
        segments = self.segment_of.get(record)
        if not segments:
            return any(n.endswith("-articles") and n != name for n in self.collections.values())
        names = {self.collections.get(self.segments.get(s, ("", ""))[1]) for s in segments}
        return None not in names and name not in names  # every segment's collection is known, none is ours

    def candidates(self, record: int) -> list[str]:
        """Ids the record may have: its embeddings row's, its own ``article_id``, those the write log and its
        chunks name, and the name of the file it came from; its content hash tells which (if any) is right."""
        values = {k: v for k, (_, v) in self.values.get(record, {}).items()}
        found = [*self.ids.get(record, []), values.get("article_id")]
        content_hash = values.get("content_hash", "")
        found += sorted(self.logged.get(content_hash, ())) + sorted(self.versions.get(content_hash[:8], ()))
        if values.get("origin"):
            found.append(Path(values["origin"].split(":")[0]).stem)
        return list(dict.fromkeys(i for i in found if i))

    def article(self, record: int, text: str | None = None) -> Article | None:
        """The record as an article whose content hash matches the one it was stored with, else None."""
        values = {k: v for k, (_, v) in self.values.get(record, {}).items()}
        text = values.get(DOCUMENT) if text is None else text
        if text is None:
            return None
        for article_id in self.candidates(record):
            try:
                article = Article(id=article_id, text=text, **{k: values.get(k, "") for k in FIELDS})
            except ValidationError:
                continue
            if article.content_hash == values.get("content_hash"):
                # The hash leaves out the origin (where the file was read from): one that did not decode is dropped.
                return article.model_copy(update={"origin": ""}) if "\ufffd" in article.origin else article
        return None


def salvage_articles_from_pages(path: Path | str, collection: str) -> tuple[list[Article], str]:
    """Every completely written article of ``<collection>-articles`` that can still be read, page by page, from
    a Chroma database (``path``: the file or its index folder), and one line on how they were read.

    Never raises for damage or a missing file (it returns no articles and says why). An article is returned
    only when its id, text and metadata match the content hash stored with it; when the same article was found
    more than once (a stale copy of a page), the newest record wins.
    """
    path = Path(path)
    path = path / DATABASE if path.is_dir() else path
    try:
        scan = _Scan(PageReader(path))
        scan.find_records()
        scan.read_records()
        articles, counts = _assemble(scan, collection)
    except OSError as exc:  # the file is gone or unreadable as a whole (a bad page is only skipped)
        return [], f"could not read {path} ({exc.strerror or exc})"
    return articles, _summary(scan, counts)


def _assemble(scan: _Scan, collection: str) -> tuple[list[Article], dict[str, int]]:
    counts = {"incomplete writes": 0, "of other collections": 0, "not readable intact": 0}
    found: dict[str, tuple[int, Article]] = {}  # article id -> (record, article): the newest record wins
    failed = []
    for record in scan.values:
        if _incomplete(scan.values[record]):
            counts["incomplete writes"] += 1
        elif scan.foreign(record, collection):
            counts["of other collections"] += 1
        elif article := scan.article(record):
            found[article.id] = max(found.get(article.id, (record, article)), (record, article), key=_first)
        else:
            failed.append(record)
    if failed:  # their documents may survive in the full-text index
        scan.read_documents(set(failed))
        for record in failed:
            article = next(filter(None, (scan.article(record, t) for t in scan.documents.get(record, []))), None)
            if article:
                found[article.id] = max(found.get(article.id, (record, article)), (record, article), key=_first)
            else:
                counts["not readable intact"] += 1
    return [article for _, article in found.values()], counts


def _first(pair: tuple) -> object:
    return pair[0]


def _incomplete(values: dict[str, tuple[int, str]]) -> bool:
    """An interrupted write (``pending:`` hash), or one whose hash another run set after this text was written
    (``written_hash``, the hash of the text written, differs): both are indexed again from their files."""
    content_hash = values.get("content_hash", (0, ""))[1]
    written = values.get("written_hash", (0, content_hash))[1]
    return not content_hash or content_hash.startswith(PENDING) or written != content_hash


def _summary(scan: _Scan, counts: dict[str, int]) -> str:
    left = [f"{n:,} {what}" for what, n in counts.items() if n]
    line = f"read page by page from {scan.reader.path.name} ({scan.reader.describe()})"
    if left:
        line += f"; left out {', '.join(left)}"
    return line
