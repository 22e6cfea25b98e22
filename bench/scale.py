"""Speed at size: `qa index`, retrieval, warm and cold questions on corpora of 1k, 10k and 50k chunks.

The corpora are real text: the articles of ../shared/bench/squad2 and multihoprag and the two seed
articles, repeated under distinct doc ids (``ID~rN``) until the corpus holds the target number of chunks
(counted with qa.chunking and the default Settings chunk size and overlap). For each size, in a fresh index:

* `qa index` as a child process: wall time, peak RSS (os.wait4), index size on disk;
* in process: retrieval p50/p95 (Assistant.retriever().invoke, query embedding included) and warm
  Assistant.ask p50/p95 over the same ~50 squad2/multihoprag questions (query cache cleared before each);
* cold start: a fresh `qa ask` process, median of 3;
* `qa index` of the unchanged corpus again: time, and that it embeds nothing.

Once, for one corpus (--throughput-size), raw embedding throughput (Embedder.encode over the corpus's
sentences) is compared with ingestion throughput (sentences embedded / `qa index` wall time).

usage: python bench/scale.py [--sizes 1000 10000 50000] [--throughput-size 10000] [--index-timeout 3600]
writes bench/results/scale.md and scale.png (updated after each size); work files in bench/work/scale/
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def _select_code() -> tuple[Path, str]:
    """The qa package to measure: a snapshot of HEAD (default; the work tree may be mid-edit) or the work tree."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--worktree", action="store_true")
    early.add_argument("--work", type=Path, default=REPO / "bench" / "work" / "scale")
    known, _ = early.parse_known_args()
    git = ["git", "-C", str(REPO)]
    sha = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    if known.worktree or sha == "unknown":
        dirty = subprocess.run([*git, "status", "--porcelain", "qa"], capture_output=True, text=True).stdout.strip()
        return REPO, f"work tree at {sha[:10]}" + (" with uncommitted changes in qa/" if dirty else "")
    src = known.work / f"src-{sha[:12]}"
    if not (src / "qa" / "cli.py").exists():
        src.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run([*git, "archive", "HEAD", "qa", "seeds"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return src, f"commit {sha[:10]} (snapshot of HEAD's qa/)"


CODE, CODE_LABEL = _select_code()
sys.path[:0] = [str(CODE), str(BENCH)]
from common import ROOT, SETS  # noqa: E402

from qa import Assistant, Settings  # noqa: E402
from qa.articles import Article, load_articles  # noqa: E402
from qa.chunking import chunk_article, sentence_spans  # noqa: E402
from qa.evaluation import load_questions  # noqa: E402

QA = [sys.executable, "-m", "qa.cli"]
SOURCES = [SETS["squad2"][0], SETS["multihoprag"][0], ROOT / "seeds"]
TARGET_WARM_P50_MS = 150  # at 50k chunks (issue "Scale, speed and robustness")
TARGET_INGEST_RATIO = 0.90


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# --- corpora -------------------------------------------------------------------------------------------


def base_articles() -> list[Article]:
    arts = [a for a in load_articles(SOURCES) if isinstance(a, Article)]
    if not arts:
        raise SystemExit("no base articles found")
    return arts


def build_corpus(articles: list[Article], target: int, path: Path, settings: Settings) -> dict:
    """Cycle through the base articles (copies get ids ID~rN) until the corpus holds ``target`` chunks."""
    counts = [len(chunk_article(a, settings.chunk_size, settings.chunk_overlap)) for a in articles]
    sentences = [len(sentence_spans(a.text, settings.chunk_size)) for a in articles]
    chunks = n_sentences = n_articles = chars = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        rep = 0
        while chunks < target:
            for a, c, s in zip(articles, counts, sentences):
                if chunks >= target:
                    break
                doc_id = a.id if rep == 0 else f"{a.id}~r{rep}"
                f.write(json.dumps({"doc_id": doc_id, "title": a.title, "source": a.source, "author": a.author,
                                    "published": a.published, "url": a.url, "text": a.text}) + "\n")  # fmt: skip
                chunks, n_sentences, n_articles, chars = chunks + c, n_sentences + s, n_articles + 1, chars + len(a.text)
            rep += 1
    return {"chunks": chunks, "articles": n_articles, "sentences": n_sentences, "chars": chars,
            "copies": rep, "bytes": path.stat().st_size}  # fmt: skip


def corpus_sentences(path: Path, settings: Settings) -> list[list[str]]:
    """The sentences the indexer embeds, grouped per article, in corpus order."""
    out = []
    for a in load_articles([path]):
        if isinstance(a, Article):
            out.append([a.text[s:e] for s, e in sentence_spans(a.text, settings.chunk_size)])
    return out


# --- child processes -----------------------------------------------------------------------------------


def run_child(cmd: list[str], log_path: Path, timeout: float | None = None) -> dict:
    """Run a command; wall time, this child's peak RSS (os.wait4) and its stdout/stderr."""
    out_path, err_path = log_path.with_suffix(".out"), log_path.with_suffix(".err")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(CODE)}
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=CODE)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if timeout and time.perf_counter() - started > timeout:
                proc.kill()  # our own child, by pid
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "rc": proc.returncode, "timed_out": timed_out,
            "stdout": out_path.read_text(), "stderr": err_path.read_text()}  # fmt: skip


def dir_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1024


_SUMMARY = re.compile(r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) removed; (\d+) sentences embedded in ([\d.]+) s")
_STATUS = re.compile(r"index: (\d+) articles, (\d+) chunks")


def parse_index_output(stdout: str) -> dict:
    m, s = _SUMMARY.search(stdout), _STATUS.search(stdout)
    if not m:
        return {}
    added, updated, unchanged, removed, embedded, secs = m.groups()
    res = {"added": int(added), "updated": int(updated), "unchanged": int(unchanged), "removed": int(removed),
           "sentences_embedded": int(embedded), "report_s": float(secs), "summary": m.group(0)}  # fmt: skip
    if s:
        res["index_articles"], res["index_chunks"] = int(s.group(1)), int(s.group(2))
    return res


# --- measurements --------------------------------------------------------------------------------------


def questions(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for name in ("squad2", "multihoprag"):
        qs = [q.question for q in load_questions(SETS[name][1])]
        out += rng.sample(qs, min(n // 2, len(qs)))
    return out


def measure_queries(index_dir: Path, qs: list[str]) -> dict:
    assistant = Assistant(Settings(index_dir=index_dir))
    res: dict = {}
    t = time.perf_counter()
    assistant.status()
    res["open_store_s"] = time.perf_counter() - t
    t = time.perf_counter()
    assistant.lexical  # noqa: B018 - BM25 index built from the store on first use
    res["lexical_build_s"] = time.perf_counter() - t
    t = time.perf_counter()
    assistant.ask(qs[0])  # loads the embedder and the ONNX session
    res["first_ask_s"] = time.perf_counter() - t
    retrieval = []
    for q in qs:
        assistant.embedder._queries.clear()  # the query embedding is part of retrieval
        t = time.perf_counter()
        docs = assistant.retriever().invoke(q)
        retrieval.append(1000 * (time.perf_counter() - t))
        assert docs, f"no passages for {q!r}"
    warm, retrieve_part, answer_part, abstained = [], [], [], 0
    for q in qs:
        assistant.embedder._queries.clear()
        t = time.perf_counter()
        answer = assistant.ask(q)
        warm.append(1000 * (time.perf_counter() - t))
        retrieve_part.append(answer.timings["retrieve_ms"])
        answer_part.append(answer.timings["answer_ms"])
        abstained += bool(answer.abstained)
    res.update(retrieval_p50_ms=pct(retrieval, 0.5), retrieval_p95_ms=pct(retrieval, 0.95),
               warm_p50_ms=pct(warm, 0.5), warm_p95_ms=pct(warm, 0.95),
               warm_retrieve_p50_ms=pct(retrieve_part, 0.5), warm_answer_p50_ms=pct(answer_part, 0.5),
               warm_answer_p95_ms=pct(answer_part, 0.95), questions=len(qs), abstained=abstained)  # fmt: skip
    # Release the store before the next size (Chroma caches one system per path).
    del assistant
    try:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # noqa: BLE001 - only a memory optimisation
        pass
    gc.collect()
    return res


def stored_counts(index_dir: Path) -> dict:
    """What an interrupted `qa index` left in the store (complete articles, chunks, sentences)."""
    try:
        assistant = Assistant(Settings(index_dir=index_dir))
        hashes = assistant.store.article_hashes()
        complete = sum(1 for h in hashes.values() if not h.startswith("pending:"))
        res = {"articles": complete, "chunks": assistant.store.chunks.count(),
               "sentences": assistant.store.sentences.count()}  # fmt: skip
        del assistant
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
        return res
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        return {"error": f"{exc.__class__.__name__}: {exc}"[:200]}


def measure_raw_throughput(corpus: Path, settings: Settings, flush_chunks: int) -> dict:
    """Embedder.encode over the corpus's sentences: all at once, and in the indexer's flush-sized groups."""
    per_article = corpus_sentences(corpus, settings)
    texts = [s for group in per_article for s in group]
    embedder = Assistant(settings).embedder
    embedder.encode(texts[:64])  # load the ONNX session outside the timing
    t = time.perf_counter()
    embedder.encode(texts)
    one_call = time.perf_counter() - t
    # The indexer embeds one batch per ~flush_chunks chunks of articles; same groups here.
    groups, current, chunks = [], [], 0
    for a in load_articles([corpus]):
        if not isinstance(a, Article):
            continue
        spans = sentence_spans(a.text, settings.chunk_size)
        current += [a.text[s:e] for s, e in spans]
        chunks += len(chunk_article(a, settings.chunk_size, settings.chunk_overlap, spans))
        if chunks >= flush_chunks:
            groups.append(current)
            current, chunks = [], 0
    if current:
        groups.append(current)
    t = time.perf_counter()
    for g in groups:
        embedder.encode(g)
    grouped = time.perf_counter() - t
    return {"sentences": len(texts), "raw_s": one_call, "raw_sps": len(texts) / one_call,
            "raw_grouped_s": grouped, "raw_grouped_sps": len(texts) / grouped, "groups": len(groups)}  # fmt: skip


def measure_size(size: int, articles: list[Article], work: Path, qs: list[str], args, settings: Settings) -> dict:
    corpus = work / f"corpus-{size}.jsonl"
    info = build_corpus(articles, size, corpus, settings)
    log(f"{size}: corpus {info['articles']} articles, {info['chunks']} chunks, {info['sentences']} sentences")
    index_dir = work / f"index-{size}"
    shutil.rmtree(index_dir, ignore_errors=True)
    res = {"size": size, **info, "load_before": os.getloadavg()[0]}
    first = run_child([*QA, "--index-dir", str(index_dir), "index", "-q", str(corpus)], work / f"index-{size}",
                      timeout=args.index_timeout)  # fmt: skip
    res.update(index_s=first["wall_s"], index_peak_rss_mb=first["peak_rss_mb"], index_rc=first["rc"])
    res["index"] = parse_index_output(first["stdout"])
    if first["timed_out"] or first["rc"] != 0:
        res["index_failed"] = "timed out" if first["timed_out"] else f"exit {first['rc']}: {first['stderr'][-400:]}"
        res["index_mb"] = dir_mb(index_dir)
        res["partial"] = stored_counts(index_dir)
        part = res["partial"]
        if part.get("sentences"):
            rate = part["sentences"] / first["wall_s"]
            part.update(sentences_per_s=rate, projected_s=info["sentences"] / rate)
        log(f"{size}: index FAILED ({res['index_failed']}) after {first['wall_s']:.0f} s; stored {part}")
        return res
    res["index_mb"] = dir_mb(index_dir)
    res["load_after_index"] = os.getloadavg()[0]
    embedded = res["index"].get("sentences_embedded", 0)
    res["ingest_sps"] = embedded / first["wall_s"] if first["wall_s"] else 0.0
    log(f"{size}: indexed in {first['wall_s']:.1f} s ({res['index'].get('summary')}), "
        f"peak RSS {first['peak_rss_mb']:.0f} MB, {res['index_mb']:.0f} MB on disk")  # fmt: skip
    res.update(measure_queries(index_dir, qs))
    log(f"{size}: retrieval p50 {res['retrieval_p50_ms']:.1f} ms, warm ask p50 {res['warm_p50_ms']:.1f} ms "
        f"(BM25 build {res['lexical_build_s']:.1f} s)")  # fmt: skip
    cold = []
    for n, q in enumerate(qs[:3]):
        r = run_child([*QA, "--index-dir", str(index_dir), "ask", q], work / f"cold-{size}-{n}")
        if r["rc"] != 0:
            res["cold_error"] = r["stderr"][-400:]
        cold.append(r)
    res["cold_s"] = statistics.median(r["wall_s"] for r in cold)
    res["cold_peak_rss_mb"] = max(r["peak_rss_mb"] for r in cold)
    log(f"{size}: cold ask {res['cold_s']:.2f} s (peak RSS {res['cold_peak_rss_mb']:.0f} MB)")
    again = run_child([*QA, "--index-dir", str(index_dir), "index", "-q", str(corpus)], work / f"reindex-{size}")
    res["load_after_queries"] = os.getloadavg()[0]
    res.update(reindex_s=again["wall_s"], reindex_peak_rss_mb=again["peak_rss_mb"], reindex_rc=again["rc"],
               reindex=parse_index_output(again["stdout"]))  # fmt: skip
    log(f"{size}: unchanged re-index {again['wall_s']:.1f} s ({res['reindex'].get('summary')})")
    if size == args.throughput_size:
        res["throughput"] = measure_raw_throughput(corpus, settings, settings.embedding_batch_size * 4)
        res["throughput"]["load_after"] = os.getloadavg()[0]
        tp = res["throughput"]
        log(f"{size}: raw {tp['raw_sps']:.0f} sentences/s (grouped {tp['raw_grouped_sps']:.0f}), "
            f"ingestion {res['ingest_sps']:.0f} sentences/s")  # fmt: skip
    return res


# --- report --------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import chromadb
    import onnxruntime

    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM; Python {platform.python_version()}, "
            f"chromadb {chromadb.__version__}, onnxruntime {onnxruntime.__version__}")  # fmt: skip


def write_report(results: list[dict], out: Path, settings: Settings, started: str, note: str = "") -> None:
    done = [r for r in results if "warm_p50_ms" in r]
    tp = next((r for r in results if "throughput" in r), None)
    raw = tp["throughput"]["raw_sps"] if tp else None
    lines = ["# Speed at size", "",
             f"Measured {started} with `python bench/scale.py` on {machine()}; code: {CODE_LABEL}.", "",
             f"Corpora: the squad2 + multihoprag benchmark articles and the 2 seed articles, repeated under distinct doc ids "
             f"until the corpus holds the target number of chunks (chunk size {settings.chunk_size}, overlap "
             f"{settings.chunk_overlap}). `qa index` runs as a child process (wall time, peak RSS of that process, "
             f"`du` of the index folder). Latencies are in process over {done[0]['questions'] if done else '~50'} "
             f"squad2/multihoprag questions, query embedding included (query cache cleared before each question); "
             f"cold start is a new `qa ask` process (median of 3).", "",
             f"Targets: warm ask p50 <= {TARGET_WARM_P50_MS} ms at 50k chunks; ingestion >= {TARGET_INGEST_RATIO:.0%} "
             f"of raw embedding throughput.", "",
             "| chunks | articles | sentences | index s | index MB | peak RSS MB (index) | retrieval p50 / p95 ms "
             "| warm ask p50 / p95 ms | cold start s | unchanged re-index s |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        chunks = r["index"].get("index_chunks", r["chunks"])
        if "index_failed" in r:
            part = r.get("partial", {})
            got = (f"; {part['chunks']:,} chunks / {part['sentences']:,} sentences stored by then, "
                   f"{part['sentences_per_s']:.1f} sentences/s, whole corpus projected at {part['projected_s'] / 60:.0f} min"
                   ) if part.get("sentences") else ""  # fmt: skip
            lines.append(f"| {r['chunks']:,} | {r['articles']:,} | {r['sentences']:,} | {r['index_failed']} after "
                         f"{r['index_s']:.0f} s{got} | {r['index_mb']:.0f} | {r['index_peak_rss_mb']:.0f} | | | | |")  # fmt: skip
            continue
        if "warm_p50_ms" not in r:
            continue
        zero = r["reindex"].get("sentences_embedded") == 0
        warm_ok = "" if r["size"] < 50000 else (" ✓" if r["warm_p50_ms"] <= TARGET_WARM_P50_MS else " ✗")
        lines.append(
            f"| {chunks:,} | {r['articles']:,} | {r['sentences']:,} | {r['index_s']:.1f} | {r['index_mb']:.0f} | "
            f"{r['index_peak_rss_mb']:.0f} | {r['retrieval_p50_ms']:.1f} / {r['retrieval_p95_ms']:.1f} | "
            f"{r['warm_p50_ms']:.1f} / {r['warm_p95_ms']:.1f}{warm_ok} | {r['cold_s']:.2f} | "
            f"{r['reindex_s']:.1f} ({'0 embedded' if zero else str(r['reindex'].get('sentences_embedded')) + ' embedded!'}) |"
        )  # fmt: skip
    lines += ["", "## Details", "",
              "| chunks | ingestion sentences/s | ingestion / raw | indexer's own s | BM25 build s (first question) "
              "| first ask s | warm ask: retrieve / answer p50 ms | answer p95 ms | cold ask peak RSS MB "
              "| re-index peak RSS MB | load avg (before / after index) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        if "ingest_sps" not in r:
            continue
        ratio = f"{r['ingest_sps'] / raw:.0%}" if raw else "n/a"
        q = (f"{r['lexical_build_s']:.2f} | {r['first_ask_s']:.2f} | {r['warm_retrieve_p50_ms']:.1f} / "
             f"{r['warm_answer_p50_ms']:.1f} | {r['warm_answer_p95_ms']:.1f} | {r['cold_peak_rss_mb']:.0f} | "
             f"{r['reindex_peak_rss_mb']:.0f}") if "warm_p50_ms" in r else "| | | | |"  # fmt: skip
        lines.append(f"| {r['index'].get('index_chunks', r['chunks']):,} | {r['ingest_sps']:.1f} | {ratio} | "
                     f"{r['index'].get('report_s', 0):.1f} | {q} | {r['load_before']:.1f} / "
                     f"{r.get('load_after_index', 0):.1f} |")  # fmt: skip
    if tp:
        t = tp["throughput"]
        ratio = tp["ingest_sps"] / t["raw_sps"]
        lines += ["", "## Embedding throughput", "",
                  f"On the {tp['index'].get('index_chunks', tp['chunks']):,}-chunk corpus ({t['sentences']:,} sentences, "
                  f"the same texts the larger corpora repeat):", "",
                  f"- raw `Embedder.encode` over all its sentences in one call: **{t['raw_sps']:.1f} sentences/s** "
                  f"({t['raw_s']:.1f} s)",
                  f"- raw, in the indexer's batches ({t['groups']} calls of ~{settings.embedding_batch_size * 4} chunks' "
                  f"sentences): {t['raw_grouped_sps']:.1f} sentences/s ({t['raw_grouped_s']:.1f} s)",
                  f"- ingestion, `qa index` (sentences embedded / wall time of the process): "
                  f"**{tp['ingest_sps']:.1f} sentences/s** ({tp['index_s']:.1f} s)",
                  f"- **ratio ingestion / raw = {ratio:.0%}** (target >= {TARGET_INGEST_RATIO:.0%}: "
                  f"{'met' if ratio >= TARGET_INGEST_RATIO else 'not met'})"]  # fmt: skip
    if note:
        lines += ["", note]
    lines += ["", "![index time, warm ask p50 and retrieval p50 against chunk count](scale.png)", ""]
    out.write_text("\n".join(lines))


def plot(results: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in results if "warm_p50_ms" in r]
    if not done:
        return
    x = [r["index"].get("index_chunks", r["chunks"]) for r in done]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(x, [r["index_s"] for r in done], "o-", label="`qa index` (fresh)")
    left.plot(x, [r["reindex_s"] for r in done], "s--", label="`qa index` (unchanged)")
    left.plot(x, [r["cold_s"] for r in done], "^:", label="cold `qa ask`")
    left.set(xscale="log", yscale="log", xlabel="chunks", ylabel="seconds", title="Indexing and cold start")
    right.plot(x, [r["warm_p50_ms"] for r in done], "o-", label="warm ask p50")
    right.plot(x, [r["retrieval_p50_ms"] for r in done], "s-", label="retrieval p50")
    right.plot(x, [r["warm_p95_ms"] for r in done], "o:", alpha=0.5, label="warm ask p95")
    right.axhline(TARGET_WARM_P50_MS, color="red", lw=0.8, ls="--", label=f"target p50 at 50k ({TARGET_WARM_P50_MS} ms)")
    right.set(xscale="log", xlabel="chunks", ylabel="milliseconds", title="Question latency (warm, in process)")
    right.set_ylim(bottom=0)
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000, 50000], help="corpus sizes in chunks")
    parser.add_argument("--throughput-size", type=int, default=None,
                        help="size whose corpus's sentences are embedded raw to compare with ingestion "
                             "(default: the smallest size; 0 skips it)")  # fmt: skip
    parser.add_argument("--worktree", action="store_true", help="measure the work tree's qa/ instead of HEAD's")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--note", default="", help="a remark added to the report (e.g. other load on the machine)")
    parser.add_argument("--index-timeout", type=float, default=None, help="kill a `qa index` after this many seconds")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "scale")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.md")
    args = parser.parse_args()
    args.sizes = sorted(set(args.sizes))
    if args.throughput_size is None:
        args.throughput_size = args.sizes[0]
    settings = Settings()
    started = time.strftime("%Y-%m-%d %H:%M")
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    articles = base_articles()
    qs = questions(args.questions)
    log(f"{len(articles)} base articles, {len(qs)} questions, sizes {args.sizes}")
    results = []
    for size in args.sizes:
        results.append(measure_size(size, articles, args.work, qs, args, settings))
        (args.work / "results.json").write_text(json.dumps(results, indent=2))
        write_report(results, args.out, settings, started, args.note)
        plot(results, args.out.with_suffix(".png"))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
