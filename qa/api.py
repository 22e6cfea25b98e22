"""The Python API: one ``Assistant`` that indexes, answers with citations and looks citations up.

>>> from qa import Assistant
>>> bot = Assistant()                                     # doctest: +SKIP
>>> answer = bot.ask("Who did Kishida meet in Vilnius?")  # doctest: +SKIP
>>> answer.citations[0].quote                             # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel

from qa.articles import Article, Skipped
from qa.asking import History, answer_events, previous_turns  # noqa: F401  (previous_turns: importable from here)
from qa.citations import Answer, Passage
from qa.embeddings import Embedder
from qa.errors import IndexBusy, UsageError
from qa.indexing import Indexer, IndexReport, ProgressCallback
from qa.loaders import load_inputs
from qa.lookup import find, lookup
from qa.settings import Settings
from qa.store import ArticleStore

if TYPE_CHECKING:  # retrieval and answering are imported on first use: `qa index` does not need them
    from langchain_core.documents import Document

    from qa.answering import ExtractiveAnswerer, Library
    from qa.decision import SignalReader
    from qa.library import Catalogue, LibraryPage, RemovalReport
    from qa.reader import Reader
    from qa.retrieval import Filters, HybridRetriever
    from qa.search_index import SearchIndex

log = logging.getLogger("qa")
_STALE = object()  # a generation no store has: the search index is brought up to date on next use


class IndexStatus(BaseModel):
    articles: int
    chunks: int
    embedding_model: str
    location: str


class Assistant:
    """Question answering over the indexed articles. Thread-safe; models and the index load on first use."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._lock = threading.RLock()
        self._index_lock = threading.Lock()
        self._embedder: Embedder | None = None
        self._store: ArticleStore | None = None
        self._lexical: SearchIndex | None = None
        self._lexical_generation: object = _STALE
        self._generator = None
        self._reader = None
        self._catalogue: Catalogue | None = None

    # --- components, loaded once ------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = Embedder(
                    self.settings.embedding_model, self.settings.embedding_batch_size, self.settings.model_cache_dir
                )
            return self._embedder

    @property
    def store(self) -> ArticleStore:
        with self._lock:
            if self._store is None:
                self._store = ArticleStore(self.settings, self.embedder)
            return self._store

    @property
    def lexical(self) -> SearchIndex:
        """The search index on disk (``qa.search_index``), brought up to date with the store when another process
        or this one wrote to it since (``qa.search_sync``): the embedded folder's generation, or a server's write
        stamp (one small request), tells."""
        from qa.search_sync import store_version, sync

        with self._lock:
            generation = store_version(self.store)  # moves on when another process wrote to the store
            index = self._open_lexical()
            if generation != self._lexical_generation:
                sync(index, self.store)
                self._lexical_generation = generation
            return index

    def _open_lexical(self) -> SearchIndex:
        """The search index, opened once (again when a rebuild put another file in its place)."""
        from qa.search_index import SearchIndex

        with self._lock:
            if self._lexical is None or self._lexical.replaced():
                self._lexical = SearchIndex(self.lexical_dir, vectors=not self.settings.chroma_url,
                                            timeout=self.settings.lock_timeout)  # fmt: skip
                self._lexical_generation = _STALE
            return self._lexical

    @property
    def lexical_dir(self) -> Path:
        """Where the search index is kept: beside the vectors, or in the cache for a Chroma server."""
        s = self.settings
        if s.chroma_url:
            digest = hashlib.sha1(f"{s.chroma_url}|{s.collection}".encode()).hexdigest()[:12]
            return Path(s.model_cache_dir).expanduser() / "bm25" / digest
        return Path(s.index_dir).expanduser() / f"{s.collection}-bm25"

    def retriever(self, filters: Filters | None = None, k: int | None = None) -> HybridRetriever:
        """The hybrid LangChain retriever over this index."""
        from qa.retrieval import Filters, HybridRetriever

        s = self.settings
        return HybridRetriever(store=self.store, embedder=self.embedder, lexical=self.lexical,
                               k=k or s.top_k, candidates=max(s.candidates, k or s.top_k), rrf_k=s.rrf_k,
                               filters=filters or Filters())  # fmt: skip

    @property
    def reader(self) -> Reader:
        """The extractive reader (the trained span model), loaded once."""
        from qa.reader import Reader

        with self._lock:
            if self._reader is None:
                self._reader = Reader(self.settings.reader_model, self.settings.reader_max_tokens)
            return self._reader

    def answerer(self) -> ExtractiveAnswerer:
        from qa.answering import ExtractiveAnswerer

        s = self.settings
        return ExtractiveAnswerer(self.reader, s.abstain_threshold, s.max_answer_sentences, article_text=self.article_text,
                                  signals=self.signal_reader(), min_confidence=s.min_confidence)  # fmt: skip

    def signal_reader(self) -> SignalReader:
        """What the answer decision reads of this index: stored sentence vectors, the query's, BM25's idf."""
        from qa.answering import PassageSentence, sentence_vectors
        from qa.decision import SignalReader
        from qa.retrieval import tokenize

        def vectors(candidates) -> np.ndarray:
            sentences = [PassageSentence(c.span.doc, c.span.sentence_start, c.span.sentence_end, c.sentence)
                         for c in candidates]  # fmt: skip
            return sentence_vectors(sentences, self.sentence_source(), self.embedder)

        return SignalReader(vectors, self.embedder.query_vector, tokenize, self.lexical.idf)

    def sentence_source(self) -> SearchIndex | ArticleStore:
        """Where the answerer reads stored sentence vectors: the search index's float16 rows (embedded; Chroma
        would load its whole sentence graph for them), or the Chroma server."""
        return self.store if self.settings.chroma_url else self.lexical

    # --- indexing -----------------------------------------------------------------------------------------

    def index(
        self,
        paths: Iterable[str | Path] | None = None,
        *,
        prune: bool = False,
        rebuild: bool = False,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        id_prefix: str = "",
    ) -> IndexReport:
        """Index files, folders and web addresses (pages, feeds, sitemaps; default: the seeds folder) incrementally,
        after checking the index for damage.

        ``rebuild=True`` builds a new index beside the old one, from ``paths`` and every article the old one still
        holds, and swaps it in when complete (``qa.rebuild``). ``cancel`` stops the run within a second (what was
        written stays); ``id_prefix`` gives every article of these inputs an id of its own (uploads in the chat),
        so they cannot replace an article that came from elsewhere.
        """
        articles = load_inputs(list(paths or [self.settings.seeds_dir]), self.settings, cancel, id_prefix)
        if paths is None and not rebuild:
            articles = self._not_removed(articles)
        run = {"prune": prune, "on_progress": on_progress, "cancel": cancel}
        # Questions keep being answered during a run: only index runs wait for each other.
        with self._index_lock:
            if rebuild:
                self._forget_lexical(close=True)
                report = self._rebuild(articles, run)
            else:
                store = self.store
                store.check()
                with contextlib.suppress(IndexBusy):  # busy: another process syncs it; damage is reported
                    self._open_lexical()  # before the run, not after it
                report = Indexer(store, self.embedder, self.settings).run(articles, **run)
            if report.changed or rebuild:
                self._forget_lexical()
            self._bring_search_index_up_to_date()
        return report

    def _bring_search_index_up_to_date(self) -> None:
        """Now, so that the first question after a run does not pay for it. Another process may be doing the same
        (two clients of one server share the machine's search index): the run is done all the same, and the next
        question brings the search index up to date."""
        try:
            _ = self.lexical
        except IndexBusy as exc:
            log.warning("the search index is not brought up to date yet (%s); the next question does it", exc)

    def _rebuild(self, articles: Iterable[Article | Skipped], run: dict) -> IndexReport:
        from qa.rebuild import rebuild_embedded, rebuild_server

        def open_store(settings: Settings) -> ArticleStore:  # the staging index, with the model loaded here
            return ArticleStore(settings, self.embedder)

        if not self.settings.chroma_url:
            return rebuild_embedded(self.settings, open_store, self.embedder, articles, **run)
        report = rebuild_server(self.store, open_store, self.embedder, articles, **run)
        with self._lock:
            self._store = None  # reopened on next use: the rebuilt collections are in place
        from qa.search_index import remove_search_files

        remove_search_files(self.lexical_dir)  # built anew from the rebuilt collections on next use
        return report

    def _not_removed(self, items: Iterable[Article | Skipped]) -> Iterator[Article | Skipped]:
        """The default seeds without the articles removed from the library: `qa index` (and so `make run`) does not
        bring back what the user deleted. Naming a file or folder indexes it again, and clears its tombstone."""
        for item in items:
            if isinstance(item, Article) and self.store.tombstones([item.id]):
                log.info("not indexing %s again: it was removed from the library", item.id)
                continue
            yield item

    def ensure_index(self) -> IndexReport | None:
        """Build the index from the seeds folder when it is empty; returns the report if it did."""
        with self._lock:
            if self.store.has_chunks():
                return None
            log.warning(
                "No index at %s yet: building it from %s ...", self.settings.store_location, self.settings.seeds_dir
            )
            report = self.index([self.settings.seeds_dir])
            log.warning("Index built: %s", report.summary())
            return report

    def status(self, check: bool = False) -> IndexStatus:
        """How much the index holds; ``check=True`` first checks it for damage (reads the whole database)."""
        if check:
            self.store.check()
            self._open_lexical().check()
        articles, chunks = self.store.counts()
        return IndexStatus(articles=articles, chunks=chunks, embedding_model=self.settings.embedding_model,
                           location=self.settings.store_location)  # fmt: skip

    def example_questions(self, n: int = 3) -> list[str]:
        """Questions drawn from the indexed articles' titles and the names they use most (qa.examples)."""
        from qa.examples import example_questions

        return example_questions(self.store, n)

    # --- the library ---------------------------------------------------------------------------------------

    def list_articles(
        self,
        search: str = "",
        sources: Sequence[str] = (),
        published_from: date | None = None,
        published_to: date | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> LibraryPage:
        """A page of the indexed articles, newest published first (undated last), then by title. ``search`` is
        case-insensitive over title, publisher, id, URL and file name; ``sources`` are publishers (any of them)."""
        return self.catalogue.page(search, sources, published_from, published_to, offset, limit)

    @property
    def catalogue(self) -> Catalogue:
        """Every article's summary, read once per change of the index (``qa.library.Catalogue``)."""
        from qa.library import Catalogue

        with self._lock:
            if self._catalogue is None or self._catalogue.store is not self.store:
                self._catalogue = Catalogue(self.store)
            return self._catalogue

    def remove(self, article_ids: Sequence[str]) -> RemovalReport:
        """Remove articles from the index for good (chunks, sentences, record, BM25, an uploaded file), under the
        index-run lock. Each removed article leaves a tombstone, so its old citation ids say when it was removed;
        an id that is not indexed is reported in ``missing`` with the reason, and the others are removed."""
        from qa.library import remove_articles

        return remove_articles(self.store, self.catalogue, article_ids, self._index_lock, self.settings.upload_folder,
                               on_removed=self._forget_lexical)  # fmt: skip

    def _forget_lexical(self, close: bool = False) -> None:
        """Bring the search index up to date on next use (it drops removed articles then); ``close``: reopen it."""
        with self._lock:
            self._lexical_generation = _STALE
            if close and self._lexical is not None:
                self._lexical.close()
                self._lexical = None

    # --- answering ----------------------------------------------------------------------------------------

    def ask(
        self, question: str, history: History | None = None, filters: Filters | None = None, top_k: int | None = None
    ) -> Answer:
        """Answer from the articles only, with citations, or abstain."""
        return self.ask_with_passages(question, history, filters, top_k)[0]

    def ask_stream(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | None = None,
        top_k: int | None = None,
        generative: bool | None = None,
    ) -> Iterator[str | Answer]:
        """Like ``ask``, yielding generated text as it arrives (generative mode), then the final Answer.

        ``generative=False`` answers extractively even when a chat model is configured.
        """
        for event in answer_events(self, question, history, filters, top_k, generative):
            yield event[0] if isinstance(event, tuple) else event

    def ask_with_passages(
        self, question: str, history: History | None = None, filters: Filters | None = None, top_k: int | None = None
    ) -> tuple[Answer, list[Document]]:
        """``ask``, also returning the retrieved passages (for evaluation and the UI)."""
        *_, last = answer_events(self, question, history, filters, top_k, None)
        return last

    def library(self, filters: Filters | None = None) -> Library:
        """Whole articles, every chunk and the vectors, for answers that read beyond the retrieved passages."""
        from qa.answering import Library, sentence_vectors
        from qa.retrieval import Filters

        return Library(lexical=self.lexical, filters=filters or Filters(), article_text=self.article_text,
                       vectors=lambda sentences: sentence_vectors(sentences, self.sentence_source(), self.embedder),
                       query_vector=self.embedder.query_vector)  # fmt: skip

    def generator(self):
        """The generative answerer for the configured chat model (None when none is configured)."""
        from qa.generative import GenerativeAnswerer
        from qa.llm import chat_model
        from qa.verification import Verifier

        with self._lock:
            if self._generator is None and self.settings.llm_provider:
                verifier = Verifier(self.embedder, self.settings.support_similarity)
                self._generator = GenerativeAnswerer(chat_model(self.settings), verifier, self.settings)
            return self._generator

    def check_filters(self, filters: Filters | None) -> None:
        """A filter that names an article or source the index does not hold is a UsageError, not an abstention."""
        if filters and (filters.article_ids or filters.sources):
            unknown = self.store.unknown_filter_values(filters.article_ids, filters.sources)
            if unknown:
                raise UsageError(f"no indexed article matches the filter: {', '.join(unknown)}")

    def validate_question(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise UsageError("the question is empty; ask something about the articles")
        question = question.strip()
        if len(question) > self.settings.max_question_chars:
            raise UsageError(
                f"the question is {len(question):,} characters long; the limit is {self.settings.max_question_chars:,}"
            )
        return question

    # --- citations ----------------------------------------------------------------------------------------

    def article(self, article_id: str) -> Article:
        """The whole cleaned article that citations point into."""
        return self.store.get_article(article_id)

    def article_text(self, article_id: str) -> str:
        return self.article(article_id).text

    def lookup(self, citation: str) -> Passage:
        """The passage behind a citation id (ARTICLE:START-END@VERSION) or chunk id (ARTICLE#HASH), with its
        context; ``changed`` when the citation names an earlier version of the article (``qa.lookup``)."""
        return lookup(self.store, citation)

    def find(self, text: str, k: int = 5, filters: Filters | None = None) -> list[Passage]:
        """The passages that state a quote or claim, best first ("which article says this?")."""
        text = self.validate_question(text)
        self.ensure_index()
        self.check_filters(filters)
        retriever = self.retriever(filters, max(k * 2, self.settings.top_k))
        return find(self.store, self.embedder, retriever, text, k, vectors=self.sentence_source())
