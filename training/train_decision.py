"""Fit the answer decision (qa/decision.py): the ranker over candidate answers and the calibrator of the best one.

Training questions go through the product's own path: their paragraphs are indexed as articles, each question is
retrieved for (top-4 hybrid) and read by the shipped reader, and every candidate gets the signals the answerer
computes. A candidate is right when its sentence holds a gold answer and its span overlaps it. Data (see
../shared/data/README.md): ``reader-train.json`` (SQuAD 2.0 dev articles, its real unanswerable questions) and a
seeded sample of SQuAD 1.1 train articles, of which a share of paragraphs is left out of the index so their
questions become "no answer" copies (the article's other paragraphs are retrieved instead: hard negatives).
Never ``reader-eval.json`` or the bench sets.

    .venv/bin/python training/train_decision.py collect     # resumable: rows.jsonl in --run (10-20 min, 2 cores)
    .venv/bin/python training/train_decision.py fit         # -> qa/models/decision/decision.json and MODEL.md
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.decision import CALIBRATOR_INPUTS, SHIPPED_DECISION, SIGNALS, calibrator_inputs
from qa.squad import f1_score, normalize_answer

DATA = ROOT.parent / "shared" / "data"
READER_TRAIN = DATA / "squad-v2.0-dev" / "reader-train.json"
SQUAD11 = DATA / "squad-v1.1-train" / "train-v1.1.json"


def squad_rows(path: Path) -> list[tuple[str, int, dict]]:
    """(article title, paragraph number, paragraph) of a SQuAD file."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [(a["title"], n, p) for a in data for n, p in enumerate(a["paragraphs"])]


def build_sets(seed: int, reader_train: int, squad11_articles: int, squad11_questions: int, held_out: float):
    """The corpus (doc rows) and the questions (qid, question, gold answers, group, source)."""
    rng = random.Random(seed)
    corpus, questions = [], []
    for title, n, p in squad_rows(READER_TRAIN):
        doc_id = f"rt-{title}-{n}"
        corpus.append({"doc_id": doc_id, "title": title.replace("_", " "), "text": p["context"]})
        for q in p["qas"]:
            golds = [] if q.get("is_impossible") else [a["text"] for a in q["answers"]]
            questions.append(("rt", q["id"], q["question"], golds, title))
    rt = [q for q in questions]
    rng.shuffle(rt)
    questions = rt[:reader_train]
    paragraphs = squad_rows(SQUAD11)
    titles = sorted({t for t, _, _ in paragraphs})
    chosen = set(rng.sample(titles, squad11_articles))
    answerable, copies = [], []
    for title, n, p in paragraphs:
        if title not in chosen:
            continue
        left_out = rng.random() < held_out
        if not left_out:
            corpus.append({"doc_id": f"s11-{title}-{n}", "title": title.replace("_", " "), "text": p["context"]})
        for q in p["qas"]:
            golds = [] if left_out else [a["text"] for a in q["answers"]]
            (copies if left_out else answerable).append(("s11", q["id"], q["question"], golds, title))
    rng.shuffle(answerable)
    rng.shuffle(copies)
    n_copies = int(squad11_questions * held_out)
    questions += answerable[: squad11_questions - n_copies] + copies[:n_copies]
    rng.shuffle(questions)
    return corpus, questions


def candidate_label(golds: list[str], sentence: str, span: str) -> int:
    """1 when the sentence holds a gold answer and the span overlaps one."""
    text = normalize_answer(sentence)
    return int(any(normalize_answer(g) and normalize_answer(g) in text and f1_score(span, g) > 0 for g in golds))


def collect(args: argparse.Namespace) -> None:
    from qa import Assistant, Settings
    from qa.answering import Quoter

    run = args.run
    run.mkdir(parents=True, exist_ok=True)
    corpus, questions = build_sets(args.seed, args.reader_train, args.squad11_articles, args.squad11_questions,
                                   args.held_out)  # fmt: skip
    corpus_path = run / "corpus.jsonl"
    if not corpus_path.exists():
        corpus_path.write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    assistant = Assistant(Settings(index_dir=run / "index", collection="decision-train"))
    started = time.perf_counter()
    assistant.index([corpus_path], prune=True)
    print(f"indexed {len(corpus)} paragraphs in {time.perf_counter() - started:.0f} s", flush=True)
    rows_path = run / "rows.jsonl"
    done = {json.loads(line)["qid"] for line in rows_path.open()} if rows_path.exists() else set()
    answerer, retriever = assistant.answerer(), assistant.retriever()
    with rows_path.open("a", encoding="utf-8") as out:
        for n, (source, qid, question, golds, group) in enumerate(questions):
            if qid in done:
                continue
            quoter = Quoter(assistant.article_text)
            reading = answerer.quotable(assistant.reader.read(question, retriever.invoke(question)), quoter)
            candidates, signals = answerer.weigh(question, reading, quoter)
            labels = [candidate_label(golds, c.sentence, c.span.text) for c in candidates]
            row = {"qid": qid, "source": source, "group": group, "answerable": bool(golds),
                   "signals": np.round(signals, 5).tolist(), "labels": labels}  # fmt: skip
            out.write(json.dumps(row) + "\n")
            if n % 100 == 0:
                out.flush()
                print(f"{n}/{len(questions)} questions, {time.perf_counter() - started:.0f} s", flush=True)


def load_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "rows.jsonl").open()]
    return [r for r in rows if len(r["signals"][0] if r["signals"] else SIGNALS) == len(SIGNALS)]


def folds_by_group(rows: list[dict], k: int, seed: int) -> list[int]:
    """A fold number per row; all questions of one article share a fold (no article on both sides)."""
    groups = sorted({r["group"] for r in rows})
    random.Random(seed).shuffle(groups)
    fold_of = {g: n % k for n, g in enumerate(groups)}
    return [fold_of[r["group"]] for r in rows]


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    model = LogisticRegression(C=c, max_iter=2000).fit((x - scaler.mean_) / scale, y)
    return {"coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0]), "mean": scaler.mean_.tolist(),
            "scale": scale.tolist()}  # fmt: skip


def logit(model: dict, x: np.ndarray) -> np.ndarray:
    return ((x - np.array(model["mean"])) / np.array(model["scale"])) @ np.array(model["coef"]) + model["intercept"]


def tops(rows: list[dict], ranker: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per question with candidates: the calibrator's inputs and whether the ranker's best candidate is right."""
    inputs, right = [], []
    for r in rows:
        signals = np.array(r["signals"])
        if not len(signals):
            inputs.append(np.array([-10.0, 0.0, -10.0, 0.0]))
            right.append(0)
            continue
        scores = logit(ranker, signals)
        order = np.argsort(-scores, kind="stable")
        inputs.append(calibrator_inputs(scores[order], signals[order]))
        right.append(r["labels"][order[0]])
    return np.array(inputs), np.array(right)


def expected_calibration_error(probability: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probability, edges) - 1, 0, bins - 1)
    return float(sum(abs(probability[which == b].mean() - right[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))  # fmt: skip


def best_threshold(probability: np.ndarray, right: np.ndarray, answerable: np.ndarray) -> tuple[float, float]:
    """The threshold with the most questions handled right: answered right, or abstained without an answer."""
    best = (0.5, -1.0)
    for t in np.arange(0.05, 0.96, 0.01):
        answered = probability >= t
        score = float(np.mean(np.where(answered, right, ~answerable)))
        if score > best[1]:
            best = (round(float(t), 2), score)
    return best


def fit(args: argparse.Namespace) -> None:
    rows = load_rows(args.run)
    folds = folds_by_group(rows, args.folds, args.seed)
    oof_inputs, oof_right = np.zeros((len(rows), len(CALIBRATOR_INPUTS))), np.zeros(len(rows), dtype=int)
    for k in range(args.folds):  # out-of-fold ranker scores: the calibrator learns from scores it was not fitted on
        train = [r for r, f in zip(rows, folds) if f != k]
        ranker = fit_logistic(*stack(train), c=args.c)
        held = [n for n, f in enumerate(folds) if f == k]
        inputs, right = tops([rows[n] for n in held], ranker)
        oof_inputs[held], oof_right[held] = inputs, right
    answerable = np.array([r["answerable"] for r in rows])
    report = cross_validated(oof_inputs, oof_right, answerable, folds, args)
    ranker = fit_logistic(*stack(rows), c=args.c)
    calibrator = fit_logistic(oof_inputs, oof_right, c=args.c)
    threshold = report["threshold"]
    model = {"signals": list(SIGNALS), "calibrator_inputs": list(CALIBRATOR_INPUTS), "ranker": ranker,
             "calibrator": calibrator, "threshold": threshold,
             "fitted_on": f"{len(rows)} training questions ({sum(answerable)} answerable), "
                          f"{sum(len(r['labels']) for r in rows)} candidates", "cross_validation": report}  # fmt: skip
    SHIPPED_DECISION.parent.mkdir(parents=True, exist_ok=True)
    SHIPPED_DECISION.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=1))
    print("ranker:", dict(zip(SIGNALS, np.round(ranker["coef"], 3))))
    print("calibrator:", dict(zip(CALIBRATOR_INPUTS, np.round(calibrator["coef"], 3))))
    print(f"wrote {SHIPPED_DECISION}")


def stack(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    x = [s for r in rows for s in r["signals"]]
    y = [lab for r in rows for lab in r["labels"]]
    return np.array(x, dtype=np.float64), np.array(y)


def cross_validated(inputs: np.ndarray, right: np.ndarray, answerable: np.ndarray, folds: list[int],
                    args: argparse.Namespace) -> dict:  # fmt: skip
    """The calibrator's figures on held-out folds: calibration error, and at the threshold chosen on the other
    folds, answer accuracy (answerable) and abstention accuracy (unanswerable)."""
    folds_arr = np.array(folds)
    probability = np.zeros(len(right))
    for k in range(args.folds):
        train, held = folds_arr != k, folds_arr == k
        model = fit_logistic(inputs[train], right[train], c=args.c)
        probability[held] = 1 / (1 + np.exp(-logit(model, inputs[held])))
    threshold, handled = best_threshold(probability, right, answerable)
    answered = probability >= threshold
    return {"threshold": threshold, "handled_right": round(handled, 4),
            "answer_accuracy": round(float(np.mean((answered & (right == 1))[answerable])), 4),
            "abstention_accuracy": round(float(np.mean(~answered[~answerable])), 4),
            "best_candidate_right": round(float(np.mean(right[answerable])), 4),
            "ece": round(expected_calibration_error(probability, right), 4), "questions": len(right)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["collect", "fit"])
    parser.add_argument("--run", type=Path, default=ROOT / "training" / "runs" / "decision")
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--reader-train", type=int, default=2200, help="questions of reader-train.json")
    parser.add_argument("--squad11-articles", type=int, default=12)
    parser.add_argument("--squad11-questions", type=int, default=1400)
    parser.add_argument("--held-out", type=float, default=0.35, help="share of SQuAD 1.1 paragraphs left out")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    args = parser.parse_args()
    collect(args) if args.step == "collect" else fit(args)


if __name__ == "__main__":
    main()
