"""The answerer article-qa had before its trained reader, kept only as a baseline for bench/run_all.py and
bench/tradeoff.py: a hand-weighted sentence scorer (similarity, term coverage, answer-type regexes) that quotes
the best sentence, or abstains below a threshold calibrated on the benchmark sets (0.48).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableConfig

from qa.answering import ABSTENTION_TEXT, PassageSentence, passage_sentences, sentence_vectors
from qa.api import Assistant
from qa.citations import Answer, Citation, citation_for
from qa.embeddings import Embedder
from qa.retrieval import tokenize
from qa.search_index import SearchIndex
from qa.store import ArticleStore

DEFAULT_ABSTAIN_THRESHOLD = 0.48

# Weights of the evidence score; the abstention threshold on that score is calibrated by bench/calibrate.py.
W_SIMILARITY, W_SENTENCE_TERMS, W_CONTEXT_TERMS, TYPE_PENALTY = 0.5, 0.3, 0.2, 0.15
# Long questions spread their weight over many terms, so no sentence covers them as well as a short
# question's: the evidence score gets LENGTH_BONUS * ln(question terms), found by bench/calibrate.py sweeps.
LENGTH_BONUS = 0.05
# Extra sentences join the answer only when nearly as good as the best one.
EXTRA_SENTENCE_MARGIN = 0.06
MIN_SENTENCE_CHARS = 12

_MONTHS = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
_DAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE_LIKE = re.compile(
    rf"\b(?:1[0-9]{{3}}|20[0-9]{{2}}|{_MONTHS}|{_DAYS}|\d+(?:st|nd|rd|th)\b|centur(?:y|ies)|decades?|"
    r"yesterday|today|tomorrow|ago|earlier this|last (?:year|month|week)|\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.))",
    re.I,
)
_NUMBER_LIKE = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|dozen|half|double|twice|single|several)\b",
    re.I,
)
_QUESTION_TYPES = [
    (
        re.compile(r"^\s*(?:when\b|what (?:year|date|day|month|time|century)|which (?:year|date|day|month))", re.I),
        "date",
    ),
    (
        re.compile(r"\bhow (?:many|much|long|far|old|big|large|often)\b|\bwhat (?:percentage|number|amount)\b", re.I),
        "number",
    ),
    (
        re.compile(
            r"^\s*(?:who|whom|whose|where)\b|\b(?:which|what|in which|in what) (?:city|cities|country|countries|"
            r"town|state|nation|company|companies|organi[sz]ation|person|people|leaders?|president|minister)\b",
            re.I,
        ),
        "name",
    ),
]
_WORD = re.compile(r"[A-Z][\w'’-]+|\w+")


def expected_answer_type(question: str) -> str | None:
    for pattern, kind in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


def has_answer_type(kind: str | None, sentence: str, question: str) -> bool:
    """Whether the sentence contains something of the kind the question asks for (a date, number or name)."""
    if kind == "date":
        return bool(_DATE_LIKE.search(sentence))
    if kind == "number":
        return bool(_NUMBER_LIKE.search(sentence))
    if kind == "name":
        asked = {w.lower() for w in _WORD.findall(question)}
        return any(w[0].isupper() and w.lower() not in asked for w in _WORD.findall(sentence)[1:])
    return True


@dataclass
class ScoredSentence:
    doc: Document
    start: int  # offsets into the article
    end: int
    text: str
    score: float


class LegacyAnswerer(Runnable[dict, Answer]):
    """Quote the best-supported sentence(s) of the retrieved passages, or abstain.

    Input: ``{"question": str, "documents": list[Document]}`` (documents from HybridRetriever).
    """

    def __init__(
        self,
        embedder: Embedder,
        lexical: SearchIndex,
        store: ArticleStore | None = None,
        threshold: float = DEFAULT_ABSTAIN_THRESHOLD,
        max_sentences: int = 2,
    ):
        if not 1 <= max_sentences <= 5:
            raise ValueError("max_sentences must be 1..5")
        self.embedder, self.lexical, self.store = embedder, lexical, store
        self.threshold, self.max_sentences = threshold, max_sentences

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs) -> Answer:
        question, docs = input["question"], input["documents"]
        scored = self.score_sentences(question, docs)
        best = scored[0] if scored else None
        if best is None or best.score < self.threshold:
            related = [self._citation(s, i + 1) for i, s in enumerate(_one_per_chunk(scored)[:3])]
            return Answer(question=question, text=ABSTENTION_TEXT, abstained=True, related=related)
        chosen = [best]
        for s in scored[1:]:
            if len(chosen) >= self.max_sentences or s.score < max(self.threshold, best.score - EXTRA_SENTENCE_MARGIN):
                break
            chosen.append(s)  # candidates are distinct sentences already
        citations = [self._citation(s, i + 1) for i, s in enumerate(chosen)]
        text = " ".join(f"{c.quote} [{c.marker}]" for c in citations)
        return Answer(question=question, text=text, citations=citations)

    def score_sentences(self, question: str, docs: list[Document]) -> list[ScoredSentence]:
        """Every distinct sentence of the documents, scored as evidence for the question, best first."""
        candidates: dict[tuple[str, int], PassageSentence] = {}
        for doc in docs:
            for p in passage_sentences(doc):
                if len(p.text) >= MIN_SENTENCE_CHARS:
                    candidates.setdefault((doc.metadata["article_id"], p.start), p)
        if not candidates:
            return []
        items = list(candidates.values())
        similarity = sentence_vectors(items, self.store, self.embedder) @ self.embedder.query_vector(question)
        q_terms = self._weighted_terms(question)
        kind = expected_answer_type(question)
        length_bonus = LENGTH_BONUS * float(np.log(max(len(q_terms), 1)))
        sentence_tokens = tokenize([p.text for p in items])
        context_tokens = {id(d): set(toks) for d, toks in zip(docs, tokenize([d.page_content for d in docs]))}
        scored = []
        for p, sim, toks in zip(items, similarity, sentence_tokens):
            score = (
                length_bonus
                + W_SIMILARITY * float(sim)
                + W_SENTENCE_TERMS * _coverage(q_terms, set(toks))
                + W_CONTEXT_TERMS * _coverage(q_terms, context_tokens[id(p.doc)])
                - (0.0 if has_answer_type(kind, p.text, question) else TYPE_PENALTY)
            )
            if q_terms and set(toks) <= set(q_terms):
                score -= TYPE_PENALTY  # a sentence with nothing beyond the question's words answers nothing
            scored.append(ScoredSentence(p.doc, p.start, p.end, p.text, score))
        scored.sort(key=lambda s: -s.score)
        return scored

    def _weighted_terms(self, question: str) -> dict[str, float]:
        return {t: self.lexical.idf(t) for t in set(tokenize([question])[0])}

    @staticmethod
    def _citation(s: ScoredSentence, marker: int) -> Citation:
        return citation_for(s.doc.metadata, s.start, s.end, s.text, marker, s.score)


def _coverage(weights: dict[str, float], tokens: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0


def _one_per_chunk(scored: list[ScoredSentence]) -> list[ScoredSentence]:
    seen, out = set(), []
    for s in scored:
        if s.doc.metadata["chunk_id"] not in seen:
            seen.add(s.doc.metadata["chunk_id"])
            out.append(s)
    return out


class LegacyAssistant(Assistant):
    """An Assistant that answers with the old sentence scorer; ``threshold`` None: its calibrated 0.48."""

    def __init__(self, settings, threshold: float | None = None) -> None:
        super().__init__(settings)
        self.threshold = DEFAULT_ABSTAIN_THRESHOLD if threshold is None else threshold

    def answerer(self) -> LegacyAnswerer:
        return LegacyAnswerer(
            self.embedder, self.lexical, self.store, self.threshold, self.settings.max_answer_sentences
        )
