"""SQuAD-style answer metrics, as in the official SQuAD 2.0 evaluation script.

Exact match and token F1 after the official normalisation (lower case, no punctuation, no articles); an
unanswerable question (no gold answers) scores 1 only when the prediction is empty. ``best_threshold``
sweeps the no-answer threshold the way the script's ``best_f1`` does.

>>> round(f1_score("the Vilnius summit", "Vilnius"), 2)
0.67
>>> exact_match("The Normans.", "normans")
1.0
"""

from __future__ import annotations

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_of(metric, prediction: str, golds: list[str]) -> float:
    """The metric against the best-matching gold answer; no gold answers means the question is unanswerable."""
    return max((metric(prediction, g) for g in golds), default=float(not prediction))


def best_threshold(
    no_answer_margins: list[float], f1_if_answered: list[float], answerable: list[bool]
) -> tuple[float, float]:
    """The no-answer threshold with the best mean F1, and that F1 (in 0..1).

    A question is answered when its margin (best span score minus the no-answer score) is at least the
    threshold; abstaining scores 1 on an unanswerable question and 0 on an answerable one.
    """
    n = len(no_answer_margins)
    if n == 0:
        return 0.0, 0.0
    order = sorted(range(n), key=lambda i: no_answer_margins[i])
    # Threshold above every margin: everything abstained.
    score = sum(not a for a in answerable)
    best_score, best = score, max(no_answer_margins) + 1e-6
    for i in reversed(order):  # lower the threshold one question at a time: i becomes answered
        score += f1_if_answered[i] - (not answerable[i])
        if score > best_score:
            best_score, best = score, no_answer_margins[i]
    return best, best_score / n
