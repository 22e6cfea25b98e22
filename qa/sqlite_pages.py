"""A damaged SQLite database file read page by page, in pure Python, without SQLite
(https://www.sqlite.org/fileformat2.html).

``recover_rows`` walks every page of the file and yields every row of every table leaf page that still parses,
skipping what does not: a zeroed header, a truncated file or a garbage page costs only what it held. The file is
read a block of pages at a time (overflow pages one at a time), so memory holds the rows asked for, not the file.
qa.salvage puts Chroma's article records back together from these rows.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

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
