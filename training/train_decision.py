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
    .venv/bin/python training/train_decision.py threshold   # the abstention threshold, on reader-eval.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.decision import CALIBRATOR_INPUTS, SHIPPED_DECISION, SIGNALS, calibrator_inputs  # noqa: E402 (after sys.path)
from qa.squad import f1_score, normalize_answer  # noqa: E402

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
                   "signals": np.round(signals, 5).tolist(), "labels": labels, "question": question,
                   "golds": golds, "spans": [c.span.text for c in candidates]}  # fmt: skip
            out.write(json.dumps(row) + "\n")
            if n % 100 == 0:
                out.flush()
                print(f"{n}/{len(questions)} questions, {time.perf_counter() - started:.0f} s", flush=True)


def load_rows(run: Path) -> list[dict]:
    """The collected rows, with the agreement signal computed again from their spans (so that a change to its
    definition needs no new reading)."""
    from qa.decision import agreement_counts
    from qa.retrieval import tokenize

    rows = [json.loads(line) for line in (run / "rows.jsonl").open()]
    rows = [r for r in rows if len(r["signals"][0] if r["signals"] else SIGNALS) == len(SIGNALS)]
    column = SIGNALS.index("agreement")
    for r in rows:
        if r["signals"] and "spans" in r:
            for signal, count in zip(r["signals"], agreement_counts(tokenize(r["spans"]))):
                signal[column] = float(np.log1p(count))
    return rows


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
            inputs.append(np.array([-10.0, 0.0, -10.0, 0.0, 0.0]))
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


def best_threshold(probability: np.ndarray, right: np.ndarray, answerable: np.ndarray,
                   unanswerable_share: float | None = None) -> tuple[float, float]:  # fmt: skip
    """The threshold with the most questions handled right: answered right, or abstained without an answer.
    ``unanswerable_share`` weighs the unanswerable questions as that share of all (None: as they come)."""
    weight = np.ones(len(answerable))
    if unanswerable_share is not None and answerable.any() and (~answerable).any():
        weight[~answerable] = unanswerable_share / (~answerable).mean()
        weight[answerable] = (1 - unanswerable_share) / answerable.mean()
    best = (0.5, -1.0)
    for t in np.arange(0.05, 0.96, 0.01):
        answered = probability >= t
        score = float(np.average(np.where(answered, right, ~answerable), weights=weight))
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
    report["reader_alone"] = reader_alone(rows, answerable)
    ranker = fit_logistic(*stack(rows), c=args.c)
    calibrator = fit_logistic(oof_inputs, oof_right, c=args.c)
    threshold = report["threshold"]
    model = {"signals": list(SIGNALS), "calibrator_inputs": list(CALIBRATOR_INPUTS), "ranker": ranker,
             "calibrator": calibrator, "threshold": threshold,
             "fitted_on": f"{len(rows)} training questions ({sum(answerable)} answerable), "
                          f"{sum(len(r['labels']) for r in rows)} candidates", "cross_validation": report}  # fmt: skip
    SHIPPED_DECISION.parent.mkdir(parents=True, exist_ok=True)
    SHIPPED_DECISION.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    (SHIPPED_DECISION.parent / "MODEL.md").write_text(model_card(model, rows, args), encoding="utf-8")
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


def model_card(model: dict, rows: list[dict], args: argparse.Namespace) -> str:
    """qa/models/decision/MODEL.md: what the decision is, its data, its figures and its limits."""
    cv, alone = model["cross_validation"], model["cross_validation"]["reader_alone"]
    sources = {s: sum(r["source"] == s for r in rows) for s in ("rt", "s11")}
    weights = "\n".join(f"| {name} | {coef:+.3f} |" for name, coef in zip(SIGNALS, model["ranker"]["coef"]))
    calib = "\n".join(f"| {name} | {coef:+.3f} |" for name, coef in zip(CALIBRATOR_INPUTS, model["calibrator"]["coef"]))
    return f"""# The answer decision

Two logistic regressions (scikit-learn `LogisticRegression`, C={args.c}, inputs standardised) that decide which
candidate answers a question and whether to answer at all (qa/decision.py). Fitted by
`training/train_decision.py` (seed {args.seed}); kept as coefficients in `decision.json` and run with numpy.

- **Ranker**: P(candidate is right) from the signals of each candidate (the reader's best span in one retrieved
  sentence, at most 8 a question). Its order picks the answer; a second sentence joins when scored close.
- **Calibrator**: P(the ranker's best candidate is right) from the ranker's best score, its lead over the
  second, and the best candidate's margin, similarity and agreement. This is `Answer.confidence`. Fitted on
  out-of-fold ranker scores (5 folds by article), so it learns from scores the ranker was not fitted on.
- **Threshold** {model["threshold"]}: the probability below which the bot abstains. {threshold_note(model)}

## Data
{len(rows)} questions run through the product's own path (paragraphs indexed as articles, hybrid top-4
retrieval, the shipped reader): {sources["rt"]} from `reader-train.json` (SQuAD 2.0 dev articles, half of them
its real unanswerable questions) and {sources["s11"]} from {args.squad11_articles} SQuAD 1.1 train articles, of
whose paragraphs {args.held_out:.0%} were left out of the index so that their questions became "no answer" copies
(the article's other paragraphs are retrieved instead). A candidate is right when its sentence holds a gold
answer and its span overlaps one. Never `reader-eval.json` or the bench sets. License of the data: CC BY-SA 4.0
(Rajpurkar et al. 2016, 2018).

## Figures (held-out folds of the training questions)
| | answer accuracy (answerable) | abstention accuracy | handled right | best candidate right |
|---|---|---|---|---|
| decision at {cv["threshold"]} (chosen across the folds) | {cv["answer_accuracy"]:.3f} | {cv["abstention_accuracy"]:.3f} | {cv["handled_right"]:.3f} | {cv["best_candidate_right"]:.3f} |
| reader alone (margin >= {alone["threshold"]}, chosen on these questions) | {alone["answer_accuracy"]:.3f} | {alone["abstention_accuracy"]:.3f} | {alone["handled_right"]:.3f} | {alone["best_candidate_right"]:.3f} |

Expected calibration error of the calibrator (10 bins, held-out folds): {cv["ece"]:.3f}. Figures on questions the
project never fitted on (the answer-shapes test half, the squad2 and multihoprag trade-off curves) are in
`bench/results/answer_shapes.md` and `bench/results/tradeoff.md`.

## Weights (on standardised inputs)
| ranker signal | weight |
|---|---|
{weights}

| calibrator input | weight |
|---|---|
{calib}

## Limits
- The reader was trained on these same SQuAD questions, so its margin is more trustworthy here than on new
  text; the decision leans on it accordingly. News text, yes/no questions and lists were not in the data.
- Yes/no questions, overviews, mentions and summaries are answered by their own pieces (qa/answering.py) and
  carry no calibrated confidence.
"""


def threshold_note(model: dict) -> str:
    tuned = model.get("threshold_tuned_on")
    if not tuned:
        return (
            "The one that handles the most training questions right (answered right, or abstained without an "
            "answer) across the folds."
        )
    return (
        f"Tuned on {tuned['set']} (the one thing that set may tune): the one that handles the most of them "
        f"right. There it answers {tuned['answer_accuracy']:.3f} of the answerable questions right and abstains "
        f"on {tuned['abstention_accuracy']:.3f} of the unanswerable ones. The calibrator was not fitted there; "
        f"its calibration error there is {tuned['ece_not_fitted']:.3f} (mean probability "
        f"{tuned['mean_probability']:.3f}, share right {tuned['share_right']:.3f}): on text the reader never saw, "
        f"it is too confident."
    )


def reader_alone(rows: list[dict], answerable: np.ndarray) -> dict:
    """The baseline: the reader's best span by margin, answered at the margin threshold best on these questions
    (an upper bound for it: its threshold is chosen on the same questions)."""
    margin = np.array([r["signals"][0][SIGNALS.index("margin")] if r["signals"] else -99.0 for r in rows])
    right = np.array([r["labels"][0] if r["labels"] else 0 for r in rows])
    best = (0.0, -1.0)
    for t in np.unique(margin):
        score = float(np.mean(np.where(margin >= t, right, ~answerable)))
        best = max(best, (float(t), score), key=lambda b: b[1])
    answered = margin >= best[0]
    return {"threshold": round(best[0], 3), "handled_right": round(best[1], 4),
            "answer_accuracy": round(float(np.mean((answered & (right == 1))[answerable])), 4),
            "abstention_accuracy": round(float(np.mean(~answered[~answerable])), 4),
            "best_candidate_right": round(float(np.mean(right[answerable])), 4)}  # fmt: skip


def tune_threshold(args: argparse.Namespace) -> None:
    """The one thing reader-eval.json may tune (its README): the abstention threshold. Its paragraphs are indexed
    as articles, each question asked through the product's path with the fitted decision, and the threshold that
    handles the most questions right is written to decision.json. Its calibration error is reported, not fitted."""
    from qa import Assistant, Settings

    run = args.run / "reader-eval"
    run.mkdir(parents=True, exist_ok=True)
    corpus, questions = [], []
    for title, n, p in squad_rows(DATA / "squad-v2.0-dev" / "reader-eval.json"):
        corpus.append({"doc_id": f"re-{title}-{n}", "title": title.replace("_", " "), "text": p["context"]})
        questions += [
            (q["question"], [] if q.get("is_impossible") else [a["text"] for a in q["answers"]]) for q in p["qas"]
        ]
    random.Random(args.seed).shuffle(questions)
    corpus_path = run / "corpus.jsonl"
    corpus_path.write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    assistant = Assistant(Settings(index_dir=run / "index", collection="reader-eval"))
    assistant.index([corpus_path], prune=True)
    model_fields = {k: v for k, v in json.loads(SHIPPED_DECISION.read_text()).items() if k in ("ranker", "calibrator")}
    digest = hashlib.sha1(json.dumps(model_fields, sort_keys=True).encode()).hexdigest()[:8]
    cache = run / f"decisions-{args.eval_questions}-{digest}.json"  # the answers of this fitted model
    if cache.exists():  # the decision's answers, from a run with the same fitted model
        probability, right, answerable = json.loads(cache.read_text())
    else:
        probability, right, answerable = read_eval_questions(assistant, questions[: args.eval_questions])
        cache.write_text(json.dumps([probability, right, answerable]))
    p, r, a = np.array(probability), np.array(right), np.array(answerable, dtype=bool)
    threshold, handled = best_threshold(p, r, a, args.unanswerable_share)
    answered = p >= threshold
    model = json.loads(SHIPPED_DECISION.read_text(encoding="utf-8"))
    model["threshold"] = threshold
    model["threshold_tuned_on"] = {
        "set": f"reader-eval.json, {len(p)} questions through the product's path, unanswerable ones weighted as "
               f"{args.unanswerable_share:.0%} of all", "handled_right_weighted": round(handled, 4),
        "answer_accuracy": round(float(np.mean((answered & (r == 1))[a])), 4),
        "abstention_accuracy": round(float(np.mean(~answered[~a])), 4),
        "ece_not_fitted": round(expected_calibration_error(p, r), 4),
        "mean_probability": round(float(p.mean()), 4), "share_right": round(float(r.mean()), 4)}  # fmt: skip
    SHIPPED_DECISION.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    (SHIPPED_DECISION.parent / "MODEL.md").write_text(model_card(model, load_rows(args.run), args), encoding="utf-8")
    print(json.dumps(model["threshold_tuned_on"], indent=1), "threshold", threshold)


def read_eval_questions(assistant, questions: list) -> tuple[list[float], list[int], list[bool]]:
    """The decision's probability, whether its answer is right, and whether there is one, per question."""
    from qa.answering import Quoter

    answerer, retriever = assistant.answerer(), assistant.retriever()
    probability, right, answerable = [], [], []
    for question, golds in questions:
        quoter = Quoter(assistant.article_text)
        reading = answerer.quotable(assistant.reader.read(question, retriever.invoke(question)), quoter)
        decision = answerer.decision.decide(*answerer.weigh(question, reading, quoter))
        best = decision.ranked[0].candidate if decision.ranked else None
        probability.append(decision.probability)
        right.append(candidate_label(golds, best.sentence, best.span.text) if best else 0)
        answerable.append(bool(golds))
    return probability, right, answerable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["collect", "fit", "threshold"])
    parser.add_argument("--eval-questions", type=int, default=900, help="reader-eval questions for the threshold")
    parser.add_argument(
        "--unanswerable-share",
        type=float,
        default=0.15,
        help="the share of unanswerable questions the threshold is chosen for. reader-eval has half, "
        "the dev half of bench/data/answer-shapes a fifth (its fact and why turns, 8 of 43), and a "
        "chat over news fewer: most questions are about what the articles hold. For shares up to 0.2 "
        "reader-eval's best threshold is 0.10, the dev half's best too (0.79 of its fact and why "
        "turns handled right, against 0.74 at 0.17 and 0.70 at 0.36).",
    )
    parser.add_argument("--run", type=Path, default=ROOT / "training" / "runs" / "decision")
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--reader-train", type=int, default=1800, help="questions of reader-train.json")
    parser.add_argument("--squad11-articles", type=int, default=12)
    parser.add_argument("--squad11-questions", type=int, default=1200)
    parser.add_argument("--held-out", type=float, default=0.35, help="share of SQuAD 1.1 paragraphs left out")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    args = parser.parse_args()
    {"collect": collect, "fit": fit, "threshold": tune_threshold}[args.step](args)


if __name__ == "__main__":
    main()
