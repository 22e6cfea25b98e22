"""Retrieved passages as sentences, the quoting of article spans as citations, and the library of whole articles
that answers draw on."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.documents import Document

from qa.articles import caption_spans
from qa.citations import Answer, Citation, citation_for, citation_id
from qa.errors import CitationNotFound

if TYPE_CHECKING:
    from qa.embeddings import Embedder
    from qa.retrieval import Filters
    from qa.search_index import SearchIndex
    from qa.store import ArticleStore
from qa.text.sentences import (
    leans_on_previous,
    split_sentences,
)

ABSTENTION_TEXT = "The articles don't say. None of the indexed passages answers this question well enough to quote."
CAPTION_LABEL = "(photo caption)"


def quoted(c: Citation) -> str:
    """A citation as it appears in an answer's text: the quote, its marker, and a label for a photo caption."""
    return f"{c.quote} [{c.marker}]" + (f" {CAPTION_LABEL}" if c.caption else "")


@dataclass
class PassageSentence:
    """One sentence of a retrieved passage, with offsets into its article."""

    doc: Document
    start: int
    end: int
    text: str


def passage_sentences(doc: Document) -> list[PassageSentence]:
    base = doc.metadata["start"]
    return [PassageSentence(doc, s, e, doc.page_content[s - base : e - base])
            for s, e in split_sentences(doc.page_content, offset=base)]  # fmt: skip


def sentence_vectors(sentences: list[PassageSentence], store: ArticleStore | SearchIndex | None,
                     embedder: Embedder) -> np.ndarray:  # fmt: skip
    """One vector per sentence: the one stored at index time; only sentences the store lacks are embedded now.
    ``store`` is anything with ``sentence_vectors(ids)``: an embedded store's search index (float16 rows read by
    id, without loading Chroma's graph) or the store (a Chroma server's)."""
    ids = [citation_id(p.doc.metadata["article_id"], p.start, p.end) for p in sentences]
    stored = store.sentence_vectors(ids) if store else {}
    missing = [n for n, i in enumerate(ids) if i not in stored]
    fresh = dict(zip(missing, embedder.encode([sentences[n].text for n in missing])))
    return np.stack([stored[i] if i in stored else fresh[n] for n, i in enumerate(ids)])


class Quoter:
    """Turns article spans into citations: marks photo captions and, asked to, takes in the sentence a quote
    leans on. ``article_text`` gives an article's whole text by id (None: quotes stay as the passages have them)."""

    def __init__(self, article_text: Callable[[str], str] | None = None) -> None:
        self._article_text = article_text
        self._texts: dict[str, str] = {}
        self._captions: dict[str, list[tuple[int, int]]] = {}

    def text(self, article_id: str) -> str | None:
        if self._article_text is None:
            return None
        if article_id not in self._texts:
            self._texts[article_id] = self._article_text(article_id)
        return self._texts[article_id]

    def is_caption(self, article_id: str, start: int, end: int) -> bool:
        text = self.text(article_id)
        if text is None:
            return False
        if article_id not in self._captions:
            self._captions[article_id] = caption_spans(text)
        return any(a <= start and end <= b for a, b in self._captions[article_id])

    def lean_start(self, article_id: str, start: int) -> int:
        """Where the quote starting at ``start`` should start so it reads alone: the previous sentence's start
        when the sentence leans on it (and both lie in one paragraph), else ``start``."""
        text = self.text(article_id)
        if text is None or not leans_on_previous(text[start : start + 40]):
            return start
        line_start = text.rfind("\n", 0, start) + 1
        before = split_sentences(text[line_start:start], offset=line_start)
        return before[-1][0] if before else start

    def cite(self, meta: dict, start: int, end: int, quote: str, marker: int, score: float = 1.0,
             lean: bool = False) -> Citation:  # fmt: skip
        """A citation of ``quote`` (``start:end`` in the article that the chunk metadata ``meta`` describes)."""
        article_id = meta["article_id"]
        text = self.text(article_id)
        if lean and text is not None:
            start = self.lean_start(article_id, start)
            quote = text[start:end]
        citation = citation_for(meta, start, end, quote, marker, score)
        citation.caption = self.is_caption(article_id, start, end)
        return citation


def abstention(question: str, text: str = ABSTENTION_TEXT, related: list[Citation] | None = None,
               score: float = 0.0) -> Answer:  # fmt: skip
    return Answer(question=question, text=text, abstained=True, related=related or [], confidence=score)


def answer_text(citations: Iterable[Citation], prefix: str = "") -> str:
    return prefix + " ".join(quoted(c) for c in citations)


# --- whole articles ----------------------------------------------------------------------------------------


@dataclass
class Library:
    """What the article-level answers read: every chunk within the filters (read from the search index a batch at
    a time, never all kept), whole article texts, and sentence and query vectors."""

    lexical: SearchIndex
    filters: Filters
    article_text: Callable[[str], str]
    vectors: Callable[[list[PassageSentence]], np.ndarray]
    query_vector: Callable[[str], np.ndarray]

    def chunks(self) -> Iterable[tuple[str, str, dict]]:
        """(chunk id, text, metadata) of every chunk the filters let through, in index order."""
        return self.lexical.iter_chunks(self.filters)

    def articles(self) -> dict[str, dict]:
        """The articles within the filters: a chunk's metadata (title, source, ...) by article id, in index order."""
        return self.lexical.articles(self.filters)

    def chunk_meta(self, article_id: str, start: int, end: int) -> dict:
        """Metadata (with chunk_id) of the chunk that holds ``start:end`` of an article, for its citation."""
        best = None
        for chunk_id, _, meta in self.lexical.chunks_of_articles([article_id]):
            if meta["start"] <= start < meta["end"]:
                best = {**meta, "chunk_id": chunk_id}
                if end <= meta["end"]:
                    return best
        if best is None:  # the search index is older than the article: the index is being rewritten
            raise CitationNotFound(f"no indexed passage of {article_id!r} holds offset {start}; ask again")
        return best

    def quoter(self) -> Quoter:
        return Quoter(self.article_text)


def _text_before(quoter: Quoter, article_id: str, start: int, most: int = 4) -> str:
    """Up to ``most`` sentences before ``start``: what "he", "it" or "the plan" refers to (news paragraphs are
    short, so "the proposal" often names what the paragraph before described)."""
    text = quoter.text(article_id)
    if text is None:
        return ""
    window = max(0, start - 300 * most)
    before = split_sentences(text[window:start], offset=window)[-most:]
    return text[before[0][0] : before[-1][1]] if before else ""
