"""Answers of different shapes on a held-out question set: facts, yes/no verdicts, lists, follow-ups, overviews
and questions the articles do not answer (bench/data/answer-shapes-{dev,test}.jsonl, 110 questions over the seed
articles, SQuAD 2.0 paragraphs and MultiHop-RAG news snippets).

Each question is asked with ``Assistant.ask`` on its corpus's index (bench/common.py), a follow-up turn with the
conversation's earlier Answers as history. The last turn of a question is the one scored for its shape; the
earlier turns of follow-ups are scored as plain questions and reported apart. Figures:

- answer accuracy (answerable turns: not abstained and a gold phrase in the answer text, compared after
  ``qa.evaluation.normalise``) and abstention accuracy (unanswerable turns: abstained), per shape and per corpus;
- verdicts (``getattr(answer, "verdict", None)``: "yes", "no" or None) on every yes/no turn: right, wrong (the
  opposite), missing (None where one was expected), and given where the articles do not settle it (wrong too);
- lists: the share of answers holding every item (any alternative, whole words) and the mean item recall;
- follow-ups: last-turn accuracy, and the share whose rewritten question (``standalone_question``) holds a
  forbidden string (``standalone_must_not``);
- quotes: citations with an unbalanced quotation mark, and quotes that begin with a word pointing back ("It",
  "They", "This", "But", "However", "The two", ...), in overview answers and in all answers;
- calibration: expected calibration error (10 equal-width bins) of ``answer.confidence`` as P(right) over the
  answers given (not abstained; answering an unanswerable turn counts as wrong), and the mean confidence of right
  and of wrong answers;
- warm ask latency p50 per corpus (after one untimed warm-up question).

The split was drawn once, stratified by shape, corpus and expected verdict, with random.Random(31). Tune on dev
only; the test half is for the final figures.

usage: python bench/answer_shapes.py [--split dev|test|both] [--out bench/results/answer_shapes.md]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SETS, assistant_for, cpu_description

from qa.evaluation import normalise

DATA = ROOT / "bench" / "data"
SHAPES = ("fact", "verdict", "list", "followup", "overview", "unanswerable")
CORPORA = ("seeds", "squad2", "multihoprag")
EARLIER = "followup, earlier turns"
WARM_UP = "What do the articles say?"
BACK_POINTING = re.compile(
    r"^[\W_]*(he|she|it|its|they|their|his|her|this|that|these|those|both|and|but|so|also|then|such|"
    r"at the same time|meanwhile|however|the two)\b", re.IGNORECASE)  # fmt: skip


@dataclass
class Result:
    """One asked turn: what was expected and what came back."""

    row: dict
    index: int
    answer: object
    ms: float
    right: bool = False
    verdict_outcome: str = ""
    items_found: int = 0
    forbidden: list[str] = field(default_factory=list)

    @property
    def turn(self) -> dict:
        return self.row["turns"][self.index]

    @property
    def is_last(self) -> bool:
        return self.index == len(self.row["turns"]) - 1

    @property
    def group(self) -> str:
        return self.row["shape"] if self.is_last else EARLIER

    @property
    def verdict(self):
        return getattr(self.answer, "verdict", None)


# --- loading and asking ---------------------------------------------------------------------------------------


def load_rows(split: str) -> list[dict]:
    splits = ("dev", "test") if split == "both" else (split,)
    rows = []
    for name in splits:
        lines = (DATA / f"answer-shapes-{name}.jsonl").read_text(encoding="utf-8").splitlines()
        rows += [json.loads(line) for line in lines if line.strip()]
    return rows


def ask_all(rows: list[dict], work: Path) -> list[Result]:
    """Every turn of every question, corpus by corpus, each on a warm Assistant over its corpus."""
    results = []
    for corpus in CORPORA:
        mine = [row for row in rows if row["corpus"] == corpus]
        if not mine:
            continue
        started = time.perf_counter()
        assistant = assistant_for(corpus, SETS[corpus][0], work)
        assistant.ask(WARM_UP)
        print(f"{corpus}: index ready and warm in {time.perf_counter() - started:.0f} s; "
              f"asking {len(mine)} questions", flush=True)  # fmt: skip
        for row in mine:
            results += ask_row(assistant, row)
    return results


def ask_row(assistant, row: dict) -> list[Result]:
    """Ask a question's turns in order, each with the earlier Answers as history, and score them."""
    history, results = [], []
    for index, turn in enumerate(row["turns"]):
        started = time.perf_counter()
        answer = assistant.ask(turn["question"], history=list(history))
        results.append(score(Result(row, index, answer, 1000 * (time.perf_counter() - started))))
        history.append(answer)
    return results


# --- scoring ----------------------------------------------------------------------------------------------------


def score(result: Result) -> Result:
    turn, answer = result.turn, result.answer
    result.right = is_right(turn, answer)
    if "verdict" in turn:
        result.verdict_outcome = verdict_outcome(turn["verdict"], result.verdict)
    if "items" in turn:
        result.items_found = sum(item_found(item, answer.text) for item in turn["items"])
    standalone = normalise(answer.standalone_question or "")
    result.forbidden = [s for s in turn.get("standalone_must_not", []) if normalise(s) in standalone]
    return result


def is_right(turn: dict, answer) -> bool:
    """Answerable: not abstained and a gold phrase in the text. Unanswerable: abstained. A yes/no question the
    articles do not settle: no verdict (the evidence may be quoted, as the issue asks, or the bot may abstain)."""
    if "verdict" in turn and turn["verdict"] is None:
        return getattr(answer, "verdict", None) is None
    if not turn["answerable"]:
        return bool(answer.abstained)
    text = normalise(answer.text)
    return not answer.abstained and any(normalise(a) and normalise(a) in text for a in turn["answers"])


def item_found(alternatives: list[str], text: str) -> bool:
    """Any alternative of a list item in the text, as whole words (so "7" is not found in "17")."""
    padded = f" {normalise(text)} "
    return any(normalise(a) and f" {normalise(a)} " in padded for a in alternatives)


def verdict_outcome(expected: str | None, got: str | None) -> str:
    if expected is None:
        return "given" if got is not None else "none"
    if got is None:
        return "missing"
    return "right" if got == expected else "wrong"


def unbalanced(quote: str) -> bool:
    return quote.count('"') % 2 == 1 or quote.count("\u201c") != quote.count("\u201d")


def points_back(quote: str) -> bool:
    return bool(BACK_POINTING.match(quote))


def calibration_error(pairs: list[tuple[float, bool]], bins: int = 10) -> float:
    """Expected calibration error: the bin-size-weighted gap between mean confidence and accuracy."""
    if not pairs:
        return 0.0
    binned: dict[int, list[tuple[float, bool]]] = {}
    for confidence, right in pairs:
        binned.setdefault(min(int(confidence * bins), bins - 1), []).append((confidence, right))
    return sum(len(b) / len(pairs) * abs(statistics.fmean(c for c, _ in b) - statistics.fmean(r for _, r in b))
               for b in binned.values())  # fmt: skip


# --- tables -----------------------------------------------------------------------------------------------------


def share(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.2f} ({numerator}/{denominator})" if denominator else "–"


def accuracy_cells(results: list[Result]) -> list[str]:
    answerable = [r for r in results if r.turn["answerable"]]
    unanswerable = [r for r in results if not r.turn["answerable"]]
    return [str(len(results)), share(sum(r.right for r in answerable), len(answerable)),
            share(sum(r.right for r in unanswerable), len(unanswerable))]  # fmt: skip


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def shape_table(results: list[Result]) -> str:
    groups = [*SHAPES, EARLIER]
    rows = [[g, *accuracy_cells([r for r in results if r.group == g])] for g in groups]
    rows.append(["all scored (last) turns", *accuracy_cells([r for r in results if r.is_last])])
    return table(["shape", "turns", "answer accuracy", "abstention accuracy"], rows)


def corpus_table(results: list[Result]) -> str:
    rows = []
    for corpus in CORPORA:
        mine = [r for r in results if r.row["corpus"] == corpus]
        if mine:
            last = [r for r in mine if r.is_last]
            rows.append([corpus, *accuracy_cells(last), f"{statistics.median(r.ms for r in mine):.0f}"])
    return table(["corpus", "questions", "answer accuracy", "abstention accuracy", "warm ask p50 ms"], rows)


def verdict_table(results: list[Result]) -> str:
    rows = []
    for expected in ("yes", "no", None):
        mine = [r for r in results if "verdict" in r.turn and r.turn["verdict"] == expected]
        count = {
            o: str(sum(r.verdict_outcome == o for r in mine)) for o in ("right", "wrong", "missing", "given", "none")
        }
        if expected is None:
            rows.append(["not settled (null)", str(len(mine)), count["none"], "–", "–", count["given"]])
        else:
            rows.append([expected, str(len(mine)), count["right"], count["wrong"], count["missing"], "–"])
    return table(["expected verdict", "yes/no turns", "right", "wrong (opposite)", "missing (none given)",
                  "given where unsettled"], rows)  # fmt: skip


def list_line(results: list[Result]) -> str:
    lists = [r for r in results if r.is_last and r.row["shape"] == "list"]
    if not lists:
        return "No list questions."
    complete = sum(r.items_found == len(r.turn["items"]) for r in lists)
    recall = statistics.fmean(r.items_found / len(r.turn["items"]) for r in lists)
    return f"Lists: complete {share(complete, len(lists))}; mean item recall {recall:.2f}."


def followup_line(results: list[Result]) -> str:
    last = [r for r in results if r.is_last and r.row["shape"] == "followup"]
    rows = {r.row["qid"] for r in results if r.row["shape"] == "followup"}
    forbidden = {r.row["qid"] for r in results if r.forbidden}
    return (
        f"Follow-ups: last turn right {share(sum(r.right for r in last), len(last))}; rewritten question "
        f"holds a forbidden string in {share(len(forbidden & rows), len(rows))} of the conversations."
    )


def quote_line(results: list[Result]) -> str:
    quotes = [c.quote for r in results for c in r.answer.citations]
    overview = [c.quote for r in results if r.row["shape"] == "overview" for c in r.answer.citations]
    return (
        f"Quotes: {sum(map(unbalanced, quotes))} of {len(quotes)} with an unbalanced quotation mark; "
        f"beginning with a word that points back: {sum(map(points_back, overview))} of {len(overview)} in "
        f"overview answers, {sum(map(points_back, quotes))} of {len(quotes)} in all answers."
    )


def mean(values: list[float]) -> str:
    return f"{statistics.fmean(values):.2f}" if values else "–"


def calibration_line(results: list[Result]) -> str:
    pairs = [(r.answer.confidence, r.right) for r in results
             if not r.answer.abstained and r.answer.confidence is not None]  # fmt: skip
    if not pairs:
        return "Calibration: no answer carried a confidence."
    right = [c for c, ok in pairs if ok]
    wrong = [c for c, ok in pairs if not ok]
    return (
        f"Calibration over {len(pairs)} answers given: ECE {calibration_error(pairs):.3f} (10 bins); mean "
        f"confidence {mean(right)} when right ({len(right)}), {mean(wrong)} when wrong ({len(wrong)})."
    )


# --- misses -----------------------------------------------------------------------------------------------------


def cell(text: str, limit: int = 220) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failures(result: Result) -> list[str]:
    found = [] if result.right else ["answer" if result.turn["answerable"] else "abstention"]
    if result.verdict_outcome in ("wrong", "missing", "given"):
        found.append(f"verdict {result.verdict_outcome}")
    if "items" in result.turn and result.items_found < len(result.turn["items"]):
        found.append(f"items {result.items_found}/{len(result.turn['items'])}")
    if result.forbidden:
        found.append("rewrite")
    return found


def expected(turn: dict) -> str:
    parts = [" / ".join(turn["answers"]) if turn["answerable"] else "(abstain)"]
    if "verdict" in turn:
        parts.append(f"verdict {turn['verdict'] or 'none'}")
    if "items" in turn:
        parts.append("items: " + "; ".join(item[0] for item in turn["items"]))
    if turn.get("standalone_must_not"):
        parts.append("rewrite without: " + "; ".join(turn["standalone_must_not"]))
    return " · ".join(parts)


def got(result: Result) -> str:
    answer = result.answer
    head = f"[{answer.kind or '?'}{', abstained' if answer.abstained else ''}, verdict {result.verdict or 'none'}] "
    return head + answer.text


def misses_table(results: list[Result]) -> str:
    rows = []
    for r in results:
        if reasons := failures(r):
            asked = r.turn["question"]
            if r.answer.standalone_question and r.answer.standalone_question != asked:
                asked += f" (searched: {r.answer.standalone_question})"
            rows.append([f"{r.row['qid']}#{r.index + 1}", r.group, ", ".join(reasons), cell(asked),
                         cell(expected(r.turn)), cell(got(r))])  # fmt: skip
    return table(["turn", "shape", "missed", "question", "expected", "got"], rows) if rows else "No misses."


# --- report -----------------------------------------------------------------------------------------------------


def code_version() -> str:
    """The commit the product ran at, and whether qa/ had uncommitted changes (work in progress is measured too)."""
    git = ["git", "-C", str(ROOT)]
    try:
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "qa"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    return f"commit {head.stdout.strip()}" + (" with uncommitted changes in qa/" if dirty.stdout.strip() else "")


def summary(results: list[Result]) -> str:
    return "\n\n".join([shape_table(results), corpus_table(results), verdict_table(results), list_line(results),
                        followup_line(results), quote_line(results), calibration_line(results)])  # fmt: skip


def report(split: str, rows: list[dict], results: list[Result]) -> str:
    """The report; with both splits, each half on its own (the test half is the result, dev is tuned on)."""
    lines = [f"# Answer shapes ({split} split{'s' if split == 'both' else ''})", "",
             (f"{date.today().isoformat()} · {cpu_description()} · {code_version()} · "
              f"`python bench/answer_shapes.py --split {split}`"), ""]  # fmt: skip
    for half in ("dev", "test") if split == "both" else (split,):
        mine = [r for r in rows if r["split"] == half]
        scored = [r for r in results if r.row["split"] == half]
        counts = ", ".join(f"{sum(r['corpus'] == c for r in mine)} {c}" for c in CORPORA)
        lines += [f"## {half} half" + (" (tuned on)" if half == "dev" else " (never tuned on)"), "",
                  (f"{len(mine)} questions ({counts}), {len(scored)} turns. Accuracy is over each question's last "
                   "turn; a follow-up's earlier turns have their own row. Verdicts are read from `answer.verdict`."),
                  "", summary(scored), "", f"### Misses ({half})", "", misses_table(scored), ""]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test", "both"), default="dev")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "answer_shapes.md")
    args = parser.parse_args()
    rows = load_rows(args.split)
    results = ask_all(rows, args.work)
    for half in ("dev", "test") if args.split == "both" else (args.split,):
        print(f"== {half}\n" + summary([r for r in results if r.row["split"] == half]))
    args.out.write_text(report(args.split, rows, results), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
