"""The answer decision: which candidate sentence answers a question, and whether to answer at all.

Every candidate (the reader's best span in one retrieved sentence) gets the signals of ``SIGNALS``: the reader's
span margin over "no answer" and its distance to the best one, the dense similarity of the sentence to the
question, how much of the question's content (weighted by rarity, as BM25 weighs it) the sentence and the one
before it cover, whether the span is of the type the question asks for (a date for "when", a number for "how
many"), whether it merely repeats the question, its passage's retrieval rank, its place in the article, and
whether it is a photo caption. Two logistic regressions fitted with scikit-learn (training/train_decision.py,
on training questions run through the product's own retrieval; card: qa/models/decision/MODEL.md) turn them into
a decision: the ranker orders the candidates, the calibrator gives the probability that the best one is right,
which is ``Answer.confidence``; below the fitted threshold the bot abstains. At question time the models are
numpy dot products over coefficients kept as JSON (no pickles: any scikit-learn version reads nothing).

>>> model = DecisionModel.shipped()
>>> sorted(model.signals) == sorted(SIGNALS)
True
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.reader import Span

SHIPPED_DECISION = Path(__file__).resolve().parent / "models" / "decision" / "decision.json"
# The most candidates weighed per question: the reader's best spans, one per sentence.
MAX_CANDIDATES = 8

SIGNALS = (
    "margin",  # the reader's span score over its window's "no answer" (start + end logits)
    "margin_gap",  # how far below the best candidate's margin
    "rank",  # log(1 + position by margin)
    "null_score",  # the window's own "no answer" score
    "similarity",  # cosine of the sentence and the question (all-MiniLM-L6-v2)
    "similarity_gap",  # how far below the most similar candidate
    "coverage",  # share of the question's content words in the sentence (and the one before it)
    "rare_coverage",  # the same, weighted by each word's idf
    "echo",  # share of the span's words that the question already has (an answer that repeats the question)
    "type_match",  # +1 the span is of the asked type, -1 it is of another, 0 unknown
    "span_words",  # log(1 + words in the span)
    "passage_rank",  # log(1 + the passage's retrieval rank)
    "position",  # where the sentence starts in its article (0 first, 1 last)
    "caption",  # 1 for a photo caption
    "agreement",  # log(1 + other candidates whose span says the same: content-word F1 >= 0.5 with this one's)
)

_MONTHS = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"  # fmt: skip
_DATE = re.compile(rf"\b(?:{_MONTHS}\.?\b|\d{{3,4}}s?\b|(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|century\b|"
                   rf"year|decade|week|morning|evening|night|ago\b|today|yesterday|tomorrow)", re.IGNORECASE)  # fmt: skip
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
                     r"fifty|hundred|thousand|million|billion|dozen|half|several|many|few)\b", re.IGNORECASE)  # fmt: skip
_WORD = re.compile(r"[A-Za-z][\w'’-]*")


def asked_type(question: str) -> str:
    """What the question asks for: "date", "number", "name" (who, where, which person or place), or ""."""
    q = question.lower()
    if re.search(r"\b(?:when|what\s+(?:year|date|day|month|time)|which\s+(?:year|date|day|month)|since\s+when|"
                 r"how\s+long\s+ago)\b", q):  # fmt: skip
        return "date"
    if re.search(r"\bhow\s+(?:many|much|long|old|far|big|large|often|tall|high|fast)\b|\bwhat\s+(?:percentage|"
                 r"number|amount|share)\b", q):  # fmt: skip
        return "number"
    if re.search(r"\b(?:who|whom|whose|where)\b", q):
        return "name"
    return ""


def span_type_match(question_type: str, span: str) -> float:
    """+1 when the span is of the asked type, -1 when it clearly is not, 0 when the question asks for no type."""
    if not question_type:
        return 0.0
    if question_type == "date":
        return 1.0 if _DATE.search(span) else -1.0
    if question_type == "number":
        return 1.0 if _NUMBER.search(span) else -1.0
    words = _WORD.findall(span)
    return 1.0 if any(w[0].isupper() for w in words) else -1.0


@dataclass(frozen=True)
class Candidate:
    """One candidate answer: the reader's span, the sentence holding it (and the one before), and facts about it."""

    span: Span
    sentence: str
    before: str = ""
    caption: bool = False
    position: float = 0.0


@dataclass(frozen=True)
class Scored:
    """A candidate with the ranker's score (a logit) over it."""

    candidate: Candidate
    score: float


@dataclass(frozen=True)
class Decision:
    """The candidates best first, the probability that the first is right, and whether to answer with it."""

    ranked: list[Scored]
    probability: float
    answer: bool


class SignalReader:
    """Computes ``SIGNALS`` for the candidates of one question.

    ``vectors`` gives one unit vector per candidate (its sentence), ``query_vector`` the question's, ``tokens``
    the stemmed content words of texts (qa.retrieval.tokenize), ``idf`` a word's rarity in the index."""

    def __init__(self, vectors: Callable[[Sequence[Candidate]], np.ndarray], query_vector: Callable[[str], np.ndarray],
                 tokens: Callable[[list[str]], list[list[str]]], idf: Callable[[str], float]) -> None:  # fmt: skip
        self.vectors, self.query_vector, self.tokens, self.idf = vectors, query_vector, tokens, idf

    def signals(self, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
        """A (candidates x SIGNALS) matrix."""
        if not candidates:
            return np.zeros((0, len(SIGNALS)))
        similarity = self.vectors(candidates) @ self.query_vector(question)
        asked, *words = self.tokens([question] + [f"{c.before} {c.sentence}" for c in candidates]
                                    + [c.span.text for c in candidates])  # fmt: skip
        context, spans = words[: len(candidates)], words[len(candidates) :]
        asked_words = set(asked)
        weight = {w: self.idf(w) for w in asked_words}
        total = sum(weight.values()) or 1.0
        margins = np.array([c.span.margin for c in candidates])
        agreeing = agreement_counts(spans)
        kind = asked_type(question)
        rows = []
        for n, c in enumerate(candidates):
            held = asked_words & set(context[n])
            span_words = spans[n]
            rows.append({
                "margin": c.span.margin,
                "margin_gap": float(margins.max() - c.span.margin),
                "rank": math.log1p(int(np.sum(margins > c.span.margin))),
                "null_score": c.span.null_score,
                "similarity": float(similarity[n]),
                "similarity_gap": float(similarity.max() - similarity[n]),
                "coverage": len(held) / len(asked_words) if asked_words else 0.0,
                "rare_coverage": sum(weight[w] for w in held) / total,
                "echo": sum(w in asked_words for w in span_words) / len(span_words) if span_words else 0.0,
                "type_match": span_type_match(kind, c.span.text),
                "span_words": math.log1p(len(c.span.text.split())),
                "passage_rank": math.log1p(c.span.doc.metadata.get("rank", 0)),
                "position": c.position,
                "caption": float(c.caption),
                "agreement": math.log1p(agreeing[n]),
            })  # fmt: skip
        return np.array([[row[s] for s in SIGNALS] for row in rows], dtype=np.float64)


def agreement_counts(span_words: Sequence[Sequence[str]]) -> list[int]:
    """For each span (its stemmed content words), how many other spans say the same: token F1 of at least 0.5
    ("French President Emmanuel Macron" and "President Emmanuel Macron of France" agree)."""
    sets = [set(w) for w in span_words]

    def same(a: set[str], b: set[str]) -> bool:
        common = len(a & b)
        return common > 0 and 2 * common / (len(a) + len(b)) >= 0.5

    return [sum(same(a, b) for m, b in enumerate(sets) if m != n) for n, a in enumerate(sets)]


@dataclass(frozen=True)
class _Logistic:
    """A fitted logistic regression over standardised inputs: coefficients, intercept, the inputs' means and
    scales."""

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def from_json(cls, data: dict) -> _Logistic:
        return cls(np.array(data["coef"], dtype=np.float64), float(data["intercept"]),
                   np.array(data["mean"], dtype=np.float64), np.array(data["scale"], dtype=np.float64))  # fmt: skip

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


def calibrator_inputs(scores: np.ndarray, signals: np.ndarray) -> np.ndarray:
    """What the calibrator reads of a question's ranked candidates: the best one's ranker score, its lead over
    the second, and the best one's margin, similarity and agreement. ``scores`` best first, ``signals`` in the same order."""
    second = scores[1] if len(scores) > 1 else scores[0] - 10.0
    return np.array([scores[0], scores[0] - second, signals[0, SIGNALS.index("margin")],
                     signals[0, SIGNALS.index("similarity")], signals[0, SIGNALS.index("agreement")]],
                    dtype=np.float64)  # fmt: skip


CALIBRATOR_INPUTS = ("best_score", "lead", "best_margin", "best_similarity", "best_agreement")


class DecisionModel:
    """The fitted ranker, calibrator and threshold (qa/models/decision/decision.json)."""

    def __init__(self, data: dict) -> None:
        self.signals = tuple(data["signals"])
        if self.signals != SIGNALS:
            raise ValueError(f"the decision model was fitted on other signals: {self.signals}")
        self.ranker = _Logistic.from_json(data["ranker"])
        self.calibrator = _Logistic.from_json(data["calibrator"])
        self.threshold = float(data["threshold"])
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("the decision threshold must be a probability in (0, 1)")

    @classmethod
    @functools.cache
    def shipped(cls) -> DecisionModel:
        return cls(json.loads(SHIPPED_DECISION.read_text(encoding="utf-8")))

    def decide(self, candidates: Sequence[Candidate], signals: np.ndarray, threshold: float | None = None) -> Decision:
        """The candidates ranked, the calibrated probability that the best is right, and whether that clears
        ``threshold`` (default: the fitted one)."""
        if not candidates:
            return Decision([], 0.0, False)
        scores = self.ranker.logit(signals)
        order = np.argsort(-scores, kind="stable")
        ranked = [Scored(candidates[n], float(scores[n])) for n in order]
        z = float(self.calibrator.logit(calibrator_inputs(scores[order], signals[order])))
        probability = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
        return Decision(ranked, probability, probability >= (self.threshold if threshold is None else threshold))
