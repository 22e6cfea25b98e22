"""The grounded extractive answers, one small piece per kind of question (see qa.conversation.analyse).

- ``ExtractiveAnswerer`` (facts, why/how and lists): the trained reader (qa/reader.py) finds the best span in
  each retrieved sentence; the fitted decision (qa/decision.py) picks one and says whether to answer at all. The
  answer is that short answer and the sentence holding it, quoted verbatim with its offsets and an inline marker
  (a quote that points back, "He told Mr Kishida", takes in the sentence before). A question asking for several
  things gets every item the candidates give for the relation asked about (qa/lists.py). Below the decision's
  threshold it abstains and shows related passages.
- ``answer_yes_no``: "Yes." or "No." and the sentence that settles it (qa/verdicts.py), else the evidence
  ("The articles say: ...").
- ``answer_overview``: a digest of distinct cited sentences about a topic, from every article that has one.
- ``answer_mention``: which articles name a term and how often, with one cited example each.
- ``answer_summary``: the lead sentences of the article(s) asked for.

Headings, bylines and page furniture are never quoted as an answer; a quoted photo caption is labelled.

>>> chain = {"question": RunnablePassthrough(), "documents": retriever} | ExtractiveAnswerer(Reader())  # doctest: +SKIP
>>> chain.invoke("Who did Kishida meet in Vilnius?").short_answer.text                                 # doctest: +SKIP
'Jens Stoltenberg'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableConfig

from qa.articles import caption_spans
from qa.citations import Answer, Citation, ShortAnswer, citation_for, citation_id
from qa.conversation import Question
from qa.decision import MAX_CANDIDATES, Candidate, Decision, DecisionModel, SignalReader
from qa.errors import CitationNotFound
from qa.lists import asks_for_several, coordinated_items, item_key, merge_items, plays_role
from qa.reader import Reader, Reading, Span, calibration, confidence
from qa.settings import DEFAULT_READER_MODEL
from qa.squad import normalize_answer
from qa.verdicts import Evidence, decide

if TYPE_CHECKING:
    from qa.embeddings import Embedder
    from qa.retrieval import Filters, LexicalIndex
    from qa.store import ArticleStore
# Importable from here as before (qa.generative, qa.evaluation, tests):
from qa.text.sentences import (  # noqa: F401
    INSTRUCTION_LIKE,
    is_heading,
    is_instruction_like,
    is_quotable,
    leans_on_previous,
    split_sentences,
)

# A second quoted sentence joins the answer only when its span's margin over "no answer" is nearly as large as
# the best one's (in start + end logits) and passes the threshold too.
EXTRA_SPAN_MARGIN = 1.0
# With the decision model: a second sentence joins when the ranker scores it within this many logits of the best
# (its odds of being the answer at least a third of the best one's).
EXTRA_SCORE_GAP = 1.1
# A list answer gathers items from the candidates the ranker scores within this many logits of the best (odds at
# least a fiftieth of the best one's: the role check does the choosing), among the first LIST_CANDIDATES.
LIST_SCORE_GAP = 4.0
LIST_CANDIDATES = 6
# Cosine similarity (all-MiniLM-L6-v2) of a sentence to a yes/no question above which it is quoted as evidence:
# about where a sentence stops merely sharing the topic and starts stating what is asked.
EVIDENCE_SIMILARITY = 0.5
EVIDENCE_PREFIX = "The articles say: "
# A verdict is read from the most similar sentences naming the question's names, down to this similarity: a
# sentence that settles the question can share less of its wording ("opposes the plan" for "support the office").
VERDICT_SIMILARITY = 0.25
VERDICT_POOL = 8
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


def sentence_vectors(sentences: list[PassageSentence], store: ArticleStore | None, embedder: Embedder) -> np.ndarray:
    """One vector per sentence: the one stored at index time; only sentences the store lacks are embedded now."""
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


# --- facts and why/how: the reader's span ---------------------------------------------------------


class ExtractiveAnswerer(Runnable[dict, Answer]):
    """Answer with the best candidate span and the sentence that holds it, or abstain.

    Input: ``{"question": str, "documents": list[Document]}`` (documents from HybridRetriever), optionally
    ``"kind"`` (a qa.conversation.Kind). With ``signals`` (and the shipped
    reader) the fitted decision model (qa/decision.py) picks the candidate and says whether to answer, at
    ``min_confidence`` (default: its fitted threshold); without, the reader's margin over "no answer" decides, at
    ``threshold`` (default: the reader's calibrated one). ``article_text`` (article id -> its whole text) lets
    quotes be labelled as captions and take in the sentence they lean on.
    """

    def __init__(self, reader: Reader, threshold: float | None = None, max_sentences: int = 2,
                 article_text: Callable[[str], str] | None = None, signals: SignalReader | None = None,
                 min_confidence: float | None = None, decision: DecisionModel | None = None):  # fmt: skip
        if not 1 <= max_sentences <= 5:
            raise ValueError("max_sentences must be 1..5")
        if min_confidence is not None and not 0.0 < min_confidence < 1.0:
            raise ValueError("min_confidence must be a probability in (0, 1)")
        self.reader, self.max_sentences, self.article_text = reader, max_sentences, article_text
        self.calibration = calibration(reader.model_name)
        self.threshold = self.calibration["threshold"] if threshold is None else threshold
        fitted_for_reader = reader.model_name == DEFAULT_READER_MODEL and threshold is None
        self.signals = signals if fitted_for_reader else None
        self._decision, self.min_confidence = decision, min_confidence

    @property
    def decision(self) -> DecisionModel | None:
        """The fitted decision (loaded on first use), or None where the reader's margin decides."""
        if self.signals is not None and self._decision is None:
            self._decision = DecisionModel.shipped()
        return self._decision if self.signals is not None else None

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs) -> Answer:
        question = input["question"]
        return self.answer(question, self.reader.read(question, input["documents"]))

    def answer(self, question: str, reading: Reading, lean: bool = True) -> Answer:
        """The answer to ``question`` from what the reader found; ``lean``: a quote that points back ("He said")
        takes in the sentence it leans on, so it reads alone."""
        quoter = Quoter(self.article_text)
        reading = self.quotable(reading, quoter)
        if self.decision is None:
            return self._answer_by_margin(question, reading, quoter, lean)
        candidates, signals = self.weigh(question, reading, quoter)
        decision = self.decision.decide(candidates, signals, self.min_confidence)
        if not decision.answer:
            related = [self._cite(quoter, s.candidate.span, i + 1) for i, s in enumerate(decision.ranked[:3])]
            return abstention(question, related=related, score=round(decision.probability, 4))
        if asks_for_several(question) and (listed := self._list_answer(question, decision, quoter, lean)):
            return listed
        best = decision.ranked[0]
        chosen = [best.candidate.span]
        for s in decision.ranked[1:]:
            if len(chosen) >= self.max_sentences or s.score < best.score - EXTRA_SCORE_GAP:
                break
            if not s.candidate.caption and all(_apart(s.candidate.span, c) for c in chosen):
                chosen.append(s.candidate.span)
        return self._compose(question, chosen, [round(decision.probability, 4)] * len(chosen), quoter, lean)

    def _list_answer(self, question: str, decision: Decision, quoter: Quoter, lean: bool) -> Answer | None:
        """Every item the candidates near the best one give for the relation asked about ("Which countries
        support ...?"), each sentence cited once; None when the candidates give fewer than two items for that relation."""
        best, found = decision.ranked[0].score, []
        for s in decision.ranked[:LIST_CANDIDATES]:
            c = s.candidate
            within = (c.span.start - c.span.sentence_start, c.span.end - c.span.sentence_start)
            context = _text_before(quoter, c.span.doc.metadata["article_id"], c.span.sentence_start)
            if s.score >= best - LIST_SCORE_GAP and not c.caption and plays_role(question, c.sentence, context,
                                                                                   span=within):  # fmt: skip
                items = coordinated_items(c.sentence, *within)
                found.append((c.span, [c.sentence[a:b] for a, b in items]))
        if sum(len(items) for _, items in found) < 2:  # one item: an ordinary answer says it
            return None
        answer = self._compose(question, [span for span, _ in found], [round(decision.probability, 4)] * len(found),
                               quoter, lean)  # fmt: skip
        groups, seen = [], set()
        for (span, items), citation in zip(found, _citations_of(answer, [span for span, _ in found])):
            fresh = [item for item in merge_items([items]) if item_key(item) not in seen]
            seen.update(item_key(item) for item in fresh)
            if fresh:
                groups.append(f"{_joined(fresh)} [{citation.marker}]")
        answer.text = "; ".join(groups) + ".\n" + answer.text
        return answer

    def quotable(self, reading: Reading, quoter: Quoter) -> Reading:
        """The reading without spans in sentences that must not be quoted, a caption's answer quoted from the
        body where the body says it too."""
        spans = [s for s in reading.spans if is_quotable(_sentence(s))]
        return replace(reading, spans=_body_before_caption(spans, lambda s: _is_caption(quoter, s)))

    def weigh(self, question: str, reading: Reading, quoter: Quoter) -> tuple[list[Candidate], np.ndarray]:
        """The candidates (the best span of each of the best sentences) and their signals for the decision."""
        if self.signals is None:
            raise ValueError("weighing candidates needs signals (ExtractiveAnswerer(..., signals=SignalReader(...)))")
        candidates = [_candidate(quoter, s) for s in _one_per_sentence(reading.spans)[:MAX_CANDIDATES]]
        return candidates, self.signals.signals(question, candidates)

    def _answer_by_margin(self, question: str, reading: Reading, quoter: Quoter, lean: bool) -> Answer:
        """A reader without a fitted decision: its best span, when its margin clears the threshold."""
        margin = reading.margin
        if margin < self.threshold:
            related = [self._cite(quoter, s, i + 1) for i, s in enumerate(_one_per_sentence(reading.spans)[:3])]
            score = round(confidence(margin, self.calibration), 4) if reading.spans else 0.0
            return abstention(question, related=related, score=score)
        best = reading.spans[0]
        chosen = [best]
        for s in _one_per_sentence(reading.spans)[1:]:
            if len(chosen) >= self.max_sentences or s.margin < best.margin - EXTRA_SPAN_MARGIN:
                break
            if s.margin >= self.threshold and not _is_caption(quoter, s) and all(_apart(s, c) for c in chosen):
                chosen.append(s)
        return self._compose(question, chosen, [confidence(s.margin, self.calibration) for s in chosen], quoter, lean)

    def _compose(self, question: str, chosen: list[Span], scores: list[float], quoter: Quoter, lean: bool) -> Answer:
        """The answer quoting the sentences of ``chosen`` (best first); the best span is the short answer."""
        citations: list[Citation] = []
        for s, score in zip(chosen, scores):  # a quote that took in the sentence before may already hold the next
            c = self._cite(quoter, s, len(citations) + 1, lean, score)
            if not any(c.article_id == d.article_id and c.start < d.end and d.start < c.end for d in citations):
                citations.append(c)
        best = chosen[0]
        short = ShortAnswer(text=best.text, article_id=best.doc.metadata["article_id"], start=best.start, end=best.end,
                            marker=1, score=citations[0].score)  # fmt: skip
        return Answer(question=question, text=answer_text(citations), citations=citations, short_answer=short,
                      confidence=citations[0].score)  # fmt: skip

    def _cite(self, quoter: Quoter, s: Span, marker: int, lean: bool = False, score: float | None = None) -> Citation:
        score = confidence(s.margin, self.calibration) if score is None else score
        return quoter.cite(s.doc.metadata, s.sentence_start, s.sentence_end, _sentence(s), marker, score, lean)


def _citations_of(answer: Answer, spans: list[Span]) -> list[Citation]:
    """The citation quoting each span (a span whose sentence another quote already holds: that quote)."""
    return [next(c for c in answer.citations if c.article_id == s.doc.metadata["article_id"]
                 and c.start <= s.sentence_start and s.sentence_end <= c.end) for s in spans]  # fmt: skip


def _joined(items: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _is_caption(quoter: Quoter, s: Span) -> bool:
    return quoter.is_caption(s.doc.metadata["article_id"], s.sentence_start, s.sentence_end)


def _candidate(quoter: Quoter, s: Span) -> Candidate:
    """A span as the decision weighs it: its sentence, the passage's sentence before it, its place in the
    article and whether it is a caption."""
    base = s.doc.metadata["start"]
    before = split_sentences(s.doc.page_content[: s.sentence_start - base])
    text = quoter.text(s.doc.metadata["article_id"])
    position = s.sentence_start / len(text) if text else 0.0
    previous = s.doc.page_content[before[-1][0] : before[-1][1]] if before else ""
    return Candidate(s, _sentence(s), previous, _is_caption(quoter, s), position)


def _body_before_caption(spans: list[Span], is_caption: Callable[[Span], bool]) -> list[Span]:
    """``spans`` (best first, as ``Reading`` has them), with a photo caption's answer quoted from a body sentence
    that holds the same answer, where one does: a caption describes a picture, and the body says it as the
    article's own statement. The body sentence takes the caption's scores (the reader's confidence in that
    answer). A caption that says what no body sentence says stays the answer (it is labelled as a caption)."""
    if not spans or not is_caption(spans[0]):
        return spans
    answer = normalize_answer(spans[0].text)
    body = next((s for s in spans if not is_caption(s) and normalize_answer(s.text) == answer), None)
    if body is None:
        return spans
    stand_in = replace(body, score=spans[0].score, null_score=spans[0].null_score)
    return [stand_in] + [s for s in spans[1:] if s is not body]


def _sentence(s: Span) -> str:
    """The sentence that holds the span, verbatim."""
    base = s.doc.metadata["start"]
    return s.doc.page_content[s.sentence_start - base : s.sentence_end - base]


def _one_per_sentence(spans: list[Span]) -> list[Span]:
    """The best span of each quoted sentence (overlapping windows find the same sentence twice)."""
    seen, out = set(), []
    for s in spans:
        key = (s.doc.metadata["article_id"], s.sentence_start)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _apart(a: Span, b: Span) -> bool:
    """Whether two spans quote sentences that do not overlap."""
    if a.doc.metadata["article_id"] != b.doc.metadata["article_id"]:
        return True
    return a.sentence_end <= b.sentence_start or b.sentence_end <= a.sentence_start


# --- overviews, mentions and summaries: whole articles -----------------------------------------------------


@dataclass
class Library:
    """What the article-level answers read: every chunk (the BM25 index's in-memory copy, within the filters),
    whole article texts, and sentence and query vectors."""

    lexical: LexicalIndex
    filters: Filters
    article_text: Callable[[str], str]
    vectors: Callable[[list[PassageSentence]], np.ndarray]
    query_vector: Callable[[str], np.ndarray]

    def chunks(self) -> Iterable[tuple[str, str, dict]]:
        """(chunk id, text, metadata) of every chunk the filters let through."""
        everything = self.filters.is_empty()
        for chunk_id, text, meta in zip(self.lexical.ids, self.lexical.texts, self.lexical.metas):
            if everything or self.filters.matches(meta):
                yield chunk_id, text, meta

    def articles(self) -> dict[str, dict]:
        """The articles within the filters: a chunk's metadata (title, source, ...) by article id, in index order."""
        found: dict[str, dict] = {}
        for chunk_id, _, meta in self.chunks():
            found.setdefault(meta["article_id"], {**meta, "chunk_id": chunk_id})
        return found

    def chunk_meta(self, article_id: str, start: int, end: int) -> dict:
        """Metadata (with chunk_id) of the chunk that holds ``start:end`` of an article, for its citation."""
        best = None
        for chunk_id, _, meta in zip(self.lexical.ids, self.lexical.texts, self.lexical.metas):
            if meta["article_id"] == article_id and meta["start"] <= start < meta["end"]:
                best = {**meta, "chunk_id": chunk_id}
                if end <= meta["end"]:
                    return best
        if best is None:  # the BM25 copy is older than the article: the index is being rewritten
            raise CitationNotFound(f"no indexed passage of {article_id!r} holds offset {start}; ask again")
        return best

    def quoter(self) -> Quoter:
        return Quoter(self.article_text)


# Titles (as BM25 stems) that go with names without telling one person from another: "Mr Kishida" is "Kishida".
_TITLE_WORDS = {"mr", "mrs", "ms", "dr", "presid", "prime", "minist", "secretari", "general", "chief", "leader",
                "foreign", "chancellor", "king", "queen", "envoy", "spokesperson", "the"}  # fmt: skip


def answer_overview(question: Question, docs: list[Document], library: Library, most: int = 5,
                    already_quoted: Iterable[tuple[str, int, int]] = ()) -> Answer:  # fmt: skip
    """A digest about the question's topic: the best sentence of every article that names it, then the next
    best distinct ones (maximal marginal relevance), 2-5 in all, best first, each with its marker. Sentences
    ``already_quoted`` (article id, start, end) by the previous answer are left out: "tell me more" means more."""
    topic = question.topic
    about = _about(topic, library.lexical)
    candidates = _candidate_sentences(docs)
    candidates = [p for p, words in zip(candidates, _words([p.text for p in candidates])) if about(words)]
    if not candidates:
        return abstention(question.text, f"The articles don't say anything about {topic}.")
    quoted = list(already_quoted)
    candidates = [p for p in candidates if not any(p.doc.metadata["article_id"] == a and p.start < end and start < p.end
                                                   for a, start, end in quoted)]  # fmt: skip
    quoter = library.quoter()  # a sentence that points back is quoted with the one before, or not at all
    candidates = [p for p in candidates if not leans_on_previous(p.text)
                  or quoter.lean_start(p.doc.metadata["article_id"], p.start) != p.start]  # fmt: skip
    if not candidates:
        return abstention(question.text, f"That is all the passages found say about {topic}.")
    vectors = library.vectors(candidates)
    relevance = vectors @ library.query_vector(topic)
    order = list(np.argsort(-relevance))
    chosen: list[int] = []
    for article in dict.fromkeys(candidates[n].doc.metadata["article_id"] for n in order):  # best of each article
        chosen.append(next(n for n in order if candidates[n].doc.metadata["article_id"] == article))
    chosen = chosen[:most]
    while len(chosen) < most:
        n = _most_marginal(relevance, vectors, chosen)
        if n is None or (len(chosen) >= 2 and relevance[n] < relevance[order[0]] - 0.2):
            break
        chosen.append(n)
    chosen.sort(key=lambda n: -relevance[n])
    citations: list[Citation] = []
    for n in chosen:
        c = _cite_sentence(quoter, candidates[n], len(citations) + 1, float(relevance[n]), lean=True)
        if not any(c.article_id == d.article_id and c.start < d.end and d.start < c.end for d in citations):
            citations.append(c)
    return Answer(question=question.text, text=answer_text(citations), citations=citations)


def _about(topic: str, lexical: LexicalIndex) -> Callable[[set[str]], bool]:
    """Whether a sentence's (stemmed) words are about the topic: they hold the words that carry at least half
    the rarity (idf) of one of the topic's names (titles aside: "Macron" is about "President Emmanuel Macron
    of France"), or, for a topic without names, of the topic's words."""
    from qa.retrieval import tokenize

    groups = _names(topic) or [set(tokenize([topic])[0])]
    weights = [{t: lexical.idf(t) for t in group} for group in groups]

    def covers(words: set[str], weight: dict[str, float]) -> bool:
        total = sum(weight.values())
        return total > 0 and sum(w for t, w in weight.items() if t in words) >= 0.5 * total

    return lambda words: any(covers(words, w) for w in weights)


def _most_marginal(relevance: np.ndarray, vectors: np.ndarray, chosen: list[int], trade_off: float = 0.7,
                   duplicate: float = 0.85) -> int | None:  # fmt: skip
    """Maximal marginal relevance: the sentence most relevant and least like those chosen (None: no more)."""
    best, best_score = None, -np.inf
    for n in range(len(relevance)):
        if n in chosen:
            continue
        similarity = max((float(vectors[n] @ vectors[c]) for c in chosen), default=0.0)
        if similarity >= duplicate:
            continue
        score = trade_off * relevance[n] - (1 - trade_off) * similarity
        if score > best_score:
            best, best_score = n, score
    return best


def answer_yes_no(question: Question, docs: list[Document], library: Library,
                  read: Callable[[], Answer] | None = None, most: int = 2) -> Answer:  # fmt: skip
    """The evidence for a yes/no question, the sentences closest in meaning to the question among those that
    name most of its names (when none comes close, the sentences the reader (``read``) quotes, if they name them
    too), led by "Yes." or "No." where one of them settles it (qa/verdicts.py), else by "The articles say:"."""
    names = _names(question.text)
    sentences = _candidate_sentences(docs)
    words = _words([p.text for p in sentences])
    naming = [(p, _names_most(names, w), not names or bool(names[0] & w))  # "Bankman-Fried" for "Sam Bankman-Fried"
              for p, w in zip(sentences, words) if not names or any(n <= w for n in names)]  # fmt: skip
    candidates = [p for p, _, _ in naming]
    similarity = library.vectors(candidates) @ library.query_vector(question.text) if candidates else np.zeros(0)
    ranked = [int(n) for n in np.argsort(-similarity, kind="stable")]
    quoter = library.quoter()
    # read for a verdict: the sentences most like the question that name its subject (a word of its first name;
    # qa.verdicts checks the names itself)
    pool = [n for n in ranked if naming[n][2] and similarity[n] >= VERDICT_SIMILARITY][:VERDICT_POOL]
    ranked = [n for n in ranked if naming[n][1]]  # quoted as evidence: sentences naming most of the names
    evidence = [Evidence(p.text, _text_before(quoter, p.doc.metadata["article_id"], p.start))
                for p in (candidates[n] for n in pool)]  # fmt: skip
    verdict = decide(question.text, evidence)
    order = [n for n in ranked if similarity[n] >= EVIDENCE_SIMILARITY][:most]
    if verdict:
        settling = pool[verdict.index]
        order = [settling] + [n for n in order if n != settling][: most - 1]
    if order:
        citations = [_cite_sentence(quoter, candidates[n], i + 1, float(similarity[n])) for i, n in enumerate(order)]
        return _evidence_answer(question.text, citations, verdict.value if verdict else None)
    read_answer = read() if read else abstention(question.text)
    quotes = _words([c.quote for c in read_answer.citations])
    if read_answer.abstained or not all(_names_most(names, words) for words in quotes):
        return abstention(question.text, related=read_answer.related or read_answer.citations)
    verdict = decide(question.text, [Evidence(c.quote) for c in read_answer.citations])
    if verdict:
        first = read_answer.citations.pop(verdict.index)
        read_answer.citations.insert(0, first)
        for n, c in enumerate(read_answer.citations, 1):
            c.marker = n
    answer = _evidence_answer(question.text, read_answer.citations, verdict.value if verdict else None)
    answer.short_answer, answer.confidence = read_answer.short_answer, read_answer.confidence
    return answer


def _evidence_answer(question: str, citations: list[Citation], verdict: str | None) -> Answer:
    prefix = {"yes": "Yes. ", "no": "No. "}.get(verdict or "", EVIDENCE_PREFIX)
    return Answer(question=question, text=answer_text(citations, prefix), citations=citations, verdict=verdict)


def _text_before(quoter: Quoter, article_id: str, start: int, most: int = 4) -> str:
    """Up to ``most`` sentences before ``start``: what "he", "it" or "the plan" refers to (news paragraphs are
    short, so "the proposal" often names what the paragraph before described)."""
    text = quoter.text(article_id)
    if text is None:
        return ""
    window = max(0, start - 300 * most)
    before = split_sentences(text[window:start], offset=window)[-most:]
    return text[before[0][0] : before[-1][1]] if before else ""


def _names_most(names: list[set[str]], words: set[str]) -> bool:
    """Whether the words name more than half of the names ("they" may stand for one of two people)."""
    return not names or 2 * sum(n <= words for n in names) > len(names)


def _names(text: str) -> list[set[str]]:
    """The (stemmed) words of each name in a text, titles aside: [{"kishida"}, {"south", "korea"}]."""
    from qa.retrieval import tokenize
    from qa.text.entities import key_entities

    names = key_entities(text)
    return [n for n in (set(t) - _TITLE_WORDS for t in tokenize(names)) if n] if names else []


def _words(texts: list[str]) -> list[set[str]]:
    """The (stemmed) words of each text."""
    from qa.retrieval import tokenize

    return [set(w) for w in tokenize(texts)] if texts else []


def _cite_sentence(quoter: Quoter, p: PassageSentence, marker: int, score: float, lean: bool = False) -> Citation:
    return quoter.cite(p.doc.metadata, p.start, p.end, p.text, marker, score, lean)


def _candidate_sentences(docs: list[Document]) -> list[PassageSentence]:
    """The quotable sentences of the passages, each once."""
    return list({(p.doc.metadata["article_id"], p.start): p for d in docs for p in passage_sentences(d)
                 if is_quotable(p.text) and len(p.text.split()) >= 4}.values())  # fmt: skip


def answer_mention(question: Question, library: Library, most: int = 5) -> Answer:
    """Which articles name the term (or each of "China and Russia"), how often, and one cited example each,
    counted in the whole texts."""
    quoter, total = library.quoter(), len(library.articles())
    parts, citations = [], []
    for term in _mention_terms(question.topic):
        text, cited = _mentions(term, library, quoter, total, question.every_article, len(citations) + 1, most)
        parts.append(text)
        citations += cited
    return Answer(question=question.text, text="\n".join(parts), citations=citations)


def _mention_pattern(term: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", re.IGNORECASE)


def _mention_terms(topic: str) -> list[str]:
    """The terms asked about: "China and Russia" is two names, "the liaison office and its role" one term."""
    parts = [p.strip() for p in re.split(r",\s*|\s+(?:and|or|nor)\s+", topic) if p.strip()]
    return parts if len(parts) > 1 and all(p[0].isupper() for p in parts) else [topic]


def _mentions(term: str, library: Library, quoter: Quoter, total: int, every_article: bool, first_marker: int,
              most: int) -> tuple[str, list[Citation]]:  # fmt: skip
    """What the articles say of one term: the verdict, the count and an example in each article that names it."""
    pattern = _mention_pattern(term)
    named = list(dict.fromkeys(meta["article_id"] for _, text, meta in library.chunks() if pattern.search(text)))
    counts, citations = {}, []
    for article_id in named:
        text = quoter.text(article_id) or ""
        counts[article_id] = len(pattern.findall(text))
        if len(citations) < most and (example := _first_mention(text, pattern)):
            start, end = example
            meta = library.chunk_meta(article_id, start, end)
            citations.append(quoter.cite(meta, start, end, text[start:end], first_marker + len(citations)))
    details = [f"{_times(counts[c.article_id])} in “{c.title or c.article_id}”"
               f"{f' ({c.source})' if c.source else ''}: {quoted(c)}" for c in citations]  # fmt: skip
    if len(named) > len(citations):
        details.append(f"and {len(named) - len(citations)} more articles")
    verdict = _mention_verdict(term, len(named), total, every_article)
    return verdict + (" " + "; ".join(details) + "." if details else ""), citations


def _first_mention(text: str, pattern: re.Pattern) -> tuple[int, int] | None:
    """The first quotable sentence that names the term (a heading naming it is counted, never quoted)."""
    for start, end in split_sentences(text):
        if pattern.search(text[start:end]) and is_quotable(text[start:end]):
            return start, end
    return None


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _mention_verdict(term: str, named: int, total: int, every_article: bool) -> str:
    all_of = "the article" if total == 1 else "both articles" if total == 2 else f"all {total} articles"
    if named == 0:
        return f"No. {'The article does not' if total == 1 else f'None of the {total} articles'} mention" \
               f"{'' if total == 1 else 's'} “{term}”."  # fmt: skip
    if named == total:
        return f"Yes, {all_of} mention{'s' if total == 1 else ''} “{term}”:"
    if every_article:
        return f"No, only {named} of the {total} articles mention{'s' if named == 1 else ''} “{term}”:"
    return f"Yes, {named} of the {total} articles mention{'s' if named == 1 else ''} “{term}”:"


def answer_summary(question: Question, library: Library, per_article: int = 2, most_articles: int = 5) -> Answer:
    """The lead sentences of the article named (by title or source words), or of each article in scope."""
    scope = library.articles()
    chosen = _named_articles(question.topic, scope) if question.topic else list(scope)[:most_articles]
    if not chosen:
        return abstention(question.text, f"No indexed article has “{question.topic}” in its title or source.")
    quoter = library.quoter()
    lead_count = per_article + 1 if len(chosen) == 1 else per_article
    parts, citations = [], []
    for article_id in chosen:
        text = quoter.text(article_id) or ""
        captions = caption_spans(text)
        lead = [(s, e) for s, e in split_sentences(text) if is_quotable(text[s:e]) and len(text[s:e].split()) >= 5
                and not any(a <= s and e <= b for a, b in captions)][:lead_count]  # fmt: skip
        cited = [quoter.cite(library.chunk_meta(article_id, s, e), s, e, text[s:e], len(citations) + n + 1)
                 for n, (s, e) in enumerate(lead)]  # fmt: skip
        citations += cited
        meta = scope[article_id]
        source = f" ({meta['source']})" if meta.get("source") else ""
        label = f"“{meta.get('title') or article_id}”{source}: "
        parts.append(answer_text(cited, prefix=label if len(chosen) > 1 else ""))
    return Answer(question=question.text, text="\n".join(parts), citations=citations)


def _named_articles(name: str, scope: dict[str, dict]) -> list[str]:
    """The articles whose title and source hold most of the name's words."""
    words = set(re.findall(r"\w+", name.lower())) - {"the", "a", "an", "of", "article", "story", "piece"}
    if not words:
        return list(scope)
    overlap = {a: len(words & set(re.findall(r"\w+", f"{m.get('title', '')} {m.get('source', '')}".lower())))
               for a, m in scope.items()}  # fmt: skip
    best = max(overlap.values(), default=0)
    return [a for a, n in overlap.items() if n == best] if best >= max(1, len(words) / 2) else []
