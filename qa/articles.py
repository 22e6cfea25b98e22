"""Articles: the domain model, the loaders (.txt, .md, .jsonl; .html through qa.html_extraction) and the
boilerplate cleaner.

Cleaning removes whole lines only and keeps every other line verbatim, so a quote taken from
``Article.text`` is always a verbatim piece of the source. Photo captions are kept; ``caption_spans`` finds
them in the text, so an answer that quotes one can say so.

>>> a = article_from_text("Lead sentence.\\nAdvertisement\\nSecond sentence.", article_id="x")
>>> a.text
'Lead sentence.\\nSecond sentence.'
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from qa.errors import InputError

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl", ".pdf", ".docx")
DOCUMENT_SUFFIXES = (".pdf", ".docx")  # read by qa.documents
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_FIELD_CHARS = 1000  # title, source, author, url: longer values are cut, with a warning
# An article id is repeated in every chunk and sentence id of the index: a 200 KB id made a 569 MB index.
MAX_ID_CHARS = 200
UPLOAD_PREFIX = "upload-"  # before the id of every article uploaded in the chat: ids of their own
MAX_LINE_BYTES = 32 * 2**20  # one JSONL line; a longer one is skipped unread (one 200 MB line peaked at 5.7 GB)
MAX_SKIPPED_LINES = 10  # a JSONL file reports this many unusable lines one by one, then one summary line
BINARY_SAMPLE_BYTES = 64 * 1024  # how much of a file ``looks_binary`` reads
MIN_BINARY_CONTROLS = 32  # fewer control bytes than this never make a file binary (but a NUL byte does)
# Control characters (C0, DEL, C1), line and paragraph separators, bidirectional marks, embeddings, overrides
# and isolates: none may be part of an article id (ids are shown in terminals, the chat and citation ids).
_BAD_ID_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Bytes that text does not contain: controls other than tab, newline, vertical tab, form feed and carriage return.
_CONTROL_BYTES = bytes([*range(0x01, 0x09), *range(0x0E, 0x20), 0x7F])
log = logging.getLogger("qa")


class Article(BaseModel):
    """One cleaned article and its metadata."""

    id: str = Field(description="Stable id: the file name without suffix, or the JSONL doc_id.")
    title: str = ""
    source: str = Field("", description="Publisher.")
    author: str = ""
    published: str = Field("", description="ISO date (YYYY, YYYY-MM or YYYY-MM-DD) or empty.")
    url: str = ""
    text: str = Field(description="The cleaned body; citation offsets point into this string.")
    origin: str = Field("", description="File (and line) the article was read from.")
    page_starts: str = Field(
        "", description="A PDF's pages: the offset in ``text`` where each starts, comma-separated (qa.citations.page_at)."
    )

    @field_validator("title", "source", "author", "url")
    @classmethod
    def _capped(cls, value: str, info: ValidationInfo) -> str:
        if len(value) > MAX_FIELD_CHARS:
            log.warning("article %s: its %s is %s characters long; kept the first %s",
                        info.data.get("id", "?"), info.field_name, f"{len(value):,}", f"{MAX_FIELD_CHARS:,}")  # fmt: skip
            return value[:MAX_FIELD_CHARS]
        return value

    @property
    def content_hash(self) -> str:
        """Hash of everything that ends up in the index, so unchanged articles are never embedded again."""
        # Without pages the field is left out, so articles indexed before it existed keep their hash (and citation ids).
        payload = json.dumps(self.model_dump(exclude={"origin"} if self.page_starts else {"origin", "page_starts"}),
                             sort_keys=True)  # fmt: skip
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    @property
    def version(self) -> str:
        """The short content hash that citation ids carry: it changes whenever the article does."""
        return self.content_hash[:8]

    @property
    def published_ordinal(self) -> int:
        """Published date as YYYYMMDD (missing parts are 00) for range filters; 0 when unknown."""
        return date_ordinal(self.published)


@dataclass(frozen=True)
class Skipped:
    """An input that was not indexed, with the reason (shown to the user as a warning)."""

    where: str
    reason: str

    def __str__(self) -> str:
        # one line whatever a file is named ("a\nb.pdf") or a library's message says
        return f"skipped {one_line(self.where)}: {one_line(self.reason)}"


def one_line(text: str) -> str:
    """``text`` with its line breaks and other control characters written as escapes, so it prints on one line.

    >>> one_line("report\\n2024.pdf")
    'report\\\\n2024.pdf'
    """
    return _CONTROL_CHARS.sub(lambda m: repr(m.group())[1:-1], text)


# --- dates -------------------------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?")


def date_ordinal(value: str | date | None) -> int:
    """``"2023-07-12"`` -> 20230712, ``"2023-07"`` -> 20230700, unknown -> 0."""
    if not value:
        return 0
    m = _DATE.match(str(value).strip())
    if not m:
        return 0
    year, month, day = (int(g) if g else 0 for g in m.groups())
    return year * 10000 + month * 100 + day


def normalise_date(value: object) -> str:
    """Keep the ISO date part of a date or timestamp; anything unparseable becomes empty."""
    if value is None or value == "":
        return ""
    if isinstance(value, date):
        return value.isoformat()[:10]
    m = _DATE.match(str(value).strip())
    if not m:
        return ""
    return "-".join(part.zfill(2) if i else part for i, part in enumerate(g for g in m.groups() if g))


# --- article ids --------------------------------------------------------------------------------------


def article_id_problem(article_id: str) -> str:
    """Why ``article_id`` cannot be an article id (too long, or control or bidirectional characters in it), or "".

    >>> article_id_problem("bbc-2024-bridge"), article_id_problem("a\\nb")
    ('', 'id has control or bidirectional characters (U+000A)')
    """
    if not article_id:
        return "id is empty"
    if len(article_id) > MAX_ID_CHARS:
        return f"id is {len(article_id):,} characters long (at most {MAX_ID_CHARS})"
    bad = _BAD_ID_CHARS.search(article_id)
    if bad:
        return f"id has control or bidirectional characters (U+{ord(bad.group()):04X})"
    return ""


def safe_article_id(name: str) -> str:
    """An article id made from a file name: the name itself when it is a good id, else the name with its bad
    characters replaced, cut, and a short hash of the whole name added, so that two names never share an id.

    >>> safe_article_id("bridge-opens"), safe_article_id("bridge\\nopens")
    ('bridge-opens', 'bridge_opens-ac7ae383')
    """
    if not article_id_problem(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{_BAD_ID_CHARS.sub('_', name)[: MAX_ID_CHARS - len(digest) - 1]}-{digest}"


def _with_prefix(item: Article | Skipped, id_prefix: str) -> Article | Skipped:
    if not id_prefix or not isinstance(item, Article):
        return item
    return item.model_copy(update={"id": id_prefix + item.id})


def _check_prefix(id_prefix: str) -> None:
    if id_prefix and (_BAD_ID_CHARS.search(id_prefix) or len(id_prefix) > MAX_ID_CHARS):
        raise ValueError(f"id_prefix {id_prefix[:40]!r}: control characters or too long")


# --- boilerplate ---------------------------------------------------------------------------------------

_BOILERPLATE_LINES = re.compile(
    r"""^(?:
        advertisement | advertisements? \s* - .{0,40} | sponsored(?:\s+content)? | ad
      | read\ more | continue\ reading | read\ the\ full\ (?:story|article)
      | related(?:\ (?:articles?|stories|content|coverage|reading|posts?|news))?:? | see\ also:?
      | you\ may\ also\ (?:like|be\ interested\ in) | recommended(?:\ for\ you)? | most\ (?:read|popular)
      | more\ from\ .{1,40} | trending(?:\ now)?
      | never\ miss\ a\ story | sign\ up\ (?:for|to)\ .{0,80} | subscribe(?:\ .{0,80})?
      | get\ our\ .{0,80}(?:newsletter|recap|briefing|digest).{0,80}
      | (?:share|share\ this(?:\ article|\ story)?|share\ on\ .{1,30}|follow\ us.{0,40})
      | you\ must\ be\ logged\ in\ to\ .{0,80} | (?:log\ ?in|sign\ in)(?:\ to\ .{0,60})? | login
      | \d*\s*comments? | leave\ a\ (?:comment|reply) | (?:show|view)\ comments
      | cookie\ (?:policy|settings|preferences|notice) | accept(?:\ all)?\ cookies
      | (?:photo|image|picture|caption|credit|file\ photo)\s*:.{0,300}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_COOKIE_WORDS = re.compile(r"\b(?:use[sd]?|consent|accept|policy|experience|marketing|settings)\b", re.I)
# A caption is a line that ends in a parenthesised photo credit, e.g. "... in Tokyo. (Takashi Aoyama/AFP via Getty Images)".
_CAPTION = re.compile(
    r"\((?:[^()]{0,120}?\b(?:courtesy|credits?|photo|photos|getty|afp|reuters|ap|associated\ press|provided\ by|images?|"
    r"file|shutterstock|epa|via|pool|pictured|handout)\b[^()]{0,120})\)\s*$",
    re.I | re.X,
)


def is_boilerplate(line: str) -> bool:
    """True for a line of page furniture (ads, prompts, cookie notices, newsletter blocks). Photo captions are
    not: they carry facts the body may lack, so they stay in the text and ``caption_spans`` marks them."""
    stripped = line.strip()
    if not stripped:
        return False
    if _BOILERPLATE_LINES.match(stripped):
        return True
    if _CAPTION.fullmatch(stripped):  # a photo credit alone, "(Credit: Clayton Aldern / Grist)": no fact to keep
        return True
    return len(stripped) < 400 and bool(re.search(r"\bcookies?\b", stripped, re.I) and _COOKIE_WORDS.search(stripped))


def is_caption(line: str) -> bool:
    """A photo caption: a short line that ends in a parenthesised photo credit."""
    stripped = line.strip()
    return len(stripped) < 400 and bool(_CAPTION.search(stripped))


def caption_spans(text: str) -> list[tuple[int, int]]:
    """Where the photo captions of an article's text are, as (start, end) offsets of whole lines.

    >>> caption_spans("Body.\\nKishida in Tokyo. (AFP via Getty Images)\\nMore body.")
    [(6, 46)]
    """
    spans, start = [], 0
    for line in text.split("\n"):
        if is_caption(line):
            lead = len(line) - len(line.lstrip())
            spans.append((start + lead, start + len(line.rstrip())))
        start += len(line) + 1
    return spans


def clean_text(text: str) -> str:
    """Drop boilerplate lines and runs of blank lines; every kept line is kept verbatim."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if is_boilerplate(line):
            continue
        if not line.strip() and (not kept or not kept[-1].strip()):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


# --- loaders --------------------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.S)
_MD_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)


def article_from_text(text: str, *, article_id: str, origin: str = "", **meta: object) -> Article:
    """Build an Article from raw text, reading optional YAML front matter (title, source, author, published, url)."""
    m = _FRONT_MATTER.match(text)
    if m:
        try:
            # Aliases (*name) are refused: a few hundred bytes of nested aliases expand to gigabytes.
            if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(m.group(1), Loader=yaml.SafeLoader)):
                raise InputError("front matter uses YAML aliases (*name), which are not accepted")
            front = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"front matter is not valid YAML ({exc.__class__.__name__})") from None
        if not isinstance(front, dict):
            raise InputError("front matter must be key: value lines")
        meta = {**front, **{k: v for k, v in meta.items() if v}}
        text = text[m.end() :]
    return article_from_body(text, article_id=article_id, origin=origin, **meta)


def article_from_body(text: str, *, article_id: str, origin: str = "", **meta: object) -> Article:
    """Build an Article from text without front matter: boilerplate lines dropped, the title guessed if missing."""
    body = clean_text(text)
    if not body:
        raise InputError("no article text")
    article_id = str(meta.get("id") or article_id)  # front matter may name the id
    problem = article_id_problem(article_id)
    if problem:
        raise InputError(f"article {problem}")
    title = str(meta.get("title") or "").strip() or _guess_title(body) or article_id
    return Article(
        id=article_id,
        title=title,
        source=str(meta.get("source") or "").strip(),
        author=str(meta.get("author") or "").strip(),
        published=normalise_date(meta.get("published") or meta.get("date")),
        url=str(meta.get("url") or "").strip(),
        text=body,
        origin=origin,
    )


def _guess_title(body: str) -> str:
    heading = _MD_HEADING.search(body)
    if heading:
        return heading.group(1)
    first = body.split("\n", 1)[0].strip()
    # A short first line without closing punctuation reads as a headline.
    return first if len(first) <= 150 and not first.endswith((".", "!", "?", '"', "”")) else ""


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


def iter_jsonl_articles(path: Path, id_prefix: str = "") -> Iterator[Article | Skipped]:
    """Stream one article per JSONL line; a malformed line is reported with its number, the rest go on.

    Memory stays bounded whatever the file holds: a line over ``MAX_LINE_BYTES`` is skipped without being held,
    and after the first ``MAX_SKIPPED_LINES`` unusable lines the rest are only counted, for one summary at the
    end. ``id_prefix`` goes before every article id (uploads get ids of their own).
    """
    _check_prefix(id_prefix)
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
                yield _with_prefix(item, id_prefix)
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
    limit = MAX_LINE_BYTES
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
        size = f"{MAX_LINE_BYTES // 2**20} MiB" if MAX_LINE_BYTES % 2**20 == 0 else f"{MAX_LINE_BYTES:,} bytes"
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
    _check_prefix(id_prefix)
    if suffix not in SUPPORTED_SUFFIXES:
        yield Skipped(str(path), f"unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}")
        return
    article_id = safe_article_id(path.stem)
    try:
        if suffix in DOCUMENT_SUFFIXES:
            from qa.documents import document_to_article  # pypdf and python-docx load only for such a file

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
    yield _with_prefix(article, id_prefix)


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
    _check_prefix(id_prefix)
    for item in iter_input_files(paths):
        if isinstance(item, Skipped):
            yield item
        else:
            yield from load_file(item, id_prefix)
