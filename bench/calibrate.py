"""Calibrate the extractive answerer's abstention threshold on question sets, and show the trade-off.

For every question it records the best evidence score and whether the answer at that point would be right;
then it sweeps thresholds and picks the one with the best balanced accuracy (mean of answer accuracy on
answerable questions and abstention accuracy on unanswerable ones), summed over the sets.

usage: python bench/calibrate.py [--sets seeds squad2 multihoprag] [--out bench/results/calibration.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SETS, assistant_for, load_set  # noqa: E402

from qa.evaluation import normalise  # noqa: E402


def collect(name: str, work: Path) -> list[tuple[float, bool, bool]]:
    """(best score, answerable, right if answered) per question."""
    corpus, questions = load_set(name)
    assistant = assistant_for(name, corpus, work)
    assistant.settings.abstain_threshold = -1.0  # always answer, so every best score is seen
    rows = []
    for q in questions:
        answer, _ = assistant.ask_with_passages(q.question)
        text = normalise(answer.text)
        right = any(normalise(a) and normalise(a) in text for a in q.answers)
        rows.append((answer.citations[0].score if answer.citations else 0.0, q.answerable, right))
    return rows


def sweep(rows_by_set: dict[str, list], thresholds: np.ndarray):
    table = []
    for t in thresholds:
        per_set = {}
        for name, rows in rows_by_set.items():
            ans = [(s, r) for s, a, r in rows if a]
            una = [s for s, a, _ in rows if not a]
            accuracy = sum(r and s >= t for s, r in ans) / max(len(ans), 1)
            abstention = sum(s < t for s in una) / max(len(una), 1)
            per_set[name] = (accuracy, abstention)
        balanced = float(np.mean([(a + b) / 2 for a, b in per_set.values()]))
        table.append((float(t), balanced, per_set))
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--work", type=Path, default=Path("bench/work"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/calibration.md"))
    args = parser.parse_args()
    rows = {name: collect(name, args.work) for name in args.sets}
    table = sweep(rows, np.round(np.arange(0.30, 0.701, 0.01), 2))
    best = max(table, key=lambda row: row[1])
    lines = ["# Abstention threshold calibration", "",
             f"Sets: {', '.join(args.sets)}. Chosen threshold: **{best[0]:.2f}** (best mean balanced accuracy {best[1]:.3f}).",
             "", "| threshold | balanced | " + " | ".join(f"{n} accuracy | {n} abstention" for n in args.sets) + " |",
             "|---" * (2 + 2 * len(args.sets)) + "|"]  # fmt: skip
    for t, balanced, per_set in table:
        cells = " | ".join(f"{a:.3f} | {b:.3f}" for a, b in per_set.values())
        mark = " **<-**" if t == best[0] else ""
        lines.append(f"| {t:.2f}{mark} | {balanced:.3f} | {cells} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
