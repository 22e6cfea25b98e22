"""Generative answers (SmolLM2 via the in-process llama.cpp server) against extractive ones, on the seed questions.

Reports, side by side: answer accuracy, abstention on unanswerable questions, the share of kept answer
sentences whose numbers and names appear in their cited quotes (checked here independently of the
verifier), how many generated sentences the verifier dropped, and time to first token / total latency p50.

usage: python bench/generative.py [--top-k 2] [--max-tokens 96]   (writes bench/results/generative.md)
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, assistant_for, load_set  # noqa: E402

from qa.evaluation import normalise  # noqa: E402

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][a-zA-Z'’-]+")
_SENTENCE_START = {"The", "A", "An", "In", "On", "It", "He", "She", "They", "This", "That", "But", "And", "However"}


def facts_in_quotes(sentence: str, quotes: list[str]) -> bool:
    """Independent check: every number and capitalised name of the sentence appears in one of its quotes."""
    text = " ".join(quotes).lower()
    numbers = all(re.sub(r"[.,]", "", n) in re.sub(r"[.,]", "", text) for n in _NUMBER.findall(sentence))
    names = all(w.lower() in text for w in _NAME.findall(sentence) if w not in _SENTENCE_START)
    return numbers and names


def run(assistant, questions, generative: bool) -> dict:
    right = abstained_ok = kept = kept_ok = dropped = 0
    first_tokens, totals = [], []
    for q in questions:
        t = time.perf_counter()
        first = None
        for event in assistant.ask_stream(q.question, generative=generative):
            if isinstance(event, str):
                first = first or time.perf_counter()
            else:
                answer = event
        totals.append(1000 * (time.perf_counter() - t))
        if first:
            first_tokens.append(1000 * (first - t))
        if not q.answerable:
            abstained_ok += answer.abstained
            continue
        right += not answer.abstained and any(normalise(a) in normalise(answer.text) for a in q.answers)
        quotes = {c.marker: c.quote for c in answer.citations}
        for s in answer.sentences:
            if s.supported:
                kept += 1
                kept_ok += facts_in_quotes(s.text, [quotes[m] for m in s.markers if m in quotes])
            else:
                dropped += 1
    answerable = sum(q.answerable for q in questions)
    return {
        "accuracy": right / answerable,
        "abstention": abstained_ok / max(len(questions) - answerable, 1),
        "supported_share": kept_ok / kept if kept else float("nan"),
        "kept": kept,
        "dropped": dropped,
        "ttft_p50": statistics.median(first_tokens) if first_tokens else float("nan"),
        "total_p50": statistics.median(totals),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generative.md")
    args = parser.parse_args()
    corpus, questions = load_set("seeds")
    assistant = assistant_for("seeds", corpus, ROOT / "bench" / "work", llm_provider="llamacpp",
                              top_k=args.top_k, llm_max_tokens=args.max_tokens, llm_timeout=300)  # fmt: skip
    rows = {
        "extractive": run(assistant, questions, False),
        "generative (SmolLM2-135M)": run(assistant, questions, True),
    }
    lines = ["# Generative vs extractive answers on the seed questions", "",
             f"Measured {time.strftime('%Y-%m-%d')} on this machine, same run, top-k {args.top_k}, "
             f"max {args.max_tokens} tokens. Supported share: kept answer sentences whose numbers and names all "
             "appear in their cited quotes, checked by this script, not by the verifier.", "",
             "| mode | answer accuracy | abstention (unanswerable) | supported share | sentences kept / dropped | "
             "first token p50 ms | total p50 ms |", "|---|---|---|---|---|---|---|"]  # fmt: skip

    def fmt(value: float, spec: str) -> str:
        return "n/a" if value != value else format(value, spec)  # NaN: nothing generated in extractive mode

    for mode, r in rows.items():
        lines.append(f"| {mode} | {r['accuracy']:.3f} | {r['abstention']:.3f} | {fmt(r['supported_share'], '.3f')} | "
                     f"{r['kept']} / {r['dropped']} | {fmt(r['ttft_p50'], '.0f')} | {r['total_p50']:.0f} |")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
