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

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig

from qa.citations import Answer, Citation, ShortAnswer
from qa.decision import MAX_CANDIDATES, Candidate, Decision, DecisionModel, SignalReader

# The answers read from whole articles and the passage tools, importable from here as before (qa.api, qa.ui_text,
# qa.evaluation, qa.generative, qa.verification, bench/, training/, tests):
from qa.library_answers import (  # noqa: F401
    EVIDENCE_PREFIX,
    EVIDENCE_SIMILARITY,
    VERDICT_POOL,
    VERDICT_SIMILARITY,
    answer_mention,
    answer_overview,
    answer_summary,
    answer_yes_no,
)
from qa.lists import asks_for_several, coordinated_items, item_key, merge_items, plays_role
from qa.passages import (  # noqa: F401
    ABSTENTION_TEXT,
    CAPTION_LABEL,
    Library,
    PassageSentence,
    Quoter,
    _text_before,
    abstention,
    answer_text,
    passage_sentences,
    quoted,
    sentence_vectors,
)
from qa.reader import Reader, Reading, Span, calibration, confidence
from qa.settings import DEFAULT_READER_MODEL
from qa.squad import normalize_answer
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
        # max_sentences and min_confidence are Settings' max_answer_sentences and min_confidence, bounded there
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
        for (_span, items), citation in zip(found, _citations_of(answer, [span for span, _ in found])):
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
    """ "A", "A and B", "A, B and C"."""
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
