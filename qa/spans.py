"""Span decoding: the best answer span of one window from a span model's start and end logits.

Numpy only (no model, no project settings), so that the training script can use the product's own decoding
where only PyTorch and transformers are installed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_ANSWER_TOKENS = 30


@dataclass(frozen=True)
class SpanScore:
    """The best span of one window, in token positions, with its score and the window's no-answer score."""

    start: int
    end: int
    score: float
    null_score: float

    @property
    def margin(self) -> float:
        """How much better the span scores than "no answer" (negative: the window says there is none)."""
        return self.score - self.null_score


def _span_scores(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    first: int,
    last: int,
    max_answer_tokens: int,
    sentence_of: np.ndarray | None,
) -> np.ndarray:
    """start + end logit of every span of the passage's tokens first..last (rows: start, columns: end); -inf where
    the span is not allowed (ends before it starts, too long, or crosses a sentence end)."""
    starts = np.asarray(start_logits[first : last + 1], dtype=np.float64)
    ends = np.asarray(end_logits[first : last + 1], dtype=np.float64)
    pair = starts[:, None] + ends[None, :]
    length = np.arange(len(ends))[None, :] - np.arange(len(starts))[:, None]
    invalid = (length < 0) | (length >= max_answer_tokens)
    if sentence_of is not None:
        invalid |= sentence_of[:, None] != sentence_of[None, :]
    pair[invalid] = -np.inf
    return pair


def best_span(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    first: int,
    last: int,
    max_answer_tokens: int = MAX_ANSWER_TOKENS,
    sentence_of: np.ndarray | None = None,
) -> SpanScore:
    """Best span with first <= start <= end <= last (the passage's tokens) and at most max_answer_tokens long;
    with ``sentence_of`` (a sentence number for each of those tokens), inside one sentence."""
    pair = _span_scores(start_logits, end_logits, first, last, max_answer_tokens, sentence_of)
    s, e = np.unravel_index(int(np.argmax(pair)), pair.shape)
    null = float(start_logits[0]) + float(end_logits[0])
    return SpanScore(first + int(s), first + int(e), float(pair[s, e]), null)


def sentence_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    first: int,
    last: int,
    sentence_of: np.ndarray,
    max_answer_tokens: int = MAX_ANSWER_TOKENS,
) -> list[SpanScore]:
    """The best span of each sentence of the passage (``sentence_of``: a sentence number for each of its tokens),
    in sentence order. The window's best span is the best of these; the others let the answerer pass over a
    sentence that must not be quoted (a photo caption) for the next one that says the same."""
    pair = _span_scores(start_logits, end_logits, first, last, max_answer_tokens, sentence_of)
    row_end = pair.argmax(axis=1)
    row_score = pair[np.arange(len(pair)), row_end]
    null = float(start_logits[0]) + float(end_logits[0])
    found = []
    for n in np.unique(sentence_of):
        rows = np.flatnonzero(sentence_of == n)
        r = int(rows[np.argmax(row_score[rows])])
        if np.isfinite(row_score[r]):
            found.append(SpanScore(first + r, first + int(row_end[r]), float(row_score[r]), null))
    return found
