"""Articles: the domain model, article ids, dates and the boilerplate cleaner. The loaders that make articles
from files and web addresses are in qa.loaders.

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
import re
from dataclasses import dataclass
from datetime import date

import yaml
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from qa.errors import InputError
from qa.files import (  # noqa: F401 (moved to qa.files; importable from here too, for ui/, bench/ and tests/)
    BINARY_SAMPLE_BYTES,
    MAX_FILE_BYTES,
    MIN_BINARY_CONTROLS,
    check_regular_file,
    looks_binary,
    read_file_bytes,
    read_text_file,
)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl", ".pdf", ".docx")
DOCUMENT_SUFFIXES = (".pdf", ".docx")  # read by qa.documents
MAX_FIELD_CHARS = 1000  # title, source, author, url: longer values are cut, with a warning
# An article id is repeated in every chunk and sentence id of the index: a 200 KB id made a 569 MB index.
MAX_ID_CHARS = 200
UPLOAD_PREFIX = "upload-"  # before the id of every article uploaded in the chat: ids of their own
MAX_LINE_BYTES = 32 * 2**20  # one JSONL line; a longer one is skipped unread (one 200 MB line peaked at 5.7 GB)
MAX_SKIPPED_LINES = 10  # a JSONL file reports this many unusable lines one by one, then one summary line
# Control characters (C0, DEL, C1), line and paragraph separators, bidirectional marks, embeddings, overrides
# and isolates: none may be part of an article id (ids are shown in terminals, the chat and citation ids).
_BAD_ID_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
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
        "",
        description="A PDF's pages: the offset in ``text`` where each starts, comma-separated (qa.citations.page_at).",
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


def with_id_prefix(item: Article | Skipped, id_prefix: str) -> Article | Skipped:
    if not id_prefix or not isinstance(item, Article):
        return item
    return item.model_copy(update={"id": id_prefix + item.id})


def check_id_prefix(id_prefix: str) -> None:
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
