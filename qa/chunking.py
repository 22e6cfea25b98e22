"""Sentence-aware chunking with overlap (sentences from qa.text.sentences); every span is an offset pair into
the article.

>>> from qa.articles import Article
>>> art = Article(id="a", text="Mr. Kishida went to Vilnius. He met Stoltenberg. They shook hands.")
>>> [c.text for c in chunk_article(art, size=50, overlap=20)]
['Mr. Kishida went to Vilnius. He met Stoltenberg.', 'He met Stoltenberg. They shook hands.']
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, Field

from qa.articles import Article
from qa.text.sentences import split_sentences


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
