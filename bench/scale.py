"""Speed at size: `qa index`, retrieval, warm and cold questions on corpora of 1k, 10k and 50k chunks.

The corpora are real text: the articles of ../shared/bench/squad2 and multihoprag and the two seed
articles, repeated under distinct doc ids (``ID~rN``) until the corpus holds the target number of chunks
(counted with qa.chunking and the default Settings chunk size and overlap). For each size, in a fresh index:

* `qa index` as a child process: wall time, peak RSS (os.wait4), index size on disk;
* in process: retrieval p50/p95 (Assistant.retriever().invoke, query embedding included) and warm
  Assistant.ask p50/p95 over the same ~50 squad2/multihoprag questions (query cache cleared before each);
* cold start: a fresh `qa ask` process, median of 3;
* `qa index` of the unchanged corpus again: time, and that it embeds nothing.

First, on the base articles once each, ingestion throughput (`qa index` into an empty index, wall time) is
compared with raw embedding throughput (Embedder.encode in a fresh process) over the same distinct sentences
and over the same distinct chunk texts: three raw runs of each interleaved with two `qa index` runs, medians.

usage: python bench/scale.py [--sizes 1000 10000 50000] [--no-throughput | --throughput-only] [--index-timeout 3600]
writes bench/results/scale.md and scale.png (updated after each size); work files in bench/work/scale/
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import random
import re
import shutil
import signal
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
from common import ROOT, SETS, cpu_description  # noqa: E402

from qa import Assistant, Settings  # noqa: E402
from qa.articles import Article  # noqa: E402
from qa.chunking import chunk_article, sentence_spans  # noqa: E402
from qa.evaluation import load_questions, percentile  # noqa: E402
from qa.loaders import load_articles  # noqa: E402

QA = [sys.executable, "-m", "qa.cli"]
TIME = "/usr/bin/time"  # GNU time, for the peak RSS of a child process
SOURCES = [SETS["squad2"][0], SETS["multihoprag"][0], ROOT / "seeds"]
FILLER = ROOT.parent / "shared" / "data" / "squad-v1.1-train" / "train-v1.1.json"
CORPUS_FILL = ("the 18,896 paragraphs of SQuAD v1.1 train (Wikipedia, CC BY-SA 4.0), each an article, and past "
               "them copies of those paragraphs under distinct doc ids")  # fmt: skip
TARGET_WARM_P50_MS = 250  # at 50k chunks, with the trained reader (issue "Train our own reader"; 150 before it)
# At a million chunks (issue "A million chunks on one machine"): warm ask p50, cold `qa ask`, its peak RSS.
TARGET_1M = {"warm_p50_ms": 300, "cold_s": 5.0, "cold_peak_rss_mb": 1536}
TARGET_INGEST_RATIO = 0.90


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- corpora -------------------------------------------------------------------------------------------


def base_articles() -> list[Article]:
    arts = [a for a in load_articles(SOURCES) if isinstance(a, Article)]
    if not arts:
        raise SystemExit("no base articles found")
    return arts


def filler_articles(path: Path = FILLER) -> list[Article]:
    """Distinct real text to fill a corpus with: each paragraph of SQuAD v1.1 train (Wikipedia, CC BY-SA 4.0; no
    bench question is about them) as an article of its own."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [Article(id=f"filler-{n}-{p}", title=a["title"].replace("_", " "), text=para["context"], source="wikipedia")
            for n, a in enumerate(data) for p, para in enumerate(a["paragraphs"])]  # fmt: skip


def build_corpus(
    articles: list[Article], target: int, path: Path, settings: Settings, filler: list[Article] | None = None
) -> dict:
    """The base articles once, then ``filler`` (when given) until the corpus holds ``target`` chunks; past the
    end of the filler (or of the base articles, without one) copies follow, with ids ID~rN. Copies of the bench's
    own articles would crowd the candidates of the questions about them with identical passages; copies of
    filler only crowd one another."""
    counts = [len(chunk_article(a, settings.chunk_size, settings.chunk_overlap)) for a in [*articles, *(filler or [])]]
    sentences = [len(sentence_spans(a.text, settings.chunk_size)) for a in [*articles, *(filler or [])]]
    chunks = n_sentences = n_articles = chars = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        rep = 0
        while chunks < target:
            pool = zip([*articles, *(filler or [])], counts, sentences)
            for a, c, s in itertools.islice(pool, len(articles) if filler and rep else 0, None):
                if chunks >= target:
                    break
                doc_id = a.id if rep == 0 else f"{a.id}~r{rep}"
                f.write(json.dumps({"doc_id": doc_id, "title": a.title, "source": a.source, "author": a.author,
                                    "published": a.published, "url": a.url, "text": a.text}) + "\n")  # fmt: skip
                chunks, n_sentences, n_articles, chars = (
                    chunks + c,
                    n_sentences + s,
                    n_articles + 1,
                    chars + len(a.text),
                )
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


def _vm_hwm_kb(pid: int) -> int:
    """Peak RSS so far (VmHWM) of a live process, 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def run_child(cmd: list[str], log_path: Path, timeout: float | None = None, on_start=None, env=None) -> dict:
    """Run a command under /usr/bin/time: wall time, its peak RSS and its stdout/stderr.

    The peak RSS comes from GNU time's %M, not from our own wait4: a child forked from this (large) process
    would report this process's RSS at fork time as its own maximum. The command runs in its own process
    group, so a timeout stops it and /usr/bin/time together; VmHWM is sampled as the fallback for that case.
    ``env``: variables set for the command beside the bench's own.
    """
    out_path, err_path, rss_path = (log_path.with_suffix(x) for x in (".out", ".err", ".rss"))
    base = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(CODE)}
    env = {**os.environ, **base, **(env or {})}
    rss_path.unlink(missing_ok=True)
    sampled_kb = 0
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%M %U %S", "-o", str(rss_path), *cmd], stdout=out, stderr=err, env=env,
                                cwd=CODE, start_new_session=True)  # fmt: skip
        if on_start:
            on_start(proc.pid)
        timed_out, polls = False, 0
        while proc.poll() is None:
            if polls % 20 == 0:  # about once a second
                sampled_kb = max([sampled_kb] + [_vm_hwm_kb(c) for c in _children(proc.pid)])
            if timeout and time.perf_counter() - started > timeout:
                sampled_kb = max([sampled_kb] + [_vm_hwm_kb(c) for c in _children(proc.pid)])
                os.killpg(proc.pid, signal.SIGKILL)  # the group we started: /usr/bin/time and its command
                proc.wait()
                timed_out = True
                break
            polls += 1
            time.sleep(0.05)
        wall = time.perf_counter() - started
    peak_kb, cpu_s = _time_output(rss_path)
    peak_kb = peak_kb or sampled_kb
    rc = proc.returncode
    err_text = err_path.read_text()
    if rc and not timed_out and err_text.startswith("Command exited with non-zero status"):
        err_text = err_text.split("\n", 1)[-1]
    return {"wall_s": wall, "cpu_s": cpu_s, "peak_rss_mb": peak_kb / 1024, "rc": rc, "timed_out": timed_out,
            "stdout": out_path.read_text(), "stderr": err_text}  # fmt: skip


def _time_output(rss_path: Path) -> tuple[int, float | None]:
    """GNU time's peak RSS (kB) and CPU seconds from its -o file; (0, None) when it wrote none."""
    try:
        peak, user, system = rss_path.read_text().strip().splitlines()[-1].split()
        return int(peak), float(user) + float(system)
    except (OSError, ValueError, IndexError):
        return 0, None


def _running(pid: int) -> bool:
    """Whether ``pid`` is still a /usr/bin/time this bench started (a pid is reused once it has gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == TIME.encode()
    except OSError:
        return False


def newest_mtime(path: Path) -> float:
    return max((p.stat().st_mtime for p in path.rglob("*") if p.is_file()), default=path.stat().st_mtime)


def dir_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1024


_SUMMARY = re.compile(
    r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) removed; (\d+) sentences embedded in ([\d.]+) s"
)
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
    return [q.question for q in bench_questions(n, seed)]


def bench_questions(n: int, seed: int = 0) -> list:
    """``n`` answerable questions, half from squad2 and half from multihoprag, with their evidence articles."""
    rng = random.Random(seed)
    out = []
    for name in ("squad2", "multihoprag"):
        qs = [q for q in load_questions(SETS[name][1]) if q.answerable]
        out += rng.sample(qs, min(n // 2, len(qs)))
    return out


def original_id(article_id: str) -> str:
    """The base article a corpus copy repeats (``ID~rN`` -> ``ID``)."""
    return re.sub(r"~r\d+$", "", article_id)


def measure_queries(index_dir: Path, qs: list[str]) -> dict:
    assistant = Assistant(Settings(index_dir=index_dir))
    evidence = {q.question: {original_id(i) for i in q.evidence_doc_ids} for q in bench_questions(len(qs))}
    res: dict = {}
    t = time.perf_counter()
    assistant.status()
    res["open_store_s"] = time.perf_counter() - t
    t = time.perf_counter()
    assistant.lexical  # noqa: B018 - the search index, brought up to date at the end of `qa index`
    res["lexical_build_s"] = time.perf_counter() - t
    t = time.perf_counter()
    assistant.ask(qs[0])  # loads the embedder and the ONNX session
    res["first_ask_s"] = time.perf_counter() - t
    retrieval, hits, judged = [], 0, 0
    for q in qs:
        assistant.embedder._queries.clear()  # the query embedding is part of retrieval
        t = time.perf_counter()
        docs = assistant.retriever().invoke(q)
        retrieval.append(1000 * (time.perf_counter() - t))
        assert docs, f"no passages for {q!r}"
        if evidence.get(q):  # a copy of an evidence article counts as that article
            judged += 1
            hits += bool(evidence[q] & {original_id(d.metadata["article_id"]) for d in docs})
    res["recall_at_4"], res["recall_questions"] = hits / max(judged, 1), judged
    # Where retrieval time goes: the same searches as HybridRetriever (embedded: all in the search index on disk),
    # timed one by one.
    parts: dict[str, list[float]] = {"embed": [], "dense_chunks": [], "dense_sentences": [], "bm25": []}
    s, index = assistant.settings, assistant.lexical
    for q in qs:
        t0 = time.perf_counter()
        vector = assistant.embedder.encode([q])[0]
        t1 = time.perf_counter()
        index.nearest(vector, s.candidates)
        t2 = time.perf_counter()
        index.nearest_sentences(vector, s.candidates)
        t3 = time.perf_counter()
        index.search(q, s.candidates)
        t4 = time.perf_counter()
        for key, a, b in (("embed", t0, t1), ("dense_chunks", t1, t2), ("dense_sentences", t2, t3), ("bm25", t3, t4)):
            parts[key].append(1000 * (b - a))
    res["retrieval_parts_p50_ms"] = {k: percentile(v, 0.5) for k, v in parts.items()}
    warm, retrieve_part, answer_part, abstained = [], [], [], 0
    for q in qs:
        assistant.embedder._queries.clear()
        t = time.perf_counter()
        answer = assistant.ask(q)
        warm.append(1000 * (time.perf_counter() - t))
        retrieve_part.append(answer.timings["retrieve_ms"])
        answer_part.append(answer.timings["answer_ms"])
        abstained += bool(answer.abstained)
    res.update(retrieval_p50_ms=percentile(retrieval, 0.5), retrieval_p95_ms=percentile(retrieval, 0.95),
               warm_p50_ms=percentile(warm, 0.5), warm_p95_ms=percentile(warm, 0.95),
               warm_retrieve_p50_ms=percentile(retrieve_part, 0.5), warm_answer_p50_ms=percentile(answer_part, 0.5),
               warm_answer_p95_ms=percentile(answer_part, 0.95), questions=len(qs), abstained=abstained)  # fmt: skip
    del assistant
    release_stores()
    return res


def release_stores() -> None:
    """Let go of every open index before the next size (Chroma caches one system per path)."""
    try:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # noqa: BLE001 - only a memory optimisation
        pass
    gc.collect()


def stored_counts(index_dir: Path) -> dict:
    """What an interrupted `qa index` left in the store (complete articles, chunks, sentences)."""
    try:
        assistant = Assistant(Settings(index_dir=index_dir))
        hashes = assistant.store.article_hashes()
        complete = sum(1 for h in hashes.values() if not h.startswith("pending:"))
        res = {"articles": complete, "chunks": assistant.store.chunks.count(),
               "sentences": assistant.store.sentences.count()}  # fmt: skip
        del assistant
        release_stores()
        return res
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        return {"error": f"{exc.__class__.__name__}: {exc}"[:200]}


RAW_ENCODE = """
import json, sys, time
from qa import Assistant
texts = json.load(open(sys.argv[1], encoding="utf-8"))
embedder = Assistant().embedder
embedder.encode(texts[:64])  # load the ONNX session outside the timing
t, cpu = time.perf_counter(), time.process_time()
embedder.encode(texts)
print(json.dumps({"raw_s": time.perf_counter() - t, "raw_cpu_s": time.process_time() - cpu}))
"""


def measure_raw(texts: list[str], log_path: Path) -> dict:
    """Embedder.encode over ``texts`` in one call, in a fresh process like `qa index`; model loaded first."""
    texts_path = log_path.with_suffix(".texts.json")
    texts_path.write_text(json.dumps(texts), encoding="utf-8")
    run = run_child([sys.executable, "-c", RAW_ENCODE, str(texts_path)], log_path)
    if run["rc"] != 0:
        raise RuntimeError(f"raw embedding run failed: {run['stderr'][-300:]}")
    got = json.loads(run["stdout"].strip().splitlines()[-1])
    return {"texts": len(texts), "s": got["raw_s"], "cpu_s": got["raw_cpu_s"], "per_s": len(texts) / got["raw_s"]}


def measure_throughput(articles: list[Article], work: Path, settings: Settings, rounds: int = 2) -> dict:
    """Ingestion vs raw embedding on the base articles once each (no repeats, so no dedup helps either side).

    Two raw baselines over the same corpus: its distinct sentences (what `qa index` embeds) and its distinct
    chunk texts (what a pipeline that embeds chunks embeds). Runs alternate, raw / ingest / raw / ingest / raw
    (``rounds`` ingest runs, one more raw), each in a fresh process, and medians are compared, so drifting load or
    clocks hit both sides alike.
    """
    corpus = work / "corpus-distinct.jsonl"
    total = sum(len(chunk_article(a, settings.chunk_size, settings.chunk_overlap)) for a in articles)
    info = build_corpus(articles, total, corpus, settings)
    sentences = list(dict.fromkeys(t for group in corpus_sentences(corpus, settings) for t in group))
    chunks = list(
        dict.fromkeys(c.text for a in articles for c in chunk_article(a, settings.chunk_size, settings.chunk_overlap))
    )
    raw_sentences, raw_chunks, ingest = [], [], []
    load_before = os.getloadavg()[0]
    for n in range(rounds + 1):
        raw_sentences.append(measure_raw(sentences, work / f"raw-sentences-{n}"))
        raw_chunks.append(measure_raw(chunks, work / f"raw-chunks-{n}"))
        log(f"throughput: raw {raw_sentences[-1]['per_s']:.1f} sentences/s, {raw_chunks[-1]['per_s']:.1f} chunks/s")
        if n == rounds:
            break
        index_dir = work / "index-distinct"
        shutil.rmtree(index_dir, ignore_errors=True)
        run = run_child([*QA, "--index-dir", str(index_dir), "index", "-q", str(corpus)], work / f"index-distinct-{n}")
        shutil.rmtree(index_dir, ignore_errors=True)
        index = parse_index_output(run["stdout"])
        ingest.append({"s": run["wall_s"], "cpu_s": run["cpu_s"], "indexer_s": index.get("report_s"),
                       "embedded": index.get("sentences_embedded", 0), "chunks": index.get("index_chunks", 0)})  # fmt: skip
        log(f"throughput: `qa index` {run['wall_s']:.1f} s ({index.get('summary')})")
    med = statistics.median
    ingest_s = med(r["s"] for r in ingest)
    return {**info, "sentences": len(sentences), "distinct_chunks": len(chunks), "raw_sentences": raw_sentences,
            "raw_chunks": raw_chunks, "ingest": ingest, "raw_sentences_per_s": med(r["per_s"] for r in raw_sentences),
            "raw_chunks_per_s": med(r["per_s"] for r in raw_chunks), "ingest_s": ingest_s,
            "ingest_sentences_per_s": ingest[0]["embedded"] / ingest_s, "ingest_chunks_per_s": ingest[0]["chunks"] / ingest_s,
            "ingest_indexer_s": med(r["indexer_s"] for r in ingest), "load": [load_before, os.getloadavg()[0]]}  # fmt: skip


def measure_change(corpus: Path, index_dir: Path, work: Path, size: int, res: dict) -> None:
    """Change one article: `qa index` re-embeds only its new sentence, and the BM25 index saved by the
    questions above is updated with that article's chunks (timed in a new Assistant, as a restarted app)."""
    lines = corpus.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[len(lines) // 2])
    row["text"] += "\nThe report was corrected on Friday, the editors said."
    changed = work / f"corpus-{size}-changed.jsonl"
    changed.write_text("\n".join([*lines[: len(lines) // 2], json.dumps(row), *lines[len(lines) // 2 + 1 :]]) + "\n",
                       encoding="utf-8")  # fmt: skip
    run = run_child([*QA, "--index-dir", str(index_dir), "index", "-q", str(changed)], work / f"change-{size}")
    res["change_index_s"], res["change"] = run["wall_s"], parse_index_output(run["stdout"])
    assistant = Assistant(Settings(index_dir=index_dir))
    t = time.perf_counter()
    assistant.lexical  # noqa: B018 - the search index on disk, already updated by `qa index`
    res["lexical_update_s"] = time.perf_counter() - t
    del assistant
    release_stores()
    log(f"{size}: one article changed: `qa index` {run['wall_s']:.1f} s ({res['change'].get('summary')}); "
        f"search index opened in {res['lexical_update_s']:.2f} s (after the first run {res['lexical_build_s']:.2f} s)")  # fmt: skip


def measure_cold(index_dir: Path, qs: list[str], work: Path, size: int, res: dict) -> None:
    cold = []
    for n, q in enumerate(qs[:3]):
        r = run_child([*QA, "--index-dir", str(index_dir), "ask", q], work / f"cold-{size}-{n}")
        if r["rc"] != 0:
            res["cold_error"] = r["stderr"][-400:]
        cold.append(r)
    res["cold_s"] = statistics.median(r["wall_s"] for r in cold)
    res["cold_peak_rss_mb"] = max(r["peak_rss_mb"] for r in cold)
    log(f"{size}: cold ask {res['cold_s']:.2f} s (peak RSS {res['cold_peak_rss_mb']:.0f} MB)")


def log_queries(size: int, res: dict) -> None:
    log(f"{size}: retrieval p50 {res['retrieval_p50_ms']:.1f} ms, warm ask p50 {res['warm_p50_ms']:.1f} ms "
        f"(recall@4 {res['recall_at_4']:.3f}; search index opened in {res['lexical_build_s']:.1f} s; retrieval parts p50 "
        f"{ {k: round(v, 1) for k, v in res['retrieval_parts_p50_ms'].items()} })")  # fmt: skip


def index_corpus(size: int, corpus: Path, index_dir: Path, work: Path, args) -> dict:
    """`qa index` of the corpus into a fresh ``index_dir``; with ``--resume``, runs go on where the runs of an
    earlier bench process stopped (their ledger, WORK/index-SIZE.runs.json). A run the bench lost (stopped with
    the session) and still going is waited for; one that was killed counts until the index folder's last write;
    the next run completes its interrupted articles. The result adds up the runs' times, peak RSS is the highest."""
    ledger = work / f"index-{size}.runs.json"
    runs = json.loads(ledger.read_text()) if args.resume and ledger.exists() and index_dir.exists() else []
    if not runs:
        shutil.rmtree(index_dir, ignore_errors=True)
    save = lambda: ledger.write_text(json.dumps(runs, indent=2))  # noqa: E731
    if runs and "wall_s" not in runs[-1]:
        runs[-1].update(_adopted(runs[-1], index_dir))
        save()
    if not runs or runs[-1]["rc"] != 0:
        cmd = [*QA, "--index-dir", str(index_dir), "index", "-q", str(corpus)]
        runs.append({"started": time.time(), "code": CODE_LABEL, "log": f"index-{size}-{len(runs)}"})
        save()
        done = run_child(
            cmd, work / runs[-1]["log"], args.index_timeout, lambda pid: (runs[-1].update(pid=pid), save())
        )
        runs[-1].update({k: done[k] for k in ("wall_s", "cpu_s", "peak_rss_mb", "rc", "timed_out")},
                        index=parse_index_output(done["stdout"]), stderr=done["stderr"][-400:])  # fmt: skip
        save()
    last, cpu = runs[-1], [r["cpu_s"] for r in runs]
    parsed = {**last["index"], "sentences_embedded": sum(r["index"].get("sentences_embedded", 0) for r in runs),
              "added": sum(r["index"].get("added", 0) for r in runs)}  # fmt: skip
    return {"wall_s": sum(r["wall_s"] for r in runs), "cpu_s": None if None in cpu else sum(cpu),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "rc": last["rc"], "timed_out": last["timed_out"],
            "index": parsed, "stderr": last["stderr"], "runs": len(runs),
            "codes": sorted({r["code"] for r in runs})}  # fmt: skip


def _adopted(run: dict, index_dir: Path) -> dict:
    """What became of a run an earlier bench process started and lost."""
    log_path = index_dir.parent / run["log"]
    if run.get("pid") and _running(run["pid"]):
        log(f"an earlier `qa index` (pid {run['pid']}) is still running: waiting for it")
        while _running(run["pid"]):
            time.sleep(5)
    rss = log_path.with_suffix(".rss")
    peak_kb, cpu_s = _time_output(rss)
    out = log_path.with_suffix(".out").read_text() if log_path.with_suffix(".out").exists() else ""
    failed = not peak_kb or "non-zero status" in rss.read_text() or "signal" in rss.read_text()
    ended = rss.stat().st_mtime if peak_kb else newest_mtime(index_dir)
    return {"wall_s": ended - run["started"], "cpu_s": cpu_s, "peak_rss_mb": peak_kb / 1024, "timed_out": False,
            "rc": -9 if failed else 0, "index": parse_index_output(out), "stderr": "", "adopted": True}  # fmt: skip


def measure_size(size: int, articles: list[Article], work: Path, qs: list[str], args, settings: Settings) -> dict:
    corpus = work / f"corpus-{size}.jsonl"
    if not (args.resume and corpus.exists() and (work / f"corpus-{size}.json").exists()):
        info = build_corpus(articles, size, corpus, settings, None if args.copies_only else filler_articles())
        (work / f"corpus-{size}.json").write_text(json.dumps(info))
    info = json.loads((work / f"corpus-{size}.json").read_text())
    log(f"{size}: corpus {info['articles']} articles, {info['chunks']} chunks, {info['sentences']} sentences")
    index_dir = work / f"index-{size}"
    res: dict = {"size": size, **info, "measured": time.strftime("%Y-%m-%d %H:%M"), "code": CODE_LABEL}
    res["load_before"] = os.getloadavg()[0]
    first = index_corpus(size, corpus, index_dir, work, args)
    res.update(index_s=first["wall_s"], index_cpu_s=first["cpu_s"], index_peak_rss_mb=first["peak_rss_mb"],
               index_rc=first["rc"], index_runs=first["runs"], index_codes=first["codes"])  # fmt: skip
    res["index"] = first["index"]
    res["index_mb"] = dir_mb(index_dir)
    res["load_after_index"] = os.getloadavg()[0]
    if first["timed_out"] or first["rc"] != 0:
        res["index_failed"] = "stopped" if first["timed_out"] else f"exit {first['rc']}: {first['stderr'][-400:]}"
        res["partial"] = part = stored_counts(index_dir)
        if part.get("sentences"):
            rate = part["sentences"] / first["wall_s"]
            part.update(sentences_per_s=rate, projected_s=info["sentences"] / rate)
        log(f"{size}: index {res['index_failed']} after {first['wall_s']:.0f} s; stored {part}")
        if first["timed_out"] and part.get("chunks"):
            # Still measure questions on what was stored (labelled with the stored chunk count).
            res.update(measure_queries(index_dir, qs))
            log_queries(size, res)
            measure_cold(index_dir, qs, work, size, res)
        return res
    embedded = res["index"].get("sentences_embedded", 0)
    res["ingest_sps"] = embedded / first["wall_s"] if first["wall_s"] else 0.0
    log(f"{size}: indexed in {first['wall_s']:.1f} s ({res['index'].get('summary')}), "
        f"{res['ingest_sps']:.1f} sentences/s, peak RSS {first['peak_rss_mb']:.0f} MB, {res['index_mb']:.0f} MB on disk")  # fmt: skip
    res.update(measure_queries(index_dir, qs))
    log_queries(size, res)
    measure_cold(index_dir, qs, work, size, res)
    again = run_child([*QA, "--index-dir", str(index_dir), "index", "-q", str(corpus)], work / f"reindex-{size}")
    res["load_after_queries"] = os.getloadavg()[0]
    res.update(reindex_s=again["wall_s"], reindex_peak_rss_mb=again["peak_rss_mb"], reindex_rc=again["rc"],
               reindex=parse_index_output(again["stdout"]))  # fmt: skip
    log(f"{size}: unchanged re-index {again['wall_s']:.1f} s ({res['reindex'].get('summary')})")
    measure_change(corpus, index_dir, work, size, res)
    return res


# --- report --------------------------------------------------------------------------------------------


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import chromadb
    import onnxruntime

    return (f"{cpu_description()}, {mem:.0f} GiB RAM; Python {platform.python_version()}, "
            f"chromadb {chromadb.__version__}, onnxruntime {onnxruntime.__version__}")  # fmt: skip


def chunk_count(r: dict) -> int:
    """Chunks actually in the index (the stored part when indexing was stopped)."""
    if "partial" in r:
        return r["partial"].get("chunks", 0)
    return r["index"].get("index_chunks", r["chunks"])


def _measured_lines(results: list[dict], started: str) -> list[str]:
    """When and on which code each size was measured (sizes kept by ``--resume`` come from earlier runs)."""
    runs: dict[tuple[str, str], list[str]] = {}
    for r in results:
        runs.setdefault((r.get("measured", started), r.get("code", CODE_LABEL)), []).append(f"{chunk_count(r):,}")
    lines = [f"Measured {started} with `python bench/scale.py` on {machine()}; code: {CODE_LABEL}."]
    if len(runs) > 1:
        lines = [f"Measured with `python bench/scale.py` on {machine()}: "
                 + "; ".join(f"{', '.join(sizes)} chunks at {at} on code {code}" for (at, code), sizes in runs.items())
                 + "."]  # fmt: skip
    for r in results:
        if r.get("index_runs", 1) > 1:
            lines += ["", f"{chunk_count(r):,} chunks: `qa index` ran {r['index_runs']} times (`--resume` after the "
                      f"bench was stopped; the runs' times add up), on code {', '.join(r['index_codes'])}."]  # fmt: skip
    return lines


def write_report(
    results: list[dict], tp: dict | None, out: Path, settings: Settings, started: str, note: str = ""
) -> None:
    done = [r for r in results if "warm_p50_ms" in r]
    lines = ["# Speed at size", "", *_measured_lines(results, started), "",
             f"Corpora: the squad2 + multihoprag benchmark articles and the 2 seed articles once, then {CORPUS_FILL} until "
             f"the corpus holds the target number of chunks (chunk size {settings.chunk_size}, overlap "
             f"{settings.chunk_overlap}); every chunk's vector is the real model's. `qa index` runs as a child process (wall time, peak RSS of that process, "
             f"`du` of the index folder). Latencies are in process over {done[0]['questions'] if done else '~50'} "
             f"squad2/multihoprag questions, query embedding included (query cache cleared before each question); "
             f"cold start is a new `qa ask` process (median of 3).", "",
             f"Targets: warm ask p50 <= {TARGET_WARM_P50_MS} ms at 50k chunks; at 1M chunks warm ask p50 <= "
             f"{TARGET_1M['warm_p50_ms']} ms, cold `qa ask` <= {TARGET_1M['cold_s']:.0f} s and its peak RSS <= "
             f"{TARGET_1M['cold_peak_rss_mb'] / 1024:.1f} GB; ingestion >= {TARGET_INGEST_RATIO:.0%} of raw embedding "
             "throughput. Recall@4: the share of the questions whose evidence article (or a copy of it) is among the "
             "retriever's 4 passages; copies of one article hold the same text and vectors, so this checks that "
             "search still works at size, not how it ranks among distinct articles (bench/hnsw.py and `qa eval` do).",
             "",
             "| chunks | articles | sentences | index s | index MB | peak RSS MB (index) | retrieval p50 / p95 ms "
             "| warm ask p50 / p95 ms | cold start s | cold ask peak RSS MB | recall@4 | unchanged re-index s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        latency = ("| | |" if "warm_p50_ms" not in r else
                   f"| {r['retrieval_p50_ms']:.1f} / {r['retrieval_p95_ms']:.1f} | {r['warm_p50_ms']:.1f} / "
                   f"{r['warm_p95_ms']:.1f} |")  # fmt: skip
        cold = " | ".join([f"{r['cold_s']:.2f}" if "cold_s" in r else "",
                           f"{r['cold_peak_rss_mb']:.0f}" if "cold_peak_rss_mb" in r else "",
                           f"{r['recall_at_4']:.3f}" if "recall_at_4" in r else ""])  # fmt: skip
        if "index_failed" in r:
            part = r.get("partial", {})
            if part.get("sentences"):
                lines.append(
                    f"| {part['chunks']:,} of {r['chunks']:,} | {part['articles']:,} of {r['articles']:,} | "
                    f"{part['sentences']:,} of {r['sentences']:,} | {r['index_failed']} after {r['index_s']:.0f} s at "
                    f"{part['sentences_per_s']:.1f} sentences/s; whole corpus projected at "
                    f"{part['projected_s'] / 60:.0f} min | {r['index_mb']:.0f} | {r['index_peak_rss_mb']:.0f} "
                    f"{latency} {cold} | not run |"
                )  # fmt: skip
            else:
                lines.append(f"| {r['chunks']:,} | {r['articles']:,} | {r['sentences']:,} | {r['index_failed']} after "
                             f"{r['index_s']:.0f} s | {r['index_mb']:.0f} | {r['index_peak_rss_mb']:.0f} | | | | | | |")  # fmt: skip
            continue
        if "warm_p50_ms" not in r:
            continue
        zero = r["reindex"].get("sentences_embedded") == 0
        lines.append(
            f"| {chunk_count(r):,} | {r['articles']:,} | {r['sentences']:,} | {r['index_s']:.1f} | {r['index_mb']:.0f} | "
            f"{r['index_peak_rss_mb']:.0f} {latency} {cold} | "
            f"{r['reindex_s']:.1f} ({'0 embedded' if zero else str(r['reindex'].get('sentences_embedded')) + ' embedded!'}) |"
        )  # fmt: skip
    lines += ["", "## Details", "",
              "| chunks | ingestion sentences/s | indexer's own s | search index open s (first question) "
              "| first ask s | retrieval parts p50 ms: embed query / dense chunks / dense sentences / BM25 "
              "| warm ask: retrieve / answer p50 ms | answer p95 ms | cold ask peak RSS MB "
              "| re-index peak RSS MB | load avg (before / after index) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        if "ingest_sps" in r:
            rate = f"{r['ingest_sps']:.1f}"
        elif r.get("partial", {}).get("sentences_per_s"):
            rate = f"{r['partial']['sentences_per_s']:.1f} (stored / time until stopped)"
        else:
            continue
        if "warm_p50_ms" in r:
            rp = r["retrieval_parts_p50_ms"]
            rp = " / ".join(f"{rp[k]:.1f}" for k in ("embed", "dense_chunks", "dense_sentences", "bm25"))
            q = (f"{r['lexical_build_s']:.2f} | {r['first_ask_s']:.2f} | {rp} | {r['warm_retrieve_p50_ms']:.1f} / "
                 f"{r['warm_answer_p50_ms']:.1f} | {r['warm_answer_p95_ms']:.1f} | {r.get('cold_peak_rss_mb', 0):.0f} | "
                 f"{r.get('reindex_peak_rss_mb', 0):.0f}")  # fmt: skip
        else:
            q = "| | | | | |"
        own = f"{r['index']['report_s']:.1f}" if "report_s" in r["index"] else ""
        lines.append(f"| {chunk_count(r):,} | {rate} | {own} | {q} | "
                     f"{r['load_before']:.1f} / {r.get('load_after_index', 0):.1f} |")  # fmt: skip
    changed = [r for r in results if "lexical_update_s" in r]
    if changed:
        lines += ["", "## One article changed", "",
                  "A sentence is appended to one article of the corpus and `qa index` runs again (it brings the search "
                  "index up to date); then a new Assistant opens the search index.", "",
                  "| chunks | `qa index` s | result | search index open s: after the first run | after the change |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for r in changed:
            lines.append(f"| {chunk_count(r):,} | {r['change_index_s']:.1f} | {r['change'].get('summary', '')} | "
                         f"{r['lexical_build_s']:.2f} | {r['lexical_update_s']:.2f} |")  # fmt: skip
    if tp:
        lines += ["", *throughput_lines(tp)]
    if note:
        lines += ["", note]
    lines += ["", "![index time, warm ask p50 and retrieval p50 against chunk count](scale.png)", ""]
    out.write_text("\n".join(lines))


def throughput_lines(tp: dict) -> list[str]:
    """The report's section on ingestion vs raw embedding throughput."""
    by_sentence = tp["ingest_sentences_per_s"] / tp["raw_sentences_per_s"]
    by_chunk = tp["ingest_chunks_per_s"] / tp["raw_chunks_per_s"]
    rates = [r["per_s"] for r in tp["raw_sentences"]]
    spread = (max(rates) - min(rates)) / statistics.median(rates)
    runs = lambda rs, unit: ", ".join(f"{r['per_s']:.1f} ({r['s']:.1f} s)" for r in rs) + f" {unit}/s"  # noqa: E731
    lines = ["## Ingestion vs raw embedding throughput", "",
                  f"On the {tp['articles']} base articles once each ({tp['chunks']:,} chunks, {tp['sentences']:,} distinct "
                  f"sentences, {tp['distinct_chunks']:,} distinct chunk texts), in fresh processes, alternating raw, "
                  f"ingest, raw, ...; medians. Raw is `Embedder.encode` over the texts in one call, timed after "
                  f"the model is loaded. Ingestion is `qa index` into an empty index, timed as a whole process "
                  f"(start-up, reading, cleaning, chunking, model load, Chroma writes).", "",
                  "| | raw runs | raw median | ingestion (`qa index`) | ingestion / raw |",
                  "|---|---|---|---|---|",
                  f"| per sentence (the texts `qa index` embeds) | {runs(tp['raw_sentences'], 'sentences')} | "
                  f"{tp['raw_sentences_per_s']:.1f} sentences/s | {tp['ingest_sentences_per_s']:.1f} sentences/s "
                  f"({tp['ingest_s']:.1f} s) | **{by_sentence:.1%}** |",
                  f"| per chunk (embedding the chunk texts themselves) | {runs(tp['raw_chunks'], 'chunks')} | "
                  f"{tp['raw_chunks_per_s']:.1f} chunks/s | {tp['ingest_chunks_per_s']:.1f} chunks/s | **{by_chunk:.1%}** |",
                  "",
                  f"Target: ingestion >= {TARGET_INGEST_RATIO:.0%} of raw embedding throughput on the same chunks. "
                  f"Per chunk: {by_chunk:.1%}, {'met' if by_chunk >= TARGET_INGEST_RATIO else 'not met'} (`qa index` "
                  f"embeds sentences, not chunks, and builds each chunk's vector from them). Per sentence, the stricter "
                  f"comparison of the very same model calls: {by_sentence:.1%}, "
                  f"{'met' if by_sentence >= TARGET_INGEST_RATIO else 'not met'}. The raw runs alone spread by "
                  f"{spread:.0%}. The indexer's own time (process "
                  f"start-up left out) is {tp['ingest_indexer_s']:.1f} s, "
                  f"{tp['ingest'][0]['embedded'] / tp['ingest_indexer_s'] / tp['raw_sentences_per_s']:.1%} of raw per "
                  f"sentence (the rest is process start-up: imports and settings). "
                  + (f"Load average (1 min) before / after: {tp['load'][0]:.2f} / {tp['load'][1]:.2f}." if "load" in tp else "")]  # fmt: skip
    return lines


def plot(results: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    full = [r for r in results if "warm_p50_ms" in r and "index_failed" not in r]
    partial = [r for r in results if "warm_p50_ms" in r and "index_failed" in r]
    projected = [r for r in results if r.get("partial", {}).get("projected_s")]
    if not full and not partial:
        return
    x = [chunk_count(r) for r in full]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    left.plot(x, [r["index_s"] for r in full], "o-", color="C0", label="`qa index` (fresh)")
    if projected:
        left.plot([r["chunks"] for r in projected], [r["partial"]["projected_s"] for r in projected], "o",
                  mfc="none", color="C0", label="`qa index` projected (stopped)")  # fmt: skip
        left.plot([chunk_count(r) for r in projected], [r["index_s"] for r in projected], "x", color="C0",
                  label="stopped here")  # fmt: skip
    left.plot(x, [r["reindex_s"] for r in full], "s--", color="C1", label="`qa index` (unchanged)")
    left.plot(x + [chunk_count(r) for r in partial], [r["cold_s"] for r in full + partial], "^:", color="C2",
              label="cold `qa ask`")  # fmt: skip
    left.set(xscale="log", yscale="log", xlabel="chunks", ylabel="seconds", title="Indexing and cold start")
    xs = x + [chunk_count(r) for r in partial]
    both = full + partial
    right.plot(xs, [r["warm_p50_ms"] for r in both], "o-", color="C0", label="warm ask p50")
    right.plot(xs, [r["retrieval_p50_ms"] for r in both], "s-", color="C1", label="retrieval p50")
    right.plot(xs, [r["warm_p95_ms"] for r in both], "o:", color="C0", alpha=0.5, label="warm ask p95")
    if partial:
        right.plot([chunk_count(r) for r in partial], [r["warm_p50_ms"] for r in partial], "o", mfc="none",
                   color="k", ms=10, label="partial index (stopped)")  # fmt: skip
    right.axhline(
        TARGET_WARM_P50_MS, color="red", lw=0.8, ls="--", label=f"target p50 at 50k ({TARGET_WARM_P50_MS} ms)"
    )
    right.set(xscale="log", xlabel="chunks", ylabel="milliseconds", title="Question latency (warm, in process)")
    right.set_ylim(bottom=0)
    from matplotlib.ticker import FuncFormatter

    left.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    left.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "25" else ""))
    for ax in (left, right):
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000, 50000], help="corpus sizes in chunks")
    parser.add_argument("--no-throughput", action="store_true", help="skip the ingestion vs raw embedding runs")
    parser.add_argument(
        "--throughput-only",
        action="store_true",
        help="only the ingestion vs raw embedding runs: print them, write WORK/throughput.{json,md}",
    )
    parser.add_argument("--throughput-rounds", type=int, default=2, help="`qa index` runs between the raw runs")  # fmt: skip
    parser.add_argument("--worktree", action="store_true", help="measure the work tree's qa/ instead of HEAD's")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--copies-only", action="store_true", help="fill with copies of the bench articles, not SQuAD train")  # fmt: skip
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the report and plot from WORK/results.json without measuring",
    )
    parser.add_argument("--code-label", help="with --report-only: the code the results were measured on")
    parser.add_argument("--note", default="", help="a remark added to the report (e.g. other load on the machine)")
    parser.add_argument("--index-timeout", type=float, default=None, help="kill a `qa index` after this many seconds")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on with the `qa index` runs an earlier bench left (WORK/index-SIZE.runs.json), reuse its corpora, "
        "and keep the sizes of WORK/results.json that this run does not measure",
    )
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "scale")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.md")
    args = parser.parse_args()
    global CORPUS_FILL
    if args.copies_only:
        CORPUS_FILL = "copies of them under distinct doc ids (`--copies-only`)"
    args.sizes = sorted(set(args.sizes))
    args.work = args.work.resolve()  # the children run in the code's folder
    settings = Settings()
    started = time.strftime("%Y-%m-%d %H:%M")
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        global CODE_LABEL
        saved = json.loads((args.work / "results.json").read_text())
        CODE_LABEL = args.code_label or saved.get("code", CODE_LABEL)
        # results.json's own time stamp is the end of the run; older files lack "started"
        ended = time.strftime("%Y-%m-%d %H:%M", time.localtime((args.work / "results.json").stat().st_mtime))
        started = saved.get("started", f"(run ended) {ended}")
        write_report(saved["sizes"], saved["throughput"], args.out, settings, started, args.note)
        plot(saved["sizes"], args.out.with_suffix(".png"))
        print(args.out.read_text())
        return
    articles = base_articles()
    qs = questions(args.questions)
    log(f"{len(articles)} base articles, {len(qs)} questions, sizes {args.sizes}")
    if args.throughput_only:
        throughput = measure_throughput(articles, args.work, settings, args.throughput_rounds)
        (args.work / "throughput.json").write_text(json.dumps({"started": started, "code": CODE_LABEL, **throughput}))
        section = "\n".join(
            [f"Measured {started} on {machine()}; code: {CODE_LABEL}.", "", *throughput_lines(throughput)]
        )
        (args.work / "throughput.md").write_text(section + "\n")
        print(section)
        return
    throughput = (
        None if args.no_throughput else measure_throughput(articles, args.work, settings, args.throughput_rounds)
    )
    earlier = (
        json.loads((args.work / "results.json").read_text())
        if args.resume and (args.work / "results.json").exists()
        else {}
    )
    if earlier:  # the sizes measured before stay in the report, each with its own date and code
        throughput = throughput or earlier.get("throughput")
        for r in earlier["sizes"]:
            r.setdefault("measured", earlier.get("started", "")), r.setdefault("code", earlier.get("code", ""))
    results = [r for r in earlier.get("sizes", []) if r["size"] not in args.sizes]
    for size in args.sizes:
        results = sorted(
            [*results, measure_size(size, articles, args.work, qs, args, settings)], key=lambda r: r["size"]
        )
        saved = {"started": started, "code": CODE_LABEL, "sizes": results, "throughput": throughput}
        (args.work / "results.json").write_text(json.dumps(saved, indent=2))
        write_report(results, throughput, args.out, settings, started, args.note)
        plot(results, args.out.with_suffix(".png"))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
