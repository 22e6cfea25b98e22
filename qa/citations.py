"""The answer and citation models, and citation ids.

A citation id names an exact span of one version of an article: ``ARTICLE_ID:START-END@VERSION`` (offsets
into the article's cleaned text; the version is the start of its content hash), so any citation can be looked
up again, in this process or another, and one made before the article changed says so.

>>> parse_citation_id("000_f84b:120-245@3fa9c2d1")
('000_f84b', 120, 245, '3fa9c2d1')
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field

from qa.errors import CitationNotFound

# Offsets of at most 12 digits: a longer one is no offset into any article, and int() of thousands of digits
# raises ValueError (Python's int-string limit) where the user should get the ordinary CitationNotFound.
_CITATION_ID = re.compile(r"^(?P<article>.+):(?P<start>\d{1,12})-(?P<end>\d{1,12})(?:@(?P<version>[0-9a-f]+))?$")


_CHUNK_ID = re.compile(r"^.+#[0-9a-f]{12}$")  # qa.chunking.chunk_id


def is_chunk_id(value: str) -> bool:
    return bool(_CHUNK_ID.match(value.strip()))


def is_passage_id(value: str) -> bool:
    """Whether ``value`` is a citation id or a chunk id (what ``Assistant.lookup`` opens) rather than a quote."""
    return is_chunk_id(value) or bool(_CITATION_ID.match(value.strip()))


def citation_id(article_id: str, start: int, end: int, version: str = "") -> str:
    """``ARTICLE:START-END@VERSION``; without a version (the store's own sentence keys) ``ARTICLE:START-END``."""
    return f"{article_id}:{start}-{end}" + (f"@{version}" if version else "")


def clipped(value: str, limit: int = 120) -> str:
    """``value`` cut to ``limit`` characters for a message: an error never echoes a 100 KB id back."""
    return value if len(value) <= limit else value[:limit] + "..."


def parse_citation_id(value: str) -> tuple[str, int, int, str]:
    """(article id, start, end, version); the version is "" in ids made before versions were."""
    m = _CITATION_ID.match(value.strip())
    if not m or int(m["end"]) <= int(m["start"]):
        raise CitationNotFound(
            f"{clipped(value)!r} is not a citation id (ARTICLE:START-END@VERSION) or chunk id (ARTICLE#HASH)"
        )
    return m["article"], int(m["start"]), int(m["end"]), m["version"] or ""


class QuotedSpan(BaseModel):
    """A verbatim span of an article with the article's metadata: ``article_text[start:end] == quote``."""

    id: str = Field(description="Citation id, ARTICLE_ID:START-END@VERSION; `qa cite ID` opens it.")
    chunk_id: str = ""
    article_id: str
    title: str = ""
    source: str = ""
    author: str = ""
    published: str = ""
    url: str = ""
    quote: str
    start: int
    end: int
    score: float = Field(
        0.0, description="How strongly the span matches (0-1; for citations, the reader's confidence)."
    )
    page: int | None = Field(
        None, description="The page of a PDF article the quote starts on (1-based); None otherwise."
    )

    @property
    def byline(self) -> list[str]:
        """Publisher, author and date, those that are known: what is shown under a title."""
        return [x for x in (self.source, self.author, self.published) if x]


class Citation(QuotedSpan):
    """A quote behind an answer, shown inline as [marker]."""

    marker: int = Field(description="The number shown inline as [n].")
    caption: bool = Field(False, description="The quote is a photo caption (labelled so wherever it is shown).")


def citation_for(meta: dict, start: int, end: int, quote: str, marker: int, score: float = 1.0) -> Citation:
    """A Citation of ``quote`` at ``start:end`` in the article described by a chunk's metadata."""
    return Citation(
        marker=marker, id=citation_id(meta["article_id"], start, end, meta.get("version", "")), chunk_id=meta["chunk_id"],
        article_id=meta["article_id"], title=meta.get("title", ""), source=meta.get("source", ""),
        author=meta.get("author", ""), published=meta.get("published", ""), url=meta.get("url", ""), quote=quote,
        start=start, end=end, page=page_at(meta.get("page_starts", ""), start),
        score=round(max(0.0, min(1.0, score)), 4),
    )  # fmt: skip


def page_at(page_starts: str, offset: int) -> int | None:
    """The page (1-based) that ``offset`` of a paged article's text lies on, from its ``Article.page_starts``
    (where each page starts, comma-separated); None for an article without pages, or a malformed value.

    >>> page_at("0,120,120,400", 10), page_at("0,120,120,400", 130), page_at("0,120,120,400", 400), page_at("", 5)
    (1, 3, 4, None)
    """
    starts = _page_starts(page_starts)
    return bisect_right(starts, offset) if starts and offset >= 0 else None


@lru_cache(maxsize=256)
def _page_starts(page_starts: str) -> tuple[int, ...]:
    """The offsets of ``page_starts``, parsed once per article (every chunk of it carries the same string)."""
    try:
        return tuple(int(n) for n in page_starts.split(",")) if page_starts else ()
    except ValueError:
        return ()


class ShortAnswer(BaseModel):
    """The answer itself, a few words inside the first cited quote: ``article_text[start:end] == text``."""

    text: str
    article_id: str
    start: int
    end: int
    marker: int = Field(1, description="The citation whose quote contains it.")
    score: float = Field(0.0, description="The reader's confidence that this is a right answer (0-1).")


class Passage(QuotedSpan):
    """A span with the text around it: what `lookup` and `find` return."""

    before: str = Field("", description="Up to a few hundred characters before the quote.")
    after: str = Field("", description="Up to a few hundred characters after the quote.")
    changed: bool = Field(
        False, description="The citation names an earlier version of the article: this is what its offsets hold now."
    )


class AnswerSentence(BaseModel):
    """One sentence of an answer and whether its citations support it (checked after generation)."""

    text: str = Field(description="The sentence without its markers.")
    supported: bool
    markers: list[int] = Field(default_factory=list, description="Citations that support it.")
    reason: str = Field("", description="Why it was dropped, when it was.")


class Answer(BaseModel):
    """An answer: text with inline markers [n] and the citations behind them, or an abstention."""

    question: str = Field(description="The question as asked.")
    standalone_question: str = Field("", description="What was searched: the question with follow-up context.")
    text: str
    abstained: bool = False
    short_answer: ShortAnswer | None = Field(None, description="The answer span inside the first quote (extractive).")
    confidence: float | None = Field(
        None,
        description="The probability that the answer is right: the answer decision's calibrated estimate "
        "(qa/models/decision/MODEL.md); for another reader, from its margin over 'no answer'.",
    )
    verdict: Literal["yes", "no"] | None = Field(
        None,
        description="A yes/no question's verdict when the cited evidence settles it (the text starts with "
        "'Yes.' or 'No.'); None when the articles do not settle it, or for other questions.",
    )
    citations: list[Citation] = Field(default_factory=list)
    related: list[Citation] = Field(
        default_factory=list, description="On abstention: the closest passages, related but not an answer."
    )
    mode: str = "extractive"
    kind: str = Field("", description="The kind of question (fact, why, yes_no, mention, overview, summary).")
    sentences: list[AnswerSentence] = Field(
        default_factory=list, description="Generative mode: every generated sentence, supported or dropped."
    )
    notice: str = Field("", description="A problem met on the way (e.g. the chat model was down), shown to the user.")
    timings: dict[str, float] = Field(default_factory=dict, description="Milliseconds per stage.")
