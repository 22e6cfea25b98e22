"""The Python API: one ``Assistant`` that indexes, answers with citations and looks citations up.

>>> from qa import Assistant
>>> bot = Assistant()                                     # doctest: +SKIP
>>> answer = bot.ask("Who did Kishida meet in Vilnius?")  # doctest: +SKIP
>>> answer.citations[0].quote                             # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel

from qa.articles import Article, Skipped
from qa.citations import Answer, Passage, citation_id, clipped, is_chunk_id, page_at, parse_citation_id
from qa.embeddings import Embedder
from qa.errors import CitationNotFound, LLMError, QAError, UsageError
from qa.indexing import Indexer, IndexReport, ProgressCallback
from qa.settings import Settings
from qa.store import ArticleStore
from qa.web import load_inputs

if TYPE_CHECKING:  # retrieval and answering are imported on first use: `qa index` does not need them
    from langchain_core.documents import Document

    from qa.answering import ExtractiveAnswerer, Library
    from qa.conversation import Question, Turn
    from qa.decision import SignalReader
    from qa.library import Catalogue, LibraryPage, RemovalReport
    from qa.reader import Reader
    from qa.retrieval import Filters, HybridRetriever, LexicalIndex

log = logging.getLogger("qa")
CONTEXT_CHARS = 300
OVERVIEW_PASSAGES = 8  # an overview reads at least this many passages, to find every article about its topic
LIST_PASSAGES = 8  # a question asking for several things, or a yes/no question, reads at least this many
# The kinds a chat model may word (it streams from the same passages); mentions and summaries are counted and
# quoted from whole articles, exactly, without it.
GENERATIVE_KINDS = {"fact", "why", "yes_no", "overview"}

History = Sequence[str | Answer | dict]
"""Earlier turns: questions as strings, Answers, or chat messages ``{"role": "user", "content": ...}`` (an
assistant message with an ``"answer"`` dict counts as that Answer)."""


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
        self._lexical: LexicalIndex | None = None
        self._lexical_generation: int | None = None
        self._generator = None
        self._reader = None
        self._catalogue: Catalogue | None = None

    # --- components, loaded once ------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = Embedder(self.settings.embedding_model, self.settings.embedding_batch_size,
                                         self.settings.model_cache_dir)
            return self._embedder

    @property
    def store(self) -> ArticleStore:
        with self._lock:
            if self._store is None:
                self._store = ArticleStore(self.settings, self.embedder)
            return self._store

    @property
    def lexical(self) -> LexicalIndex:
        with self._lock:
            generation = self.store.generation  # moves on when another process wrote to the index
            if self._lexical is None or generation != self._lexical_generation:
                from qa.retrieval import LexicalIndex

                self._lexical = LexicalIndex.cached(self.store, self.lexical_dir)
                self._lexical_generation = generation
            return self._lexical

    @property
    def lexical_dir(self) -> Path:
        """Where the BM25 index is kept: beside the vectors, or in the cache for a Chroma server."""
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
            return sentence_vectors(sentences, self.store, self.embedder)

        return SignalReader(vectors, self.embedder.query_vector, tokenize, self.lexical.idf)

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
        from qa.rebuild import rebuild_embedded, rebuild_server

        articles = load_inputs(list(paths or [self.settings.seeds_dir]), self.settings, cancel, id_prefix)
        if paths is None and not rebuild:
            articles = self._not_removed(articles)
        run = {"prune": prune, "on_progress": on_progress, "cancel": cancel}
        # Questions keep being answered during a run: only index runs wait for each other.
        with self._index_lock:
            if rebuild:
                with self._lock:
                    self._lexical = None
                rebuilt = rebuild_server if self.settings.chroma_url else rebuild_embedded
                report = rebuilt(self, articles, **run)
            else:
                store = self.store
                store.check()
                report = Indexer(store, self.embedder, self.settings).run(articles, **run)
        if report.changed or rebuild:
            with self._lock:
                self._lexical = None  # rebuilt from the store on next use
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
            if self.store.counts()[1]:
                return None
            log.warning("No index at %s yet: building it from %s ...", self.settings.store_location, self.settings.seeds_dir)
            report = self.index([self.settings.seeds_dir])
            log.warning("Index built: %s", report.summary())
            return report

    def status(self, check: bool = False) -> IndexStatus:
        """How much the index holds; ``check=True`` first checks it for damage (reads the whole database)."""
        if check:
            self.store.check()
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

        return remove_articles(self, article_ids)

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
        for event in self._answer_events(question, history, filters, top_k, generative):
            yield event[0] if isinstance(event, tuple) else event

    def ask_with_passages(
        self, question: str, history: History | None = None, filters: Filters | None = None, top_k: int | None = None
    ) -> tuple[Answer, list[Document]]:
        """``ask``, also returning the retrieved passages (for evaluation and the UI)."""
        *_, last = self._answer_events(question, history, filters, top_k, None)
        return last

    def _answer_events(
        self, question, history, filters, top_k, generative
    ) -> Iterator[str | tuple[Answer, list[Document]]]:
        from qa.conversation import analyse, resolve_follow_up

        question = self.validate_question(question)
        started = time.perf_counter()
        self.ensure_index()
        turns = previous_turns(history or [])
        standalone = resolve_follow_up(question, turns)
        notice, generator = "", None
        use_model = self.settings.generative if generative is None else (generative and bool(self.settings.llm_provider))
        if use_model:
            try:
                generator = self.generator()
            except QAError as exc:  # misconfigured backend: say so once per answer, answer extractively
                notice = str(exc)
        if generator and standalone != question:
            try:
                standalone = generator.rewrite(question, [t.question for t in turns])
            except LLMError as exc:  # the model is down or misconfigured: keep the extractive rewrite
                notice = str(exc)
        self.check_filters(filters)
        asked = analyse(standalone)
        t0 = time.perf_counter()
        docs = self._passages_for(asked, filters, top_k)
        previous = turns[-1] if standalone != question and turns else None  # the turn a follow-up follows
        if previous:
            docs += self._earlier_passages(previous, docs, filters)
        t1 = time.perf_counter()
        answer = self._answer(asked, docs, filters, previous)
        first_token = None
        if generator and asked.kind.value in GENERATIVE_KINDS and not answer.abstained and not notice:
            parts: list[str] = []
            try:
                for part in generator.generate(standalone, docs):
                    first_token = first_token or time.perf_counter()
                    parts.append(part)
                    yield part
            except LLMError as exc:  # down, timeout, bad key, unknown model: one line and the extractive answer
                notice = str(exc)
            else:  # outside the try: a failure of our own verifier is a bug, not the chat model's
                answer = generator.verified("".join(parts), standalone, docs, answer)
        t2 = time.perf_counter()
        answer.question, answer.standalone_question, answer.kind = question, standalone, asked.kind.value
        answer.notice = answer.notice or notice
        answer.timings = {"retrieve_ms": round(1000 * (t1 - t0), 1), "answer_ms": round(1000 * (t2 - t1), 1),
                          "total_ms": round(1000 * (t2 - started), 1)}  # fmt: skip
        if first_token:
            answer.timings["first_token_ms"] = round(1000 * (first_token - started), 1)
        yield answer, docs

    def _passages_for(self, asked: Question, filters: Filters | None, top_k: int | None) -> list[Document]:
        """The passages an answer of this kind reads: none for mentions and summaries (they read whole
        articles), more than usual for an overview (it gathers sentences from every article)."""
        from qa.conversation import Kind
        from qa.lists import asks_for_several

        if asked.kind in (Kind.MENTION, Kind.SUMMARY):
            return []
        if asked.kind is Kind.OVERVIEW:
            return self.retriever(filters, max(top_k or self.settings.top_k, OVERVIEW_PASSAGES)).invoke(asked.topic)
        if asked.kind is Kind.YES_NO or asks_for_several(asked.text):  # a list's items, or the sentence that
            # settles a yes/no question, can lie in passages beyond the best few
            return self.retriever(filters, max(top_k or self.settings.top_k, LIST_PASSAGES)).invoke(asked.text)
        return self.retriever(filters, top_k).invoke(asked.text)

    def _earlier_passages(self, previous: Turn, docs: list[Document], filters: Filters | None) -> list[Document]:
        """Every passage that holds part of what the previous answer quoted, for a follow-up to read too: "Who
        supports it?" is often answered next to what was just quoted, in a passage that does not name "it"."""
        from langchain_core.documents import Document

        lexical, have = self.lexical, {d.metadata["chunk_id"] for d in docs}
        quoted = {a for a, _, _ in previous.quoted}
        found = []
        for n, meta in enumerate(lexical.metas):
            if meta["article_id"] not in quoted:
                continue
            overlaps = any(meta["article_id"] == a and meta["start"] < end and start < meta["end"]
                           for a, start, end in previous.quoted)  # fmt: skip
            if overlaps and lexical.ids[n] not in have and (not filters or filters.matches(meta)):
                found.append(Document(id=lexical.ids[n], page_content=lexical.texts[n],
                                      metadata={**meta, "chunk_id": lexical.ids[n]}))  # fmt: skip
        return found

    def _answer(self, asked: Question, docs: list[Document], filters: Filters | None, previous: Turn | None) -> Answer:
        """The piece of qa.answering that answers this kind of question (``previous``: the turn a follow-up
        follows)."""
        from qa.answering import answer_mention, answer_overview, answer_summary, answer_yes_no
        from qa.conversation import Kind

        if asked.kind is Kind.MENTION:
            return answer_mention(asked, self.library(filters))
        if asked.kind is Kind.SUMMARY:
            return answer_summary(asked, self.library(filters))
        if asked.kind is Kind.OVERVIEW:
            return answer_overview(asked, docs, self.library(filters), already_quoted=previous.quoted if previous else ())

        def read() -> Answer:
            return self.answerer().invoke({"question": asked.text, "documents": docs, "kind": asked.kind})

        if asked.kind is Kind.YES_NO:
            return answer_yes_no(asked, docs, self.library(filters), read)
        return read()

    def library(self, filters: Filters | None = None) -> Library:
        """Whole articles, every chunk and the vectors, for answers that read beyond the retrieved passages."""
        from qa.answering import Library, sentence_vectors
        from qa.retrieval import Filters

        return Library(lexical=self.lexical, filters=filters or Filters(), article_text=self.article_text,
                       vectors=lambda sentences: sentence_vectors(sentences, self.store, self.embedder),
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
        context; ``changed`` when the citation names an earlier version of the article."""
        citation = (citation or "").strip()
        if is_chunk_id(citation):
            found = self.store.get_chunks([citation])
            if not found:
                self._cited_article(citation.rsplit("#", 1)[0])  # a removed article's chunk says so
                raise CitationNotFound(f"no chunk with id {clipped(citation)!r} in the index")
            _, _, meta = found[0]
            article_id, start, end, version = meta["article_id"], meta["start"], meta["end"], ""
        else:
            article_id, start, end, version = parse_citation_id(citation)
        article = self._cited_article(article_id)
        changed = bool(version) and version != article.version
        if end > len(article.text):
            raise CitationNotFound(
                f"{clipped(citation)!r} points past the end of article {clipped(article_id)!r}, which is now "
                f"{len(article.text):,} characters long" + ("; it has changed since the citation was made"
                                                            if changed else "")
            )  # fmt: skip
        passage = self._passage(article, start, end)
        passage.changed = changed
        return passage

    def _cited_article(self, article_id: str) -> Article:
        """The article a citation names; one that was removed says so, and when (``qa.library``)."""
        from qa.library import removed_line

        try:
            return self.article(article_id)
        except CitationNotFound:
            tombstone = self.store.tombstones([article_id]).get(article_id)
            if tombstone is None:
                raise
            raise CitationNotFound(removed_line(article_id, tombstone)) from None

    def find(self, text: str, k: int = 5, filters: Filters | None = None) -> list[Passage]:
        """The passages that state a quote or claim, best first ("which article says this?")."""
        from qa.answering import passage_sentences, sentence_vectors

        text = self.validate_question(text)
        self.ensure_index()
        self.check_filters(filters)
        docs = self.retriever(filters, max(k * 2, self.settings.top_k)).invoke(text)
        sentences = list({(p.doc.metadata["article_id"], p.start): p for d in docs for p in passage_sentences(d)}.values())
        if not sentences:
            return []
        similarity = sentence_vectors(sentences, self.store, self.embedder) @ self.embedder.query_vector(text)
        articles: dict[str, Article] = {}
        passages = []
        for n in np.argsort(-similarity)[:k]:
            p = sentences[n]
            article_id = p.doc.metadata["article_id"]
            article = articles.get(article_id) or articles.setdefault(article_id, self.article(article_id))
            passage = self._passage(article, p.start, p.end, chunk_id=p.doc.metadata["chunk_id"])
            passage.score = round(float(similarity[n]), 4)
            passages.append(passage)
        return passages

    @staticmethod
    def _passage(article: Article, start: int, end: int, chunk_id: str = "") -> Passage:
        text = article.text
        return Passage(
            id=citation_id(article.id, start, end, article.version), chunk_id=chunk_id, article_id=article.id,
            title=article.title, source=article.source, author=article.author, published=article.published,
            url=article.url, quote=text[start:end], start=start, end=end,
            page=page_at(article.page_starts, start),
            before=text[max(0, start - CONTEXT_CHARS) : start], after=text[end : end + CONTEXT_CHARS],
        )  # fmt: skip


class IndexJob:
    """``Assistant.index`` in a thread of its own, so a chat stays usable meanwhile: it reports progress and
    can be cancelled between articles (what was written before stays indexed).

    >>> job = IndexJob(Assistant(), ["news/"], total=120)  # doctest: +SKIP
    >>> job.articles, job.current; job.cancel.set(); job.done.wait()  # doctest: +SKIP
    """

    def __init__(self, assistant: Assistant, inputs: Sequence[str | Path], total: int = 0, id_prefix: str = "") -> None:
        self.total, self.id_prefix = total, id_prefix
        self.done, self.cancel = threading.Event(), threading.Event()
        self.articles, self.current, self.report, self.error = 0, "", None, ""
        threading.Thread(target=self._run, args=(assistant, list(inputs)), daemon=True).start()

    def _run(self, assistant: Assistant, inputs: list) -> None:
        try:
            self.report = assistant.index(inputs, on_progress=self._progress, cancel=self.cancel,
                                          id_prefix=self.id_prefix)  # fmt: skip
        except QAError as exc:
            self.error = str(exc)
        finally:
            self.done.set()

    def _progress(self, articles: int, article_id: str) -> None:
        self.articles, self.current = articles, article_id


def previous_turns(history: History) -> list[Turn]:
    """The earlier turns, oldest first, as searched and with their short answers, from any accepted history form."""
    from qa.conversation import Turn

    turns: list[Turn] = []
    for turn in history:
        if isinstance(turn, dict) and turn.get("answer"):
            turn = Answer.model_validate(turn["answer"])
        if isinstance(turn, Answer):
            short = turn.short_answer.text if turn.short_answer and not turn.abstained else ""
            quoted = tuple((c.article_id, c.start, c.end) for c in turn.citations)
            evidence = turn.citations[0].quote if turn.citations else ""
            turns.append(Turn(turn.standalone_question or turn.question, short, quoted, verdict=turn.verdict,
                              evidence=evidence))  # fmt: skip
        elif isinstance(turn, dict):
            if turn.get("role", "user") == "user" and turn.get("content"):
                turns.append(Turn(str(turn["content"])))
        elif isinstance(turn, str) and turn.strip():
            turns.append(Turn(turn))
    return turns
