"""Text helpers of the chat page (ui/app.py), kept free of Streamlit so they can be tested on their own.

Everything from an article, a user or an upload goes through these before it reaches the page, a download
or the disk: ``plain`` shows text exactly as written (no Markdown, links, images, HTML or entities, and no
bidirectional controls that reorder what is shown); ``safe_upload_name`` makes any upload name a usable file name.

>>> plain("<b>&lt;b&gt;</b> [x](javascript:alert(1))")
'\\\\<b\\\\>\\\\&lt;b\\\\&gt;\\\\</b\\\\> \\\\[x\\\\]\\\\(javascript\\\\:alert\\\\(1\\\\)\\\\)'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from qa.citations import Answer, Citation

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
