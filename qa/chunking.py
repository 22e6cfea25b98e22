"""Sentence splitting and sentence-aware chunking with overlap; every span is an offset pair into the article.

>>> from qa.articles import Article
>>> art = Article(id="a", text="Mr. Kishida went to Vilnius. He met Stoltenberg. They shook hands.")
>>> [c.text for c in chunk_article(art, size=50, overlap=20)]
['Mr. Kishida went to Vilnius. He met Stoltenberg.', 'He met Stoltenberg. They shook hands.']
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, Field

from qa.articles import Article

# Words whose trailing period does not end a sentence. A regex splitter keeps offsets exact and splits 50k-chunk
# corpora in seconds; spaCy's sentencizer (17x slower) and blingfire split inside quotations too, and pysbd, which
# keeps them whole, is 66x slower (issue 31: 600 bench articles and the seeds in 52 ms here, 0.86 s, 0.13 s and 3.4 s).
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt", "cmdr", "adm",
    "gov", "sen", "rep", "pres", "rev", "hon", "no", "nos", "vs", "etc", "inc", "ltd", "co", "corp", "dept",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "est", "fig",
    "e.g", "i.e", "u.s", "u.k", "u.n", "a.m", "p.m", "ph.d",
}  # fmt: skip
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n+")
_LAST_WORD = re.compile(r"(\S+?)[.!?…]*[\"'”’)\]]*$")
# Double quotation marks and paragraph ends. Apostrophes (' ’) are no quotation marks: "Japan's", "don't".
_QUOTE_MARK = re.compile(r'["“”\n]')
_OPENS_AFTER = "([{—–-"  # a straight mark after one of these (or a space, or the start) may open a quotation
# A quotation longer than this keeps its sentence boundaries: it is a speech, not a quote.
_LONGEST_QUOTATION = 700


def split_sentences(text: str, offset: int = 0, quotations: bool = True) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text`` (shifted by ``offset``), trimmed of surrounding whitespace.

    A quotation is kept whole (``quotations``): a sentence never starts inside one nor ends before it closes, in a
    paragraph (line) whose double quotation marks pair up; elsewhere the sentence ends inside quotations stand.

    >>> t = 'He said: "We value Japan. It is our closest partner." Then he left.'
    >>> [t[s:e] for s, e in split_sentences(t)]
    ['He said: "We value Japan. It is our closest partner."', 'Then he left.']
    """
    spans: list[tuple[int, int]] = []
    quoted = _quotations(text) if quotations else []
    q = 0
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group().startswith("\n"):
            end = m.start()
        else:
            end = m.end()
            while q < len(quoted) and quoted[q][1] < end:
                q += 1
            if q < len(quoted) and quoted[q][0] < end:
                continue  # inside a quotation, which closes at or after ``end``
            word = _LAST_WORD.search(text, max(start, m.start() - 30), m.end())
            token = word.group(1).lower().lstrip("\"'“‘(") if word else ""
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue
        _append_trimmed(spans, text, start, end, offset)
        start = m.end()
    _append_trimmed(spans, text, start, len(text), offset)
    return spans


def _quotations(text: str) -> list[tuple[int, int]]:
    """Positions ``(open, close)`` of the marks of the outermost quotations, in order, of the paragraphs whose double
    quotation marks all pair up (curly ones by their shape, straight ones by context: one that opens follows a space,
    the start or a bracket and precedes a non-space; one that closes follows a non-space)."""
    if '"' not in text and "“" not in text and "”" not in text:
        return []
    found: list[tuple[int, int]] = []
    paragraph: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []  # the open quotations: kind ('"' or '“') and position
    paired = True
    last = len(text) - 1
    for m in _QUOTE_MARK.finditer(text):
        i = m.start()
        mark = text[i]
        if mark == "\n":
            if paired and not stack:
                found += paragraph
            paragraph, stack, paired = [], [], True
            continue
        if not paired:
            continue
        if mark == '"':
            before = text[i - 1] if i else " "
            after = text[i + 1] if i < last else " "
            may_open = (before.isspace() or before in _OPENS_AFTER) and not after.isspace()
            may_close = not before.isspace() and before not in "([{"
            in_straight = bool(stack) and stack[-1][0] == '"'
            if not (may_open or may_close) or (may_open and not may_close and in_straight):
                paired = False  # a stray mark, or a straight quotation inside a straight one
                continue
            opens = may_open and not (may_close and in_straight)
        else:
            opens = mark == "“"
        kind = "“" if mark == "”" else mark
        if opens:
            stack.append((kind, i))
        elif stack and stack[-1][0] == kind:
            o = stack.pop()[1]
            if not stack and i - o <= _LONGEST_QUOTATION:
                paragraph.append((o, i))
        else:
            paired = False
    if paired and not stack:
        found += paragraph
    return found


def _append_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((offset + start + lead, offset + start + lead + len(stripped)))


class Chunk(BaseModel):
    """A passage of whole sentences of one article."""

    id: str = Field(description="Stable: the same article text gives the same ids.")
    article_id: str
    index: int = Field(description="Position of the chunk in its article.")
    start: int = Field(description="Offset of the first character in Article.text.")
    end: int = Field(description="Offset after the last character in Article.text.")
    text: str


def chunk_id(article_id: str, start: int, text: str) -> str:
    digest = hashlib.sha1(f"{article_id}\x00{start}\x00{text}".encode()).hexdigest()[:12]
    return f"{article_id}#{digest}"


def _hard_split(start: int, end: int, size: int, text: str) -> list[tuple[int, int]]:
    """Cut an over-long sentence at whitespace so no span is much longer than ``size``."""
    pieces = []
    while end - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        cut = cut if cut > start else start + size
        pieces.append((start, cut))
        start = cut + 1 if text[cut : cut + 1] == " " else cut
    pieces.append((start, end))
    return pieces


def sentence_spans(text: str, size: int = 700) -> list[tuple[int, int]]:
    """The sentences chunks are built from: split_sentences, with over-long ones cut to at most ``size`` (one that
    holds a quotation first at its sentence ends inside the quotation)."""
    spans = []
    for s, e in split_sentences(text):
        parts = [(s, e)] if e - s <= size else split_sentences(text[s:e], offset=s, quotations=False)
        spans += [p for a, b in parts for p in _hard_split(a, b, size, text)]
    return spans


def chunk_article(
    article: Article, size: int = 700, overlap: int = 150, sentences: list[tuple[int, int]] | None = None
) -> list[Chunk]:
    """Pack whole sentences into chunks of about ``size`` characters, repeating up to ``overlap`` characters."""
    text = article.text
    sentences = sentences if sentences is not None else sentence_spans(text, size)
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j = i + 1
        while j < len(sentences) and sentences[j][1] - sentences[i][0] <= size:
            j += 1
        start, end = sentences[i][0], sentences[j - 1][1]
        body = text[start:end]
        chunks.append(Chunk(id=chunk_id(article.id, start, body), article_id=article.id,
                            index=len(chunks), start=start, end=end, text=body))  # fmt: skip
        if j >= len(sentences):
            break
        # Step back over trailing sentences that fit in the overlap, but always move forward.
        back = j
        while back - 1 > i and end - sentences[back - 1][0] <= overlap:
            back -= 1
        i = back
    return chunks


def without_repeats(chunks: list[Chunk]) -> list[Chunk]:
    """The chunks whose text does not repeat an earlier chunk of the article. An article that repeats a
    sentence thousands of times would otherwise fill every nearest-neighbour result with copies of it."""
    seen: set[str] = set()
    return [c for c in chunks if not (c.text in seen or seen.add(c.text))]
