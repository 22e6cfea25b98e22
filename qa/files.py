"""Reading an input file safely: a regular file of bounded size, and text rather than binary.

Every loader (qa.loaders, qa.documents) checks a file here before it reads it: a pipe would block a read for
ever, a device never ends, and a binary file would be indexed as garbage sentences.
"""

from __future__ import annotations

import stat
from pathlib import Path

from qa.errors import InputError

MAX_FILE_BYTES = 200 * 1024 * 1024
BINARY_SAMPLE_BYTES = 64 * 1024  # how much of a file ``looks_binary`` reads
MIN_BINARY_CONTROLS = 32  # fewer control bytes than this never make a file binary (but a NUL byte does)
# Bytes that text does not contain: controls other than tab, newline, vertical tab, form feed and carriage return.
_CONTROL_BYTES = bytes([*range(0x01, 0x09), *range(0x0E, 0x20), 0x7F])


def check_regular_file(path: Path, limit: int | None = MAX_FILE_BYTES) -> None:
    """Raise InputError unless ``path`` is a regular file of at most ``limit`` bytes, checked before any read:
    a pipe would block the read for ever and a device (/dev/zero) never ends."""
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc.__class__.__name__})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError("not a regular file (a device, pipe or socket)")
    if limit is not None and info.st_size > limit:
        raise InputError(f"larger than {limit // 2**20} MiB")


def looks_binary(data: bytes) -> bool:
    """Whether ``data`` (a file's bytes, or their start) is binary rather than text: a NUL byte in the first
    8 KB, or more than 1% control bytes (other than tab, newline, vertical tab, form feed, carriage return) in the
    first 64 KB, and more than ``MIN_BINARY_CONTROLS`` of them (a short article with a few terminal escapes in it
    is text, to be shown escaped). Text in any encoding passes but UTF-16/32; random bytes have about 10% controls.

    >>> looks_binary(b"The bridge opened.\\n"), looks_binary(bytes(range(1, 256)) * 4)
    (False, True)
    """
    if b"\x00" in data[:8192]:
        return True
    sample = data[:BINARY_SAMPLE_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > MIN_BINARY_CONTROLS and controls * 100 > len(sample)


def read_file_bytes(path: Path) -> bytes:
    """The bytes of a non-empty, non-binary regular file, or an InputError saying why it cannot be used."""
    check_regular_file(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc.__class__.__name__})") from None
    if not raw.strip():
        raise InputError("empty file")
    if looks_binary(raw):
        raise InputError("binary file, not text")
    return raw


def read_text_file(path: Path) -> str:
    """Read a UTF-8 text file or raise InputError saying why it cannot be used."""
    raw = read_file_bytes(path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (byte {exc.start})") from None
