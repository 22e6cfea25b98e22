"""Quality against the LangChain tutorial baseline, and speed, measured in one run on this machine.

Quality: this project with its trained reader, the same retrieval with the old sentence scorer
(bench/legacy_answerer.py), and ../shared/bench/baseline_tutorial_rag.py side by side on squad2, multihoprag
and the seed questions (recall@4, MRR, answer accuracy, SQuAD EM/F1 of the short answer, abstention
accuracy, citation precision, query p50).
Speed: warm Assistant.ask p50/p95 on the seed index, the reader's windows/s, a cold `qa ask` process, `qa index`
on an unchanged corpus.

usage: python bench/run_all.py [--sets ...] [--skip-baseline]   (writes bench/results/benchmark.md)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SETS, SHARED_BENCH, assistant_for, cpu_description, load_set  # noqa: E402
from legacy_answerer import LegacyAssistant  # noqa: E402

from qa.embeddings import resolve_model  # noqa: E402
from qa.evaluation import evaluate  # noqa: E402
from qa.settings import DEFAULT_EMBEDDING_MODEL  # noqa: E402

QA = [sys.executable, "-m", "qa.cli"]


def seeds_as_jsonl(folder: Path) -> Path:
    """The seed articles as a corpus JSONL (cleaned text, same ids) for the baseline script."""
    from qa.articles import Article
    from qa.loaders import load_articles

    path = Path(tempfile.mkdtemp()) / "seeds.jsonl"
    with path.open("w") as f:
        for a in load_articles([ROOT / "seeds"]):
            if isinstance(a, Article):
                f.write(json.dumps({"doc_id": a.id, "title": a.title, "text": a.text}) + "\n")
    return path


def run_baseline(name: str) -> dict:
    corpus, questions = SETS[name]
    if name == "seeds":
        corpus = seeds_as_jsonl(corpus)
    out = subprocess.run([sys.executable, str(SHARED_BENCH / "baseline_tutorial_rag.py"), str(corpus), str(questions),
                          "--model", resolve_model(DEFAULT_EMBEDDING_MODEL)],
                         capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_ours(name: str, work: Path, legacy: bool = False) -> dict:
    corpus, questions = load_set(name)
    assistant = assistant_for(name, corpus, work)
    if legacy:
        assistant = LegacyAssistant(assistant.settings)
    report = evaluate(assistant, questions, k=4)
    result = {"dense_recall@4": report.recall_at_k, "mrr": report.mrr, "reader_accuracy": report.answer_accuracy,
              "abstain_accuracy": report.abstention_recall, "citation_precision": report.citation_precision,
              "query_p50_ms": report.latency_p50_ms, "query_p95_ms": report.latency_p95_ms}  # fmt: skip
    return (
        result if legacy else result | {"em": report.exact_match, "f1": report.f1}
    )  # the old scorer has no short answer


def reader_speed(assistant) -> str:
    """Windows/s of the reader on the seed questions' retrieved passages (one call per question)."""
    _, questions = load_set("seeds")
    reader, windows, seconds = assistant.reader, 0, 0.0
    for q in questions:
        docs = assistant.retriever().invoke(q.question)
        t = time.perf_counter()
        windows += reader.read(q.question, docs).windows
        seconds += time.perf_counter() - t
    return (
        f"{windows / seconds:.0f} windows/s ({windows / len(questions):.1f} windows a question, {os.cpu_count()} cores)"
    )


def speed(work: Path) -> list[tuple[str, str]]:
    index_dir = work / "speed-index"
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir)}
    subprocess.run([*QA, "index", "-q"], env=env, check=True, capture_output=True)
    # Warm ask, in process.
    corpus, questions = load_set("seeds")
    assistant = assistant_for("seeds", corpus, work)
    assistant.ask(questions[0].question)
    warm = []
    for _ in range(3):
        for q in questions:
            assistant.embedder._queries.clear()  # measure the query embedding too, not a cache hit
            t = time.perf_counter()
            assistant.ask(q.question)
            warm.append(1000 * (time.perf_counter() - t))
    # Cold `qa ask`: a new process each time.
    cold = []
    for q in questions[:5]:
        t = time.perf_counter()
        subprocess.run([*QA, "ask", q.question], env=env, check=True, capture_output=True)
        cold.append(time.perf_counter() - t)
    # `qa index` on the unchanged corpus.
    unchanged, embedded = [], []
    for _ in range(3):
        t = time.perf_counter()
        out = subprocess.run([*QA, "index", "-q"], env=env, check=True, capture_output=True, text=True).stdout
        unchanged.append(time.perf_counter() - t)
        embedded.append(out.split("sentences embedded")[0].split(";")[-1].strip())
    warm.sort()
    return [
        ("warm Assistant.ask p50 / p95 (seed index, 3 passes over the seed questions)",
         f"{statistics.median(warm):.1f} ms / {warm[int(0.95 * (len(warm) - 1))]:.1f} ms (target p50 <= 150 ms)"),
        ("the reader alone (ONNX, int8)", reader_speed(assistant)),
        ("cold `qa ask` process, median of 5", f"{statistics.median(cold):.2f} s (target <= 6 s)"),
        ("`qa index` on unchanged seeds, median of 3", f"{statistics.median(unchanged):.2f} s, sentences embedded: "
         f"{', '.join(embedded)} (target <= 2 s, 0 embedded)"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=["squad2", "multihoprag", "seeds"])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "benchmark.md")
    args = parser.parse_args()
    lines = ["# Benchmark: article-qa vs the LangChain tutorial baseline", "",
             f"Measured {time.strftime('%Y-%m-%d')} on this machine ({cpu_description()}), both in the same run.", "",
             "| set | system | recall@4 | MRR | answer accuracy | EM / F1 | abstention accuracy | citation precision | query p50 ms |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in args.sets:
        rows = [
            ("article-qa (reader)", run_ours(name, args.work)),
            ("article-qa (old scorer)", run_ours(name, args.work, legacy=True)),
        ]
        if not args.skip_baseline:
            rows.append(("baseline", run_baseline(name)))
        for system, r in rows:
            if "error" in r:
                lines.append(f"| {name} | {system} | error: {r['error']} | | | | | | |")
                continue
            mrr = f"{r['mrr']:.3f}" if "mrr" in r else "n/a"
            cp = f"{r['citation_precision']:.3f}" if "citation_precision" in r else "n/a"
            squad = f"{100 * r['em']:.1f} / {100 * r['f1']:.1f}" if "em" in r else "n/a"
            lines.append(f"| {name} | {system} | {r['dense_recall@4']:.3f} | {mrr} | {r['reader_accuracy']:.3f} | {squad} | "
                         f"{r['abstain_accuracy']:.3f} | {cp} | {r['query_p50_ms']:.0f} |")  # fmt: skip
        print("\n".join(lines[-len(rows) :]), flush=True)
    lines += ["", "Baseline recall@4 is its dense (Chroma) recall; its MRR is not reported by the script. EM / F1: SQuAD",
              "metrics of the short answer over all questions (an abstention is the empty answer).", "",
              "## Speed", "", "| measure | result |", "|---|---|"]  # fmt: skip
    lines += [f"| {a} | {b} |" for a, b in speed(args.work)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
