"""Answer accuracy against abstention over the threshold: the answer decision, the trained reader alone and the
old sentence scorer.

For every question of a set it records the answerer's score (the decision's calibrated probability; the reader's
margin over "no answer"; the old scorer's evidence score) and whether the answer at that point would be right, then sweeps the threshold:
each point is (abstention accuracy on unanswerable questions, answer accuracy on answerable ones). The
thresholds come from the answerers' own calibration, never from these sets; this only shows the trade-off.
Every question is read as one with a span for an answer: ``Assistant.ask`` sends yes/no questions (and questions
about mentions, summaries and overviews) to answerers of their own, so at the default threshold these figures can
differ from bench/results/benchmark.md's by the questions it routes there (most on multihoprag).

usage: python bench/tradeoff.py [--sets squad2 multihoprag seeds]   (writes bench/results/tradeoff.md, .png)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, assistant_for, load_set  # noqa: E402
from legacy_answerer import DEFAULT_ABSTAIN_THRESHOLD, LegacyAssistant  # noqa: E402

from qa.answering import ExtractiveAnswerer  # noqa: E402
from qa.decision import DecisionModel  # noqa: E402
from qa.evaluation import normalise  # noqa: E402
from qa.reader import calibration  # noqa: E402
from qa.settings import DEFAULT_READER_MODEL  # noqa: E402


def is_right(text: str, answers: list[str]) -> bool:
    text = normalise(text)
    return any(normalise(a) and normalise(a) in text for a in answers)


def collect(name: str, work: Path) -> dict[str, list[tuple[float, bool, bool]]]:
    """(score, answerable, right if answered) per question, for each answerer."""
    corpus, questions = load_set(name)
    new = assistant_for(name, corpus, work)
    old = LegacyAssistant(new.settings, threshold=-1.0)  # always answers, so every score is seen
    always = ExtractiveAnswerer(new.reader, threshold=-1e9)
    # the decision answering at any confidence, so every question's probability and chosen answer are seen
    deciding = ExtractiveAnswerer(new.reader, article_text=new.article_text, signals=new.signal_reader(),
                                  min_confidence=1e-9)  # fmt: skip
    rows: dict[str, list] = {"decision": [], "reader": [], "old scorer": []}
    for q in questions:
        docs = new.retriever().invoke(q.question)
        reading = new.reader.read(q.question, docs)
        rows["reader"].append(
            (reading.margin, q.answerable, is_right(always.answer(q.question, reading).text, q.answers))
        )
        decided = deciding.answer(q.question, reading)
        rows["decision"].append((decided.confidence or 0.0, q.answerable, is_right(decided.text, q.answers)))
        answer = old.answerer().invoke({"question": q.question, "documents": docs})
        score = answer.citations[0].score if answer.citations else 0.0
        rows["old scorer"].append((score, q.answerable, is_right(answer.text, q.answers)))
    return rows


def curve(rows: list[tuple[float, bool, bool]]) -> list[tuple[float, float, float]]:
    """(threshold, abstention accuracy, answer accuracy) at every distinct score, lowest threshold first."""
    scores = np.array([r[0] for r in rows], dtype=float)
    answerable = np.array([r[1] for r in rows])
    right = np.array([r[2] for r in rows])
    points = []
    for t in [-np.inf, *np.unique(scores), np.inf]:
        answered = scores >= t
        abstain = float(np.mean(~answered[~answerable])) if (~answerable).any() else 1.0
        accuracy = float(np.mean((answered & right)[answerable])) if answerable.any() else 0.0
        points.append((float(t), abstain, accuracy))
    return points


def at_threshold(rows: list[tuple[float, bool, bool]], threshold: float) -> tuple[float, float]:
    """(abstention accuracy, answer accuracy) when answering at scores >= threshold."""
    answered = [(score >= threshold, answerable, right) for score, answerable, right in rows]
    unanswerable = [a for a, answerable, _ in answered if not answerable]
    answerable = [a and right for a, answerable, right in answered if answerable]
    return (1 - sum(unanswerable) / len(unanswerable) if unanswerable else 1.0,
            sum(answerable) / len(answerable) if answerable else 0.0)  # fmt: skip


def upper_envelope(points: list[tuple[float, float, float]], at: float) -> float:
    """The best answer accuracy reachable with at least ``at`` abstention accuracy."""
    return max((acc for _, abstain, acc in points if abstain >= at), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=["squad2", "multihoprag", "seeds"])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tradeoff.md")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.sets), figsize=(5 * len(args.sets), 4.2), squeeze=False)
    defaults = ["", "At each answerer's default threshold (the dots in the plot):", "",
                "| set | answerer | threshold | abstention accuracy | answer accuracy |", "|---|---|---|---|---|"]  # fmt: skip
    lines = ["# Answer accuracy against abstention, over the threshold", "",
             "Each answerer's best answer accuracy at a given abstention accuracy (its upper envelope over all thresholds).",
             "Every question is read as one with a span for an answer; `qa ask` sends yes/no questions (and mentions,",
             "summaries, overviews) to answerers of their own, so benchmark.md's figures can differ by those questions.", "",
             "| set | abstention >= | decision | reader | old scorer |", "|---|---|---|---|---|"]  # fmt: skip
    for ax, name in zip(axes[0], args.sets):
        rows = collect(name, args.work)
        curves = {k: curve(v) for k, v in rows.items()}
        for label, points in curves.items():
            ax.step([p[1] for p in points], [p[2] for p in points], where="post", label=label)
        ax.set(title=name, xlabel="abstention accuracy (unanswerable)", ylabel="answer accuracy (answerable)",
               xlim=(0, 1.02), ylim=(0, 1.02))  # fmt: skip
        ax.grid(alpha=0.3)
        ax.legend()
        for at in (0.0, 0.25, 0.5, 0.6, 0.75, 0.9, 1.0):
            lines.append(
                f"| {name} | {at:.2f} | {upper_envelope(curves['decision'], at):.3f} | "
                f"{upper_envelope(curves['reader'], at):.3f} | {upper_envelope(curves['old scorer'], at):.3f} |"
            )
        defaults_of = (("decision", DecisionModel.shipped().threshold), ("reader", calibration(DEFAULT_READER_MODEL)["threshold"]),
                       ("old scorer", DEFAULT_ABSTAIN_THRESHOLD))  # fmt: skip
        for n, (label, default) in enumerate(defaults_of):
            abstain, acc = at_threshold(rows[label], default)
            defaults.append(f"| {name} | {label} | {default:g} | {abstain:.3f} | {acc:.3f} |")
            ax.plot([abstain], [acc], "o", color=f"C{n}")
        print("\n".join(lines[-7:] + defaults[-3:]), flush=True)
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=110)
    args.out.write_text("\n".join(lines + defaults) + f"\n\n![trade-off]({args.out.with_suffix('.png').name})\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
