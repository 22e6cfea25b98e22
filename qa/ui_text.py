"""Text helpers of the chat page (ui/app.py), kept free of Streamlit so they can be tested on their own.

Everything from an article, a user or an upload goes through these before it reaches the page, a download
or the disk: ``plain`` shows text exactly as written (no Markdown, links, images, HTML or entities, and no
bidirectional controls that reorder what is shown); ``safe_upload_name`` makes any upload name a usable file name.

>>> plain("<b>&lt;b&gt;</b> [x](javascript:alert(1))")
'\\\\<b\\\\>\\\\&lt;b\\\\&gt;\\\\</b\\\\> \\\\[x\\\\]\\\\(javascript\\\\:alert\\\\(1\\\\)\\\\)'
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from qa.citations import Answer, Citation, QuotedSpan

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$=^&])")
# Bidirectional embeddings, overrides, isolates and marks: they reorder what is shown ("Trojan Source").
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# In a file name: path separators, control characters (C0, DEL, C1), line separators and the bidi controls.
_BAD_NAME_CHARS = re.compile("[/\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
MAX_UPLOAD_STEM_BYTES = 120  # file systems take 255 bytes a name; the stem is also the article id
MAX_SUFFIX_CHARS = 10


def plain(text: str) -> str:
    """Escape Markdown (and so links, images, HTML and entities) so text from articles shows exactly as written;
    bidirectional controls are dropped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", _BIDI.sub("", text)).replace("\n", "  \n")


def conversation_markdown(messages: Iterable[dict], title: str = "") -> str:
    """The conversation as a Markdown document ("Download conversation"): its title, each question, what was
    searched where that differs from the question, the answer and every citation behind it (marker, quote,
    article title, publisher, author, date, page, URL and citation id), and on abstention the closest passages.
    Everything from an article or a user is escaped with ``plain``, so nothing renders as a link, image or HTML."""
    lines = [f"# {plain(title) if title.strip() else 'article-qa conversation'}", ""]
    for m in messages:
        if m["role"] == "user":
            lines += [f"**You:** {plain(m['content'])}", ""]
            continue
        answer = Answer.model_validate(m["answer"])
        if answer.standalone_question and answer.standalone_question != answer.question:
            lines += [f"*Searched:* {plain(answer.standalone_question)}", ""]
        if answer.notice:
            lines += [f"*Note:* {plain(answer.notice)}", ""]
        lines += [f"**article-qa:** {plain(answer.text)}", ""]
        if answer.short_answer and not answer.abstained:
            lines += [f"*Short answer:* {plain(answer.short_answer.text)}", ""]
        for heading, citations in (("Sources", answer.citations), ("Closest passages (not an answer)", answer.related)):
            if citations:
                lines += [f"{heading}:", ""] + [line for c in citations for line in _citation_markdown(c)]
    return "\n".join(lines)


def _citation_markdown(c: Citation) -> list[str]:
    """One citation as a list item: "[n] quote", then where it is from, each on a line of its own."""
    label = " \\(photo caption\\)" if c.caption else ""
    where = ", ".join(plain(x) for x in [c.title or c.article_id, *c.byline] if x)
    if c.page is not None:
        where += f", page {c.page}"
    lines = [f'- \\[{c.marker}\\] "{plain(c.quote)}"{label}  ', f"  {where}  "]
    if c.url:
        lines.append(f"  {plain(c.url)}  ")
    return lines + [f"  citation id: {plain(c.id)}", ""]


def safe_upload_name(name: str) -> str:
    """A file name for an upload: its last path part, without control or bidirectional characters, its stem cut
    to fit any file system (the suffix kept). A name that had to change gets a short hash of the whole name,
    so two uploads never share a file (and an article id) by accident.

    >>> safe_upload_name("ferry.md"), safe_upload_name("../../etc/passwd.txt"), safe_upload_name("a\\nb.md")
    ('ferry.md', 'passwd.txt', 'a_b-c5e7efd4.md')
    """
    base = re.split(r"[/\\]", name)[-1]
    path = Path(base) if base not in ("", ".", "..") else Path("upload")
    stem, suffix = (path.stem, path.suffix) if len(path.suffix) <= MAX_SUFFIX_CHARS else (path.name, "")
    suffix = _BAD_NAME_CHARS.sub("", suffix)
    clean = _BAD_NAME_CHARS.sub("_", stem).strip() or "upload"
    cut = clean.encode("utf-8", "surrogatepass")[:MAX_UPLOAD_STEM_BYTES].decode("utf-8", "ignore")
    if cut == stem:
        return f"{stem}{suffix}"
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{cut}-{digest}{suffix}"


class Upload(Protocol):
    name: str

    def getvalue(self) -> bytes: ...


def save_uploads(folder: Path, files: Iterable[Upload]) -> list[Path]:
    """Keep the uploaded files in ``folder`` under safe names: the same name again is the same article, updated."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in files:
        path = folder / safe_upload_name(f.name)
        path.write_bytes(f.getvalue())
        paths.append(path)
    return paths


# --- answers and sources written for readers (ui/answer_view.py) --------------------------------------------

CONTEXT_CHARS = 160  # of context either side of a quote in a source card: a line or two, not a paragraph
ELLIPSIS = "…"


@dataclass
class ArticleSources:
    """The quotes an answer takes from one article: what one source card shows."""

    article_id: str
    title: str
    byline: list[str]
    quotes: list[QuotedSpan] = field(default_factory=list)


def sources_by_article(quotes: Iterable[QuotedSpan]) -> list[ArticleSources]:
    """The quotes grouped by article, articles in the order of their first quote, quotes in answer order.

    >>> from qa.citations import QuotedSpan as Q
    >>> q = lambda a, s: Q(id=f"{a}:{s}-{s + 1}", article_id=a, title=a.upper(), quote="x", start=s, end=s + 1)
    >>> [(g.title, [x.start for x in g.quotes]) for g in sources_by_article([q("a", 5), q("b", 1), q("a", 2)])]
    [('A', [5, 2]), ('B', [1])]
    """
    groups: dict[str, ArticleSources] = {}
    for quote in quotes:
        group = groups.setdefault(quote.article_id, ArticleSources(quote.article_id, quote.title, quote.byline))
        group.quotes.append(quote)
    return list(groups.values())


def context_before(text: str, start: int, limit: int = CONTEXT_CHARS) -> str:
    """Up to ``limit`` characters of ``text`` before ``start``, within its paragraph and starting at a whole
    word; "…" marks a cut, never the start of the article or of a paragraph.

    >>> context_before("The agency reports that the rocket fell.", 28, limit=16)
    '…that the '
    >>> context_before("Rocket news.\\nIt fell.", 16)
    'It '
    """
    window_start = max(0, start - limit, text.rfind("\n", 0, start) + 1)
    window = text[window_start:start]
    if window_start == 0 or text[window_start - 1] == "\n":
        return window
    if not text[window_start - 1].isspace():  # the window starts inside a word: drop that part of it
        space = re.search(r"\s", window)
        window = window[space.end() :] if space else ""
    return ELLIPSIS + window.lstrip()


def context_after(text: str, end: int, limit: int = CONTEXT_CHARS) -> str:
    """Up to ``limit`` characters of ``text`` after ``end``, within its paragraph and ending at a whole word;
    "…" marks a cut, never the end of the article or of a paragraph.

    >>> context_after("The rocket fell. The agency reports that it broke up.", 16, limit=20)
    ' The agency reports…'
    >>> context_after("It fell. Then\\nmore.", 8)
    ' Then'
    """
    newline = text.find("\n", end)
    paragraph_end = len(text) if newline < 0 else newline
    window_end = min(paragraph_end, end + limit)
    window = text[end:window_end]
    if window_end == paragraph_end:
        return window
    if not text[window_end].isspace():  # the window ends inside a word: drop that part of it
        window = re.sub(r"\S*$", "", window)
    window = window.rstrip()
    return window + ELLIPSIS if window else ""


def quote_labels(quote: QuotedSpan) -> list[str]:
    """What a reader needs to know about where a quote sits: its PDF page, and that it is a photo caption."""
    labels = [f"Page {quote.page}"] if quote.page else []
    return labels + (["Photo caption"] if getattr(quote, "caption", False) else [])


def quote_markdown(quote: QuotedSpan, article_text: str, limit: int = CONTEXT_CHARS) -> str:
    """One quote of a source card: its [n] marker, its labels ("Photo caption:"), the quote in full and a little
    context in gray either side. Colored text has no padding, so nothing detaches from its punctuation."""
    marker = f"\\[{quote.marker}\\] " if isinstance(quote, Citation) else ""
    labels = " · ".join(quote_labels(quote))
    before = context_before(article_text, quote.start, limit)
    after = context_after(article_text, quote.end, limit)
    return marker + (f"**{labels}:** " if labels else "") + _gray(before) + plain(quote.quote) + _gray(after)


def _gray(text: str) -> str:
    """Text in gray, the spaces at its ends outside the directive: Markdown drops them inside it, which glued
    the context to the quote ("observer."The President)."""
    if not text.strip():
        return text
    core = text.strip()
    at = text.index(core)
    return f"{text[:at]}:gray[{plain(core)}]{text[at + len(core) :]}"


def answer_lead(answer: Answer) -> str:
    """The line an answer opens with, in plain text: a yes/no verdict, else the short answer; "" when neither."""
    if answer.abstained:
        return ""
    if answer.verdict:
        return f"{answer.verdict.capitalize()}."
    if answer.short_answer and answer.mode == "extractive" and answer.citations:
        return answer.short_answer.text
    return ""


def answer_body(answer: Answer) -> str:
    """The answer's text as Markdown under its lead: without the verdict the lead already says, without the
    caption labels (the source card labels a caption inside its citation), the short answer highlighted."""
    text = answer.text
    if answer.verdict and text.startswith(answer_lead(answer)):
        text = text[len(answer_lead(answer)) :].lstrip()
    text = _without_caption_labels(text, answer.citations)
    short = answer.short_answer
    first = answer.citations[0] if answer.citations else None
    at = text.find(first.quote) if first and short and answer.mode == "extractive" else -1
    if at < 0 or not first.start <= short.start < short.end <= first.end:
        return plain(text)
    a, b = at + short.start - first.start, at + short.end - first.start
    # Bold, colored text: no background and so no padding to detach the highlight from its punctuation.
    return f"{plain(text[:a])}:green[**{plain(text[a:b])}**]{plain(text[b:])}"


def _without_caption_labels(text: str, citations: Iterable[Citation]) -> str:
    from qa.answering import CAPTION_LABEL  # imported here: qa.answering loads the reader's dependencies

    for c in citations:
        if c.caption:
            text = text.replace(f"[{c.marker}] {CAPTION_LABEL}", f"[{c.marker}]")
    return text


def confidence_text(answer: Answer) -> str:
    """ "Confidence 70%", or "" where the answer has no calibrated confidence."""
    return f"Confidence {answer.confidence:.0%}" if answer.confidence is not None and not answer.abstained else ""


def marked_article_html(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """The article as escaped HTML with each span in a <mark>; the first span's mark has id "cited" (the
    dialog scrolls to it). Spans that overlap one marked before them are left out.

    >>> marked_article_html("a <b> c d", [(6, 7), (2, 5)])
    'a <mark class="quote">&lt;b&gt;</mark> <mark id="cited" class="quote">c</mark> d'
    """
    spans = list(spans)
    chosen: list[tuple[int, int, bool]] = []
    for n, (start, end) in enumerate(spans):
        if 0 <= start < end <= len(text) and not any(s < end and start < e for s, e, _ in chosen):
            chosen.append((start, end, n == 0))
    parts, at = [], 0
    for start, end, first in sorted(chosen):
        mark_id = ' id="cited"' if first else ""
        parts += [html.escape(text[at:start]), f'<mark{mark_id} class="quote">{html.escape(text[start:end])}</mark>']
        at = end
    return "".join(parts) + html.escape(text[at:])
