"""Loaders: every way an article gets in, behind one entry point, ``load_inputs``.

Files (.txt, .md, .jsonl here; .html through qa.html_extraction; .pdf and .docx through qa.documents),
folders of them, and web addresses (pages, feeds and sitemaps through qa.web). Each input that cannot be used
becomes a ``Skipped`` saying why, and the rest go on.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from qa import articles
from qa.articles import (
    DOCUMENT_SUFFIXES,
    MAX_SKIPPED_LINES,
    SUPPORTED_SUFFIXES,
    Article,
    Skipped,
    article_from_text,
    article_id_problem,
    check_id_prefix,
    safe_article_id,
    with_id_prefix,
)
from qa.documents import document_to_article  # pypdf and python-docx load only when a document is read
from qa.errors import InputError
from qa.files import check_regular_file, read_file_bytes, read_text_file
from qa.settings import Settings
from qa.web import WebLoader, is_url


def load_inputs(
    inputs: Iterable[str | Path], settings: Settings, cancel: threading.Event | None = None, id_prefix: str = ""
) -> Iterator[Article | Skipped]:
    """Every article of the given files, folders and web addresses, in the order given; ``cancel`` stops a web
    fetch in progress (Cancelled); ``id_prefix`` goes before the id of every article from a file (uploads)."""
    web = WebLoader(settings, cancel)
    try:
        for item in inputs:
            if is_url(item):
                yield from web.articles(str(item))
            else:
                yield from load_articles([Path(item)], id_prefix)
    finally:
        web.close()


def iter_jsonl_articles(path: Path, id_prefix: str = "") -> Iterator[Article | Skipped]:
    """Stream one article per JSONL line; a malformed line is reported with its number, the rest go on.

    Memory stays bounded whatever the file holds: a line over ``MAX_LINE_BYTES`` is skipped without being held,
    and after the first ``MAX_SKIPPED_LINES`` unusable lines the rest are only counted, for one summary at the
    end. ``id_prefix`` goes before every article id (uploads get ids of their own).
    """
    check_id_prefix(id_prefix)
    try:
        check_regular_file(path, limit=None)  # a JSONL corpus is streamed, so it may be large
        handle = path.open("rb")
    except InputError as exc:
        yield Skipped(str(path), str(exc))
        return
    except OSError as exc:
        yield Skipped(str(path), f"cannot read ({exc.strerror})")
        return
    reported, more, reasons = 0, 0, Counter[str]()
    name, stem = str(path), path.stem
    with handle:
        seen_any = False
        for number, raw in enumerate(_capped_lines(handle), start=1):
            if raw is not None and not raw.strip():
                continue
            seen_any = True
            item = _jsonl_article(raw, f"{name}:{number}", f"{stem}-{number}")
            if isinstance(item, Article):
                yield with_id_prefix(item, id_prefix)
            elif reported < MAX_SKIPPED_LINES:
                reported += 1
                yield item
            else:
                more += 1
                if item.reason in reasons or len(reasons) < 20:  # the reasons are few; their count stays bounded
                    reasons[item.reason] += 1
        if not seen_any:
            yield Skipped(str(path), "empty file")
        if more:
            common = [reason for reason, _ in reasons.most_common(3)] + (["..."] if len(reasons) > 3 else [])
            lines = "line" if more == 1 else "lines"
            yield Skipped(str(path), f"and {more:,} more {lines} skipped ({'; '.join(common)})")


def _capped_lines(handle) -> Iterator[bytes | None]:
    """The lines of a binary file, each at most ``MAX_LINE_BYTES`` (its newline not counted); None for a longer
    line, whose rest is read past in blocks and never held."""
    limit = articles.MAX_LINE_BYTES  # read when called: the bound is declared, and set in tests, in qa.articles
    while line := handle.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        while (block := handle.readline(min(limit, 2**20))) and not block.endswith(b"\n"):
            pass
        yield None


def _jsonl_article(raw: bytes | None, where: str, default_id: str) -> Article | Skipped:
    """The article of one JSONL line, or a Skipped saying why the line cannot be used."""
    if raw is None:
        limit = articles.MAX_LINE_BYTES
        size = f"{limit // 2**20} MiB" if limit % 2**20 == 0 else f"{limit:,} bytes"
        return Skipped(where, f"line is longer than {size}; not read")
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return Skipped(where, "line is not UTF-8")
    except json.JSONDecodeError as exc:
        return Skipped(where, f"malformed JSON ({exc.msg})")
    except (ValueError, RecursionError):  # a number of over 4,300 digits; arrays nested thousands deep
        return Skipped(where, "malformed JSON (a number too long or nesting too deep)")
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return Skipped(where, 'expected an object with a "text" string')
    named = record.get("doc_id") or record.get("id")
    if isinstance(named, (dict, list)):
        return Skipped(where, "doc_id is not a string")
    article_id = str(named) if named else safe_article_id(default_id)  # FILE-LINE: made safe like a file name
    problem = article_id_problem(article_id)
    if problem:
        return Skipped(where, f"doc_id: {problem}")
    try:
        return article_from_text(
            record["text"],
            article_id=article_id,
            origin=where,
            **{k: record.get(k) for k in ("title", "source", "author", "published", "url")},
        )
    except InputError as exc:
        return Skipped(where, str(exc))


def load_file(path: Path, id_prefix: str = "") -> Iterator[Article | Skipped]:
    """Yield the articles of one file (several for .jsonl), or a Skipped saying why it could not be used.
    ``id_prefix`` goes before every article id; a file name that is no good id gets a safe one."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from iter_jsonl_articles(path, id_prefix)
        return
    check_id_prefix(id_prefix)
    if suffix not in SUPPORTED_SUFFIXES:
        yield Skipped(str(path), f"unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}")
        return
    article_id = safe_article_id(path.stem)
    try:
        if suffix in DOCUMENT_SUFFIXES:
            article = document_to_article(path, article_id)
        elif suffix in (".html", ".htm"):
            from qa.html_extraction import html_to_article  # trafilatura loads only when there is a page to read

            # Bytes: a saved page declares its own encoding, which need not be UTF-8.
            article = html_to_article(read_file_bytes(path), article_id=article_id, origin=str(path))
        else:
            article = article_from_text(read_text_file(path), article_id=article_id, origin=str(path))
    except InputError as exc:
        yield Skipped(str(path), str(exc))
        return
    yield with_id_prefix(article, id_prefix)


def iter_input_files(paths: Iterable[Path]) -> Iterator[Path | Skipped]:
    """Expand folders (recursively, supported suffixes only, sorted) and report missing paths."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from _files_under(path)
        elif path.exists():
            yield path
        else:
            yield Skipped(str(path), "no such file or folder")


def _files_under(folder: Path) -> Iterator[Path | Skipped]:
    """The supported files in a folder, sorted. Links to folders are not followed (each is reported), and links
    to files outside the folder are skipped: indexing a folder never reads what lies elsewhere (/etc/shadow, a
    device)."""
    root = folder.resolve()
    found: list[Path] = []
    linked_folders: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(folder):
        found += [Path(dirpath) / n for n in filenames if Path(n).suffix.lower() in SUPPORTED_SUFFIXES]
        links = {Path(dirpath) / n for n in dirnames if (Path(dirpath) / n).is_symlink()}  # os.walk lists, never enters
        found += links
        linked_folders |= links
    for path in sorted(found):
        if path in linked_folders:
            yield Skipped(str(path), "a link to a folder; not followed")
            continue
        target = path.resolve()
        if path.is_symlink() and not target.is_relative_to(root):
            yield Skipped(str(path), f"a link to {target}, outside {folder}; not followed")
        else:
            yield path


def count_articles(paths: Iterable[Path]) -> int:
    """About how many articles ``load_articles`` will yield (a JSONL file counts its lines): a progress total."""
    total = 0
    for item in iter_input_files(paths):
        if isinstance(item, Skipped):
            continue
        if item.suffix.lower() != ".jsonl":
            total += 1
            continue
        try:
            check_regular_file(item, limit=None)
            with item.open("rb") as f:
                total += sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
        except (OSError, InputError):
            pass  # load_articles reports the unusable file
    return total


def load_articles(paths: Iterable[Path], id_prefix: str = "") -> Iterator[Article | Skipped]:
    """Every article under the given files and folders, in a stable order, with Skipped for unusable inputs.
    ``id_prefix`` goes before every article id (e.g. "upload-", so an upload never replaces an indexed article)."""
    check_id_prefix(id_prefix)
    for item in iter_input_files(paths):
        if isinstance(item, Skipped):
            yield item
        else:
            yield from load_file(item, id_prefix)
