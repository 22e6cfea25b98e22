"""PDF and Word (.docx) articles: the text in reading order, the metadata of the file, and, for a PDF, where
each page starts in the article's text (``Article.page_starts``), so a quote can name its page.

PDFs are read with pypdf: on generated test files it was 20 times faster than pdfplumber (0.11 s against 2.3 s
for 40 pages) and kept two columns apart, where pdfplumber's default reading interleaves their lines. A PDF has
no paragraphs, only lines at positions: lines join into a paragraph unless a wider vertical gap, a jump back up
(a new column) or a short line ends it; a word hyphenated at a line's end is joined ("interna-" "tional" is
"international"), and lines repeated at the top or bottom of most pages (running headers, page numbers) are
dropped. Word files are read with python-docx: body paragraphs and table rows in document order (headers and
footers are not part of the body). Both then go through the cleaning every article gets
(``qa.articles.article_from_body``): one paragraph a line, boilerplate lines dropped.

Bad files raise ``InputError`` with one line saying why (``load_file`` makes it a ``Skipped``): encrypted, damaged,
no pages, no text layer (a scan), not a Word file. The cost of a file is bounded: ``MAX_FILE_BYTES`` on disk,
``MAX_PDF_PAGES`` pages, ``MAX_DOCUMENT_CHARS`` characters and ``MAX_DOCX_XML_BYTES`` of unpacked XML.
"""

from __future__ import annotations

import logging
import re
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path

from qa.articles import Article, article_from_body, is_boilerplate, normalise_date, one_line
from qa.errors import InputError
from qa.files import check_regular_file

MAX_PDF_PAGES = 500  # pages read from one PDF; the rest are left out with a warning (page_starts stays small)
MAX_DOCUMENT_CHARS = 2_000_000  # characters read from one PDF or Word file (about 600 pages of a report)
MAX_DOCX_XML_BYTES = 64 * 2**20  # unpacked XML of one .docx: a zip bomb is refused before it is parsed
_PARAGRAPH_GAP = 1.4  # a vertical gap this many times the page's usual line spacing ends a paragraph
_SHORT_LINE = 0.7  # a line shorter than this share of the page's long lines ends its paragraph (or is a heading)
# Characters a PDF's text may carry that an article's line may not: controls (not tab), line and page separators.
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_SENTENCE_END = re.compile(r"[.!?:;\"”’)\]]$")
# Metadata that names the tool or the template, not the article: "Microsoft Word - report.docx", python-docx's
# own template (every file it makes without setting them says "python-docx", created 2013-12-23 23:15).
_TOOL_TITLE = re.compile(r"^(?:microsoft \w+ - .*|untitled.*|.*\.(?:docx?|pdf|indd|odt|rtf|txt))$", re.IGNORECASE)
_TEMPLATE_AUTHORS = {"python-docx"}
_TEMPLATE_CREATED = datetime(2013, 12, 23, 23, 15).isoformat()
log = logging.getLogger("qa")
# pypdf logs each repair it makes while reading a damaged file ("incorrect startxref pointer"); they are not the
# user's to act on, and a file it cannot read gets its own one-line reason.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def document_to_article(path: Path, article_id: str) -> Article:
    """The article of a .pdf or .docx file, or an InputError saying in one line why it cannot be used."""
    check_regular_file(path)
    if path.stat().st_size == 0:
        raise InputError("empty file")
    if path.suffix.lower() == ".pdf":
        return pdf_to_article(path, article_id)
    return docx_to_article(path, article_id)


# --- PDF ----------------------------------------------------------------------------------------------


@dataclass
class _Line:
    text: str
    y: float | None  # the baseline's height on the page (PDF units, up is more); None when unknown
    size: float = 0.0  # the font size it is drawn in (PDF units); 0 when unknown


def pdf_to_article(path: Path, article_id: str) -> Article:
    """A PDF's text, page by page in reading order, with its title, author and date from the file's metadata."""
    from pypdf import PdfReader

    reader = _guarded(lambda: PdfReader(path))
    if reader.is_encrypted and not _guarded(lambda: reader.decrypt("")):  # many "encrypted" PDFs open with ""
        raise InputError("is encrypted and needs a password; save a copy without a password and index that")
    count = _guarded(lambda: len(reader.pages))
    if count == 0:
        raise InputError("has no pages")
    pages = _read_pages(reader, min(count, MAX_PDF_PAGES), path)
    if count > MAX_PDF_PAGES:
        log.warning("%s: has %s pages; indexed the first %s", one_line(str(path)), f"{count:,}", MAX_PDF_PAGES)
    if not any(line.text for page in pages for line in page):
        raise InputError("has no text layer (a scan?); run OCR first")
    text, starts = assemble_pages(drop_running_lines(pages))
    if not text:
        raise InputError("no article text")
    meta = _guarded(lambda: _pdf_metadata(reader))
    article = article_from_body(text, article_id=article_id, origin=str(path), **meta)
    return article.model_copy(update={"page_starts": ",".join(map(str, starts))})


def _guarded(read):
    """``read()``, with the ways pypdf fails on a damaged or hostile file turned into one InputError."""
    from pypdf.errors import DependencyError, PyPdfError

    try:
        return read()
    except DependencyError as exc:  # an encryption that needs a package pypdf could not import
        raise InputError(f"is encrypted in a way that cannot be read here ({_one_line(exc)})") from None
    # pypdf raises its own errors for damage it recognises, and Python's own where a malformed object breaks an
    # assumption of its parser (py-pdf/pypdf issues 583: KeyError from fuzzed input; 1091, 2290: IndexError in
    # extract_text); either way the file is damaged, one line for the user, never a traceback.
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, AssertionError,
            RecursionError, OverflowError, NotImplementedError, zlib.error) as exc:  # fmt: skip
        raise InputError(f"is damaged or not a PDF ({_one_line(exc) or exc.__class__.__name__})") from None


def _one_line(exc: BaseException, limit: int = 100) -> str:
    message = " ".join(str(exc).split())
    return message if len(message) <= limit else message[:limit] + "..."


def _read_pages(reader, count: int, path: Path) -> list[list[_Line]]:
    """The lines of the first ``count`` pages; a page that cannot be read is left empty (the others are kept)."""
    pages, damaged, chars = [], [], 0
    for number in range(count):
        try:
            lines = _guarded(lambda page=number: page_lines(reader.pages[page]))
        except InputError:
            lines = []
            damaged.append(number + 1)
        pages.append(lines)
        chars += sum(len(line.text) for line in lines)
        if chars > MAX_DOCUMENT_CHARS:
            log.warning("%s: more than %s characters; indexed the first %s pages", one_line(str(path)),
                        f"{MAX_DOCUMENT_CHARS:,}", number + 1)  # fmt: skip
            break
    if damaged and len(damaged) == len(pages):
        raise InputError("is damaged: no page could be read")
    if damaged:
        log.warning("%s: page %s could not be read (damaged); indexed the others", one_line(str(path)),
                    ", ".join(map(str, damaged)))  # fmt: skip
    return pages


def page_lines(page) -> list[_Line]:
    """A page's lines as pypdf reads them (in the order of its content), each with the height it is drawn at."""
    pieces: list[tuple[str, float | None, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if not text.strip():  # pypdf's newline and space pieces carry no place
            pieces.append((text, None, 0.0))
            return
        # the text matrix times the transformation matrix places and scales the text
        a, b = tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3]
        c, d = tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3]
        pieces.append((text, tm[4] * cm[1] + tm[5] * cm[3] + cm[5], size * abs(a * d - b * c) ** 0.5))

    page.extract_text(visitor_text=visit)
    lines, current = [], _Line("", None)
    for text, y, size in pieces:
        for n, part in enumerate(text.split("\n")):
            if n:
                lines.append(current)
                current = _Line("", None)
            current.text += part
            if current.y is None and part.strip():
                current.y, current.size = y, size
    lines.append(current)
    return [_Line(" ".join(_CONTROLS.sub(" ", line.text).split()), line.y, line.size) for line in lines]


def drop_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    """The pages without their running headers and footers: a line among the first or last two of a page that
    (its numbers aside) recurs so on at least a fifth of the pages (a chapter's running head), and on three or
    more."""
    pages = [[line for line in page if line.text] for page in pages]
    seen: dict[str, int] = {}
    for page in pages:
        for key in {_running_key(line.text) for line in page[:2] + page[-2:]}:
            seen[key] = seen.get(key, 0) + 1
    running = {key for key, n in seen.items() if n >= 3 and n * 5 >= len(pages)}
    if not running:
        return pages
    kept = []
    for page in pages:
        edge = {id(line) for line in page[:2] + page[-2:] if _running_key(line.text) in running}
        kept.append([line for line in page if id(line) not in edge])
    return kept


def _running_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower())


def line_spacing(lines: list[_Line]) -> float | None:
    """The spacing of lines inside paragraphs: a low quantile of the vertical gaps between lines, as the gaps
    between short paragraphs may outnumber those inside them; None without two lines one above the other."""
    gaps = sorted(a.y - b.y for a, b in pairwise(lines) if a.y is not None and b.y is not None and a.y > b.y)
    return gaps[len(gaps) // 4] if gaps else None


def page_paragraphs(lines: list[_Line], usual_spacing: float | None = None) -> list[str]:
    """A page's lines joined into paragraphs (see the module's docstring for where one ends). A page of few
    lines tells little of its line spacing: then the document's ``usual_spacing`` is used."""
    if not lines:
        return []
    spacing = line_spacing(lines) if len(lines) > 4 else None
    spacing = spacing or usual_spacing or line_spacing(lines)
    lengths = sorted(len(line.text) for line in lines)
    long_line = lengths[int(0.9 * (len(lengths) - 1))]
    paragraphs = [lines[0].text]
    for before, line in pairwise(lines):
        if _ends_paragraph(before, line, spacing, long_line):
            paragraphs.append(line.text)
        else:
            paragraphs[-1] = join_lines(paragraphs[-1], line.text)
    return paragraphs


def _ends_paragraph(line: _Line, after: _Line, spacing: float | None, long_line: int) -> bool:
    if len(line.text) < _SHORT_LINE * long_line and not line.text.endswith("-"):
        return True  # the line stops short: a paragraph's last line, or a heading
    if line.size and after.size and max(line.size, after.size) > 1.15 * min(line.size, after.size):
        return True  # another font size: a heading
    if spacing is None or line.y is None or after.y is None:
        return False
    return after.y >= line.y or line.y - after.y > _PARAGRAPH_GAP * spacing  # a new column or box; a wider gap


def join_lines(text: str, line: str) -> str:
    """``text`` and the next line of its paragraph: a word hyphenated at the line's end is joined without its
    hyphen when the line goes on in lower case ("interna-" + "tional"); otherwise one space between them.

    >>> join_lines("an interna-", "tional event"), join_lines("the Asia-", "Pacific region")
    ('an international event', 'the Asia-Pacific region')
    """
    if re.search(r"[^\W\d_]-$", text) and line[:1].islower():
        return text[:-1] + line
    if text.endswith("-") and line[:1].isupper():
        return text + line  # a compound broken at its hyphen: "Asia-" "Pacific"
    return f"{text} {line}"


def assemble_pages(pages: list[list[_Line]]) -> tuple[str, list[int]]:
    """The article text (one paragraph a line, boilerplate lines dropped as ``clean_text`` drops them) and the
    offset where each page starts in it. A paragraph that runs on over a page break is joined; a page without
    text starts where the next one does, so no offset is ever said to be on it."""
    lines: list[str] = []  # the article's lines so far; ``length`` is that of "\n".join(lines)
    length, starts = 0, []
    spacing = line_spacing([line for page in pages for line in page])
    for page in pages:
        paragraphs = [p for p in page_paragraphs(page, spacing) if not is_boilerplate(p)]
        if not paragraphs:
            starts.append(-1)  # filled in below
            continue
        first = paragraphs[0]
        runs_on = lines and not _SENTENCE_END.search(lines[-1]) and first[:1].islower()
        joined = join_lines(lines[-1], first) if runs_on else ""
        if joined and not is_boilerplate(joined):  # every line stays one that clean_text keeps
            length += len(joined) - len(lines[-1])
            lines[-1] = joined
        else:
            length += len(first) + (1 if lines else 0)
            lines.append(first)
        starts.append(length - len(first))
        for paragraph in paragraphs[1:]:
            lines.append(paragraph)
            length += len(paragraph) + 1
    text = "\n".join(lines)
    following = len(text)
    for n in range(len(starts) - 1, -1, -1):
        following = starts[n] = following if starts[n] < 0 else starts[n]
    return text, starts


def _pdf_metadata(reader) -> dict[str, str]:
    """Title, author and date from the PDF's document information, where present and not a tool's default."""
    info = reader.metadata
    if info is None:
        return {}
    title, author = (" ".join(str(value or "").split()) for value in (info.title, info.author))
    try:
        created = info.creation_date
    except ValueError:  # a date not in the PDF format ("D:2024..."): no date rather than no article
        created = None
    return {"title": "" if _TOOL_TITLE.match(title) else title, "author": author, "published": normalise_date(created)}


# --- Word -----------------------------------------------------------------------------------------------


def docx_to_article(path: Path, article_id: str) -> Article:
    """A Word file's body paragraphs and table rows in document order, with its title, author and creation date."""
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    _check_docx_archive(path)
    try:
        document = _open_docx(path)
        paragraphs = docx_paragraphs(document)
        meta = _docx_metadata(document.core_properties)
    except KeyError as exc:  # python-docx names the part (or the relationship) that the archive lacks
        part = re.search(r"'([^']+)'", str(exc))
        missing = part[1].rsplit("/", 1)[-1] if part else "its main part"
        raise InputError(f"is not a Word .docx file (the archive has no {missing})") from None
    except PackageNotFoundError:
        raise InputError("is not a Word .docx file (no Office package in the archive)") from None
    except XMLSyntaxError as exc:
        raise InputError(f"is a damaged .docx file (broken XML: {_one_line(exc, 60)})") from None
    text = "\n".join(paragraphs)
    if not text.strip():
        raise InputError("no article text")
    return article_from_body(text, article_id=article_id, origin=str(path), **meta)


def _check_docx_archive(path: Path) -> None:
    """Refuse what is no zip archive, and an archive whose XML would unpack to more than ``MAX_DOCX_XML_BYTES``
    (the sizes are those the archive declares; zipfile never unpacks a member past its declared size)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise InputError("is not a Word .docx file (not a zip archive; an old .doc must be saved as .docx)") from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc.__class__.__name__})") from None
    xml = sum(m.file_size for m in members if m.filename.endswith((".xml", ".rels")))
    if xml > MAX_DOCX_XML_BYTES:
        raise InputError(f"unpacks to {xml / 2**20:,.0f} MiB of XML (at most {MAX_DOCX_XML_BYTES // 2**20} MiB)")


def _open_docx(path: Path):
    import docx

    try:
        return docx.Document(str(path))
    except ValueError as exc:  # "... is not a Word file, content type is ...": a spreadsheet or slides
        kind = re.search(r"content type is '([^']*)'", str(exc))
        raise InputError(f"is not a Word .docx file (its content is {kind[1] if kind else 'something else'})") from None
    except zipfile.BadZipFile as exc:  # a member whose data does not match its header
        raise InputError(f"is a damaged .docx file ({_one_line(exc, 60)})") from None


def docx_paragraphs(document) -> list[str]:
    """The body's paragraphs and table rows (cells joined by " | ") in order, one line each, up to
    ``MAX_DOCUMENT_CHARS`` characters. A line break inside a paragraph is a space: the paragraph is the line."""
    from docx.table import Table

    lines, chars = [], 0
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            found = [_table_row(row) for row in block.rows]
        else:
            found = [block.text]
        for line in (" ".join(_CONTROLS.sub(" ", f).split()) for f in found):
            if line:
                lines.append(line)
                chars += len(line)
        if chars > MAX_DOCUMENT_CHARS:
            log.warning("%s characters read from a Word file; the rest is left out", f"{MAX_DOCUMENT_CHARS:,}")
            break
    return lines


def _table_row(row) -> str:
    cells = []
    for cell in row.cells:  # a merged cell is listed once for every column it spans
        if not cells or cell._tc is not cells[-1][0]:
            cells.append((cell._tc, cell.text))
    return " | ".join(text for _, text in cells if text.strip())


def _docx_metadata(properties) -> dict[str, str]:
    title = " ".join((properties.title or "").split())
    author = " ".join((properties.author or "").split())
    created = properties.created
    stamp = created.replace(tzinfo=None).isoformat() if isinstance(created, datetime) else ""
    return {
        "title": "" if _TOOL_TITLE.match(title) else title,
        "author": "" if author in _TEMPLATE_AUTHORS else author,
        "published": "" if stamp == _TEMPLATE_CREATED else normalise_date(created),
    }
