"""Incremental indexing: clean, chunk, embed and store only what changed.

Articles are compared by content hash with their records in the store: unchanged ones are skipped
(nothing embedded), changed ones replaced, and, with ``prune=True``, articles no longer in the input
are deleted. Sentences are embedded once, in batches that span articles; a chunk's vector is the
length-weighted mean of its sentences' vectors, so overlapping text is never embedded twice. A sentence
whose text was embedded before (in this run, or stored under the same text hash) reuses that vector:
editing an article re-embeds only its changed sentences, and syndicated copies cost nothing.

Three batches are in the pipeline at once: one is read and chunked while the one before it is embedded and
the one before that is written to the store by a writer thread. In `qa index` the model runs in a child process
(``qa.embedding_worker``): Chroma holds the GIL for the whole of each write, and would otherwise stall it.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from qa.articles import UPLOAD_PREFIX, Article, Skipped
from qa.chunking import Chunk, chunk_article, sentence_spans, without_repeats
from qa.citations import citation_id
from qa.compaction import compact_if_bloated
from qa.embeddings import Embedder, PendingVectors
from qa.errors import Cancelled
from qa.settings import Settings
from qa.store import FILTER_FIELDS, PENDING, ArticleStore, IndexedArticle, SentenceRecord, article_metadata

KNOWN_VECTORS_LIMIT = 100_000  # about 150 MB of 384-d vectors
# Distinct sentences one article may have: each costs an embedding (about 15 ms on 2 cores) and 1.5 KB of vector
# while its article is written; a 20 MB upload of one-word "sentences" would otherwise take hours and gigabytes.
MAX_ARTICLE_SENTENCES = 50_000
# Articles a report names in each of added, updated and unchanged (it counts all): a run over millions of articles
# must not hold a list of them all.
MAX_NAMED_ARTICLES = 1000


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:20]


ProgressCallback = Callable[[int, str], None]
"""Called after each article with (articles seen so far, article id)."""


class ArticleRef(BaseModel):
    """An article an index run added, updated or found unchanged: enough to name it to a reader."""

    id: str
    title: str = ""
    origin: str = Field("", description="The file (and line) or URL it was read from.")

    @classmethod
    def of(cls, article: Article) -> ArticleRef:
        return cls(id=article.id, title=article.title, origin=article.origin)


class SkippedInput(BaseModel):
    """An input that was not indexed: where it was (a file, FILE:LINE or URL) and why."""

    where: str
    reason: str


class IndexReport(BaseModel):
    """What an index run did: counts for the command line, and which articles, for the chat to name them."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    sentences_embedded: int = 0
    skipped: list[str] = Field(default_factory=list, description="One line per input that was not indexed.")
    seconds: float = 0.0
    # The first MAX_NAMED_ARTICLES of each; the counts above count them all.
    added_articles: list[ArticleRef] = Field(default_factory=list)
    updated_articles: list[ArticleRef] = Field(default_factory=list)
    unchanged_articles: list[ArticleRef] = Field(default_factory=list)
    skipped_inputs: list[SkippedInput] = Field(default_factory=list, description="``skipped``, as where and why.")

    def skip(self, item: Skipped) -> None:
        self.skipped.append(str(item))
        self.skipped_inputs.append(SkippedInput(where=item.where, reason=item.reason))

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {self.removed} removed; "
            f"{self.sentences_embedded} sentences embedded in {self.seconds:.1f} s"
            + (f"; {len(self.skipped)} skipped" if self.skipped else "")
        )


class Indexer:
    """Brings a store up to date with a stream of articles.

    >>> report = Indexer(store, embedder, Settings()).run(load_articles([Path("seeds")]))  # doctest: +SKIP
    """

    def __init__(self, store: ArticleStore, embedder: Embedder, settings: Settings) -> None:
        if settings.chunk_overlap >= settings.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        self.store, self.embedder, self.settings = store, embedder, settings
        self._known: dict[str, np.ndarray] = {}
        self._store_has_vectors = True
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: Future | None = None
        self._embedding: _Embedding | None = None  # the batch whose new sentences are being embedded
        self._cancel: threading.Event | None = None
        self._articles_read = 0

    def run(
        self,
        items: Iterable[Article | Skipped],
        *,
        prune: bool = False,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> IndexReport:
        """Bring the store up to date with ``items``. ``cancel`` stops the run between articles and between the
        embedding steps of a large article (``Cancelled``); what was written before stays indexed."""
        self._cancel = cancel
        # Leaving the executor waits for the batch being written, even on an error or Ctrl-C.
        with self.store.write_lock(), ThreadPoolExecutor(1, thread_name_prefix="qa-index-writer") as self._writer:
            try:
                return self._run(items, prune, on_progress)
            except BaseException:
                if self._embedding is not None and self._embedding.vectors is not None:
                    self._embedding.vectors.abandon()  # a batch read but not written: its vectors are of no use
                self._embedding = None
                raise

    def _check_cancel(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled(f"indexing cancelled after {self._articles_read} articles; those are kept")

    def _run(
        self, items: Iterable[Article | Skipped], prune: bool, on_progress: ProgressCallback | None
    ) -> IndexReport:
        started = time.perf_counter()
        report = IndexReport()
        records = self.store.article_records(["origin"])
        known = {i: m.get("content_hash", "") for i, m in records.items()}
        origins = {i: m.get("origin", "") for i, m in records.items()}
        # A store without articles has no vectors to reuse; skip looking them up (first runs are the big ones).
        self._store_has_vectors = bool(known)
        seen: set[str] = set()
        batch: list[tuple[Article, list[Chunk]]] = []
        batch_chunks = 0
        for item in items:
            if isinstance(item, Skipped):
                report.skip(item)
                continue
            item = with_own_id(item, origins, known)
            if item.id in seen:
                report.skip(Skipped(item.origin or item.id, f"duplicate article id {item.id!r}"))
                continue
            seen.add(item.id)
            if on_progress:
                on_progress(len(seen), item.id)
            self._articles_read = len(seen) - 1  # this one is not indexed if the run stops here
            self._check_cancel()
            if known.get(item.id) == item.content_hash:
                report.unchanged += 1
                _name(report.unchanged_articles, item)
                continue
            spans = sentence_spans(item.text, self.settings.chunk_size)
            too_many = _too_many_sentences(item, spans)
            if too_many:
                report.skip(too_many)
                continue
            if item.id in known and not known[item.id].startswith(PENDING):
                report.updated += 1
                _name(report.updated_articles, item)
            else:
                report.added += 1
                _name(report.added_articles, item)
            chunks = without_repeats(chunk_article(item, self.settings.chunk_size, self.settings.chunk_overlap, spans))
            batch.append((item, chunks, spans))
            batch_chunks += len(chunks)
            if batch_chunks >= self.settings.index_batch_chunks:
                report.sentences_embedded += self._flush(batch)
                batch, batch_chunks = [], 0
        report.sentences_embedded += self._flush(batch)
        report.sentences_embedded += self._flush([])
        self._wait_for_write()
        # Interrupted writes of articles that are no longer in the input leave incomplete chunks: drop them.
        stale = [i for i, h in known.items() if i not in seen and (prune or h.startswith(PENDING))]
        self.store.delete_articles(stale)
        report.removed = sum(1 for i in stale if not known[i].startswith(PENDING))
        if report.changed:
            compact_if_bloated(self.store)
        report.seconds = time.perf_counter() - started
        return report

    def _flush(self, batch: list[tuple[Article, list[Chunk], list[tuple[int, int]]]]) -> int:
        """Start embedding the batch's new sentences, then finish the batch before it, whose embedding ran while
        this one was read (in `qa index`'s embedding worker: see ``qa.embedding_worker``). Returns how many
        sentences that one embedded; ``_flush([])`` finishes the last batch."""
        following = self._start(batch) if batch else None
        embedded = self._finish(following)
        self._embedding = following
        return embedded

    def _start(self, batch: list[tuple[Article, list[Chunk], list[tuple[int, int]]]]) -> _Embedding:
        """Hand the embedder the batch's sentences never seen before (same text, same vector): known vectors
        come from this run or from the store, and a text the batch before is having embedded is waited for."""
        texts = [article.text[s:e] for article, _, spans in batch for s, e in spans]
        hashes = [text_hash(t) for t in texts]
        distinct = list(dict.fromkeys(hashes))
        in_flight = set(self._embedding.new) if self._embedding else set()
        if self._store_has_vectors:
            self._known.update(
                self.store.vectors_by_text_hash([h for h in distinct if h not in self._known and h not in in_flight])
            )
        known = {h: self._known[h] for h in distinct if h in self._known}
        waiting = {h for h in distinct if h not in known and h in in_flight}
        new = {h: t for h, t in zip(hashes, texts) if h not in known and h not in waiting}
        self._check_cancel()
        # One call for the whole batch, so the embedder can group texts of like length (less padding) across
        # articles.
        vectors = self.embedder.submit(list(new.values())) if new else None
        return _Embedding(batch, hashes, known, list(new), waiting, vectors)

    def _finish(self, following: _Embedding | None) -> int:
        """Collect the vectors of the batch being embedded (a cancel is seen between two model calls) and hand it
        with its chunks (chunk = mean of sentences) to the writer thread."""
        done = self._embedding
        if done is None:
            return 0
        vectors = done.vectors.result(self._check_cancel) if done.vectors else []
        fresh = dict(zip(done.new, vectors))
        self._known.update(fresh)
        if following is not None:
            following.known.update((h, fresh[h]) for h in following.waiting)
        pool = {**done.known, **fresh}
        position = {h: n for n, h in enumerate(dict.fromkeys(done.hashes))}
        # One row per distinct text, not per text: an article that repeats a sentence 100,000 times holds its
        # vector once.
        unique = np.stack([pool[h] for h in position])
        rows = np.fromiter((position[h] for h in done.hashes), dtype=np.int64, count=len(done.hashes))
        if len(self._known) > KNOWN_VECTORS_LIMIT:  # bound memory on huge corpora; the store still has them
            self._known.clear()
        indexed, row = [], 0
        for article, chunks, spans in done.batch:
            part = slice(row, row + len(spans))
            row += len(spans)
            indexed.append(_indexed_article(article, chunks, spans, unique, rows[part], done.hashes[part]))
        self._wait_for_write()  # one batch in flight bounds memory and keeps the writes in input order
        self._in_flight = self._writer.submit(self.store.write_articles, indexed)
        return len(done.new)

    def _wait_for_write(self) -> None:
        """Wait for the batch being written; its error (a full disk, a lost server) is raised here."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()


@dataclass
class _Embedding:
    """A batch on its way through the embedder: the vectors it has, and those it waits for."""

    batch: list[tuple[Article, list[Chunk], list[tuple[int, int]]]]
    hashes: list[str]  # the text hash of each sentence
    known: dict[str, np.ndarray]  # vectors embedded before, by text hash
    new: list[str]  # the text hashes being embedded for it
    waiting: set[str]  # the text hashes being embedded for the batch before it
    vectors: PendingVectors | None


def _name(named: list[ArticleRef], article: Article) -> None:
    if len(named) < MAX_NAMED_ARTICLES:
        named.append(ArticleRef.of(article))


def _too_many_sentences(article: Article, spans: list[tuple[int, int]]) -> Skipped | None:
    distinct = len({article.text[s:e] for s, e in spans})
    if distinct <= MAX_ARTICLE_SENTENCES:
        return None
    return Skipped(
        article.origin or article.id,
        f"{distinct:,} different sentences; at most {MAX_ARTICLE_SENTENCES:,} "
        "are indexed from one article: split it into smaller articles",
    )


def with_own_id(article: Article, origins: dict[str, str], hashes: dict[str, str]) -> Article:
    """The article, or, when its id is its file's name (an upload's: ``UPLOAD_PREFIX`` and the name) and another
    file elsewhere already has that id, the article with an id of its own (the id and a short hash of its path):
    a file named like another article must not replace it, nor an upload a file named ``upload-...``.
    ``origins`` (article id -> file) learns the ids given out."""
    stem = Path(article.origin).stem
    if not article.origin or article.id not in (stem, UPLOAD_PREFIX + stem):  # an id the input chose (JSONL, URL)
        return article
    other = origins.setdefault(article.id, article.origin)
    if Path(other).resolve() == Path(article.origin).resolve() or hashes.get(article.id) == article.content_hash:
        return article
    digest = hashlib.sha1(str(Path(article.origin).resolve()).encode()).hexdigest()[:6]
    own = article.model_copy(update={"id": f"{article.id}-{digest}"})
    origins.setdefault(own.id, article.origin)
    return own


def _indexed_article(
    article: Article,
    chunks: list[Chunk],
    spans: list[tuple[int, int]],
    unique: np.ndarray,
    rows: np.ndarray,
    hashes: list[str],
) -> IndexedArticle:
    """The article with its chunk and sentence vectors; sentence ``i``'s vector is ``unique[rows[i]]``."""
    chunk_vectors = np.zeros((len(chunks), unique.shape[1]), dtype=np.float32)
    owner: dict[int, str] = {}
    starts = [s for s, _ in spans]
    for n, chunk in enumerate(chunks):
        first_inside = bisect.bisect_left(starts, chunk.start)  # a chunk is a run of whole sentences
        inside = list(range(first_inside, bisect.bisect_right(starts, chunk.end - 1)))
        for i in inside:
            owner.setdefault(i, chunk.id)
        # Weight by length so a chunk's vector reflects how much of it each sentence is.
        weights = np.array([spans[i][1] - spans[i][0] for i in inside], dtype=np.float32)
        mean = weights @ unique[rows[inside]]
        chunk_vectors[n] = mean / (np.linalg.norm(mean) or 1.0)
    # A sentence carries only what filters and lookups read (its id holds its offsets, its chunk the rest):
    # each metadata key is a row to write in Chroma. A repeat of an earlier sentence is not stored (as for
    # chunks: ``without_repeats``); its first occurrence is what gets cited.
    meta = {k: v for k, v in article_metadata(article).items() if k in FILTER_FIELDS}
    seen: set[str] = set()
    first = [i for i, h in enumerate(hashes) if i in owner and not (h in seen or seen.add(h))]
    sentences = [
        SentenceRecord(citation_id(article.id, *spans[i]), {**meta, "chunk_id": owner[i], "text_hash": hashes[i]})
        for i in first
    ]
    return IndexedArticle(article, chunks, chunk_vectors, sentences, unique[rows[first]])
