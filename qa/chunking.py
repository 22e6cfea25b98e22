"""Sentence splitting and sentence-aware chunking with overlap; every span is an offset pair into the article.

>>> from qa.articles import Article
>>> art = Article(id="a", text="Mr. Kishida went to Vilnius. He met Stoltenberg. They shook hands.")
>>> [c.text for c in chunk_article(art, size=40, overlap=20)]
['Mr. Kishida went to Vilnius.', 'Mr. Kishida went to Vilnius. He met Stoltenberg.', 'He met Stoltenberg. They shook hands.']
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, Field

from qa.articles import Article

# Words whose trailing period does not end a sentence. A regex splitter (rather than pysbd or a
# tokenizer model) keeps offsets exact and splits 50k-chunk corpora in seconds.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt", "cmdr", "adm",
    "gov", "sen", "rep", "pres", "rev", "hon", "no", "nos", "vs", "etc", "inc", "ltd", "co", "corp", "dept",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "est", "fig",
    "e.g", "i.e", "u.s", "u.k", "u.n", "a.m", "p.m", "ph.d",
}  # fmt: skip
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n+")
_LAST_WORD = re.compile(r"(\S+?)[.!?…]*[\"'”’)\]]*$")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text`` (shifted by ``offset``), trimmed of surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group().startswith("\n"):
            end = m.start()
        else:
            word = _LAST_WORD.search(text, max(start, m.start() - 30), m.end())
            token = word.group(1).lower().lstrip("\"'“‘(") if word else ""
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue
            end = m.end()
        _append_trimmed(spans, text, start, end, offset)
        start = m.end()
    _append_trimmed(spans, text, start, len(text), offset)
    return spans


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
    """The sentences chunks are built from: split_sentences, with over-long ones cut to at most ``size``."""
    return [p for s, e in split_sentences(text) for p in _hard_split(s, e, size, text)]


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
