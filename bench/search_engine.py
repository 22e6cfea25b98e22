"""The search index on disk at a million chunks: build time, size, and the searches an answer makes.

Fills a search index (qa.search_index: SQLite + FTS5, float16 vectors) with synthetic chunks: each chunk is 3-6
sentences drawn at random from the bench articles (squad2, multihoprag and the seeds), so its words are real
news and Wikipedia words; 20 chunks an article, 20 publishers, dates over ten years. The vectors are random unit
vectors (not embeddings: the search costs the same for any vector, and recall is measured elsewhere, by
bench/hnsw.py and `qa eval`). Then a fresh process opens the index and times, over 50 questions each:
lexical search (BM25 by FTS5, the bench questions), exact dense search, the fetch of 8 chunks by id, a
filtered lexical + dense search (one publisher: 1/20 of the chunks; and a date range), and reports its peak RSS.

Beside each chunk, 2 or 3 sentences (2.6 a chunk on average, as the store has them: about 2.6 million at a million
chunks), with random unit vectors too, in the sentence rows and the usearch graph (qa.sentence_sync); timed are the
sentence search (graph candidates reranked exactly) and the searches of one whole retrieval (lexical + dense chunks
+ dense sentences + 8 chunks and their sentences' vectors). The sentence graph's recall is measured against an
exact search, for questions made as a stored sentence's vector plus as much noise (random vectors are the graph's
worst case: no structure for it to follow).

    .venv/bin/python bench/search_engine.py [--chunks 1000000] [--keep DIR]   # -> bench/results/search_engine.md
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, SHARED_BENCH, cpu_description  # noqa: E402
from qa.records import ChunkPage  # noqa: E402
from qa.search_index import SEARCH_FILE, SearchIndex  # noqa: E402
from qa.search_sync import add_articles, state_of  # noqa: E402
from qa.sentence_sync import SentencePage, refresh_graph  # noqa: E402
from qa.text.sentences import split_sentences  # noqa: E402

WIDTH = 384
CHUNKS_PER_ARTICLE = 20
SOURCES = [f"Publisher {n}" for n in range(20)]
BATCH = 100_000  # chunks a transaction
SEARCHES = 50


def bench_sentences() -> list[str]:
    texts = []
    for name in ("squad2", "multihoprag"):
        with (SHARED_BENCH / name / "corpus.jsonl").open(encoding="utf-8") as corpus:
            texts += [json.loads(line)["text"] for line in corpus]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "seeds").glob("*") if p.is_file()]
    return [text[s:e] for text in texts for s, e in split_sentences(text)]


def bench_questions() -> list[str]:
    questions = []
    for name in ("squad2", "multihoprag"):
        with (SHARED_BENCH / name / "questions.jsonl").open(encoding="utf-8") as lines:
            questions += [json.loads(line)["question"] for line in lines]
    return questions


def synthetic_pages(total: int, sentences: list[str], rng: np.random.Generator):
    """Pages of synthetic chunks and their article hashes, ``BATCH`` chunks at a time."""
    pick = random.Random(13)
    first_day = date(2015, 1, 1).toordinal()
    for lo in range(0, total, BATCH):
        n = min(BATCH, total - lo)
        ids, texts, metas = [], [], []
        for k in range(lo, lo + n):
            article = k // CHUNKS_PER_ARTICLE
            day = first_day + (article * 37) % 3650
            text = " ".join(pick.choice(sentences) for _ in range(pick.randint(3, 6)))
            start = (k % CHUNKS_PER_ARTICLE) * 1000
            ids.append(f"a{article}#{k:012x}")
            texts.append(text)
            metas.append({"article_id": f"a{article}", "title": f"Article {article}", "source": SOURCES[article % 20],
                          "author": "", "published": date.fromordinal(day).isoformat(), "published_ord": day,
                          "url": "", "version": "v1", "start": start, "end": start + len(text)})  # fmt: skip
        vectors = rng.standard_normal((n, WIDTH), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        hashes = {m["article_id"]: "h" + m["article_id"] for m in metas}
        yield ChunkPage(ids, texts, metas, vectors), synthetic_sentences(lo, n, metas, rng), hashes


def sentences_of_chunk(k: int) -> list[tuple[int, int]]:
    """Offsets of the sentences of chunk ``k``: 3 for three chunks in five, else 2 (2.6 a chunk)."""
    count = 3 if k % 5 < 3 else 2
    start = (k % CHUNKS_PER_ARTICLE) * 1000
    return [(start + 100 * s, start + 100 * s + 90) for s in range(count)]


def synthetic_sentences(lo: int, n: int, metas: list[dict], rng: np.random.Generator) -> SentencePage:
    ids, sentence_metas = [], []
    for k, meta in zip(range(lo, lo + n), metas):
        for start, end in sentences_of_chunk(k):
            ids.append(f"{meta['article_id']}:{start}-{end}")
            sentence_metas.append({"article_id": meta["article_id"], "source": meta["source"],
                                   "published_ord": meta["published_ord"], "chunk_id": f"{meta['article_id']}#{k:012x}"})  # fmt: skip
    vectors = rng.standard_normal((len(ids), WIDTH), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return SentencePage(ids, sentence_metas, vectors)


def build(folder: Path, total: int) -> dict:
    sentences = bench_sentences()
    rng = np.random.default_rng(7)
    index = SearchIndex(folder)
    started = time.perf_counter()
    for page, sentence_page, hashes in synthetic_pages(total, sentences, rng):
        add_articles(index, [page], hashes, WIDTH, [sentence_page])
        state = state_of(index)
        print(f"  {state.live:,} chunks, {state.sentence_live:,} sentences, {time.perf_counter() - started:.0f} s",
              flush=True)  # fmt: skip
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    refresh_graph(index)
    graph_seconds = time.perf_counter() - started
    index.close()
    sizes = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    return {"build_s": seconds, "graph_s": graph_seconds, "sentences": len(sentences), "sizes": sizes,
            "sentence_rows": state.sentence_live}  # fmt: skip


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return 1000 * statistics.median(ordered), 1000 * ordered[int(0.95 * (len(ordered) - 1))]


def timed(calls) -> tuple[float, float]:
    times = []
    for call in calls:
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return percentiles(times)


def measure(folder: Path) -> dict:
    """In a fresh process: open the index and time the searches an answer makes (prints JSON)."""
    from qa.retrieval import Filters

    t = time.perf_counter()
    index = SearchIndex(folder)
    total = len(index)
    opened = time.perf_counter() - t
    questions = bench_questions()[:SEARCHES]
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((SEARCHES, WIDTH), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunk_ids = [f"a{a}#{a * CHUNKS_PER_ARTICLE + j:012x}" for a in rng.integers(0, total // CHUNKS_PER_ARTICLE, SEARCHES)
                 for j in range(0, 16, 2)]  # fmt: skip
    one_source = Filters(sources=[SOURCES[3]])
    a_year = Filters(published_from=date(2020, 1, 1), published_to=date(2020, 12, 31))
    t = time.perf_counter()
    index.nearest(vectors[0], 30)  # the first search reads the vectors file from disk (or the page cache)
    first_dense = time.perf_counter() - t
    result = {
        "chunks": total, "open_s": opened, "first_dense_s": first_dense,
        "lexical": timed(lambda q=q: index.search(q, 30) for q in questions),
        "dense": timed(lambda v=v: index.nearest(v, 30) for v in vectors),
        "fetch8": timed(lambda n=n: index.chunks(chunk_ids[8 * n : 8 * n + 8]) for n in range(SEARCHES)),
        "filtered_source": timed(lambda q=q, v=v: (index.search(q, 30, one_source), index.nearest(v, 30, one_source))
                                 for q, v in zip(questions, vectors)),
        "filtered_year": timed(lambda q=q, v=v: (index.search(q, 30, a_year), index.nearest(v, 30, a_year))
                               for q, v in zip(questions, vectors)),
        "idf": timed(lambda w=w: index.idf(w) for w in ["minist", "rocket", "year", "kishida", "zzz"] * 10),
        "sentences": timed(lambda v=v: index.nearest_sentences(v, 30) for v in vectors),
        "sentences_source": timed(lambda v=v: index.nearest_sentences(v, 30, one_source) for v in vectors),
        "retrieval": timed(lambda q=q, v=v, n=n: retrieval_searches(index, q, v, chunk_ids[8 * n : 8 * n + 8])
                           for n, (q, v) in enumerate(zip(questions, vectors))),
    }  # fmt: skip
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["graph_recall"] = graph_recall(index, rng)
    t = time.perf_counter()
    index.check()
    result["check_s"] = time.perf_counter() - t
    return result


def retrieval_searches(index: SearchIndex, question: str, vector: np.ndarray, chunk_ids: list[str]) -> None:
    """What one retrieval and its answer read of the index: three searches, 8 chunks, their sentences' vectors."""
    index.search(question, 30)
    index.nearest(vector, 30)
    index.nearest_sentences(vector, 30)
    chunks = index.chunks(chunk_ids)
    index.sentence_vectors([f"{c.meta['article_id']}:{s}-{e}" for c in chunks
                            for s, e in sentences_of_chunk(int(c.id.split("#")[1], 16))])  # fmt: skip


def graph_recall(index: SearchIndex, rng: np.random.Generator, questions: int = 20) -> dict:
    """Of the 10 nearest sentences by an exact search, the share the graph search (with its rerank) finds, and the
    share of questions whose nearest one comes first, for questions near a stored sentence: its vector plus noise
    of equal length. Compared by row: the bench removes no sentence."""
    from qa.sentence_rows import OVERFETCH, exact_rows, nearest_rows

    with index.snapshot() as conn:
        graph_rows = index.state(conn).ann_rows
        rows, graph, _ = index._sentences_view(conn)
    found = first = 0
    for row in rng.integers(0, len(rows), questions):
        noise = rng.standard_normal(WIDTH).astype(np.float32)
        query = np.asarray(rows.matrix[row], dtype=np.float32) + noise / np.linalg.norm(noise)
        query /= np.linalg.norm(query)
        exact, _ = exact_rows(rows, query, 10, None)
        approx, _ = nearest_rows(rows, graph, graph_rows, query, 10 * OVERFETCH, None)
        found += len(set(exact.tolist()) & set(approx[:10].tolist()))
        first += int(len(approx) > 0 and approx[0] == exact[0])
    return {"questions": questions, "recall10": found / (10 * questions), "first": first / questions}


def report(chunks: int, built: dict, measured: dict) -> str:
    sizes = built["sizes"]
    search_bytes = sum(v for k, v in sizes.items() if k.startswith(SEARCH_FILE))
    vector_bytes = sum(v for k, v in sizes.items() if k.startswith("vectors-"))
    sentence_bytes = sum(v for k, v in sizes.items() if k.startswith("sentences-") and k.endswith(".f16"))
    graph_bytes = sum(v for k, v in sizes.items() if k.startswith("sentences-graph-"))
    recall = measured["graph_recall"]
    rows = [("lexical search (FTS5 bm25, 30 best)", measured["lexical"]),
            ("exact dense search (usearch, float16, 30 best)", measured["dense"]),
            ("fetch of 8 chunks by id", measured["fetch8"]),
            ("filtered lexical + dense, one publisher (1/20 of the chunks)", measured["filtered_source"]),
            ("filtered lexical + dense, one year (1/10)", measured["filtered_year"]),
            ("idf of a word (fts5vocab)", measured["idf"]),
            ("sentence search (usearch graph on disk + exact float16 rerank, 30 best)", measured["sentences"]),
            ("sentence search, one publisher (1/20 of the sentences)", measured["sentences_source"]),
            ("one retrieval: lexical + dense chunks + dense sentences + 8 chunks and their sentence vectors",
             measured["retrieval"])]  # fmt: skip
    lines = [
        f"# The search index at {chunks:,} chunks",
        "",
        f"Machine: {cpu_description()}. `bench/search_engine.py`: synthetic chunks of 3-6 sentences drawn at random "
        f"from the {built['sentences']:,} sentences of the bench articles, 20 an article, 20 publishers; the vectors "
        "are random unit vectors (384 numbers), not embeddings. The searches run in a fresh process that opens the "
        f"index; {SEARCHES} of each (bench questions for the lexical search).",
        "",
        f"- build: {built['build_s']:.0f} s ({chunks / built['build_s']:,.0f} chunks/s: tokenizing, SQLite + FTS5 "
        f"inserts in transactions of {BATCH:,}, float16 rows appended)",
        f"- sentences: {built['sentence_rows']:,}; their graph (usearch HNSW, float16, M 32, ef 128 to build): built "
        f"in {built['graph_s']:.0f} s after the rows",
        f"- on disk: {search_bytes / 2**20:,.0f} MiB of SQLite (texts, metadata, FTS5, sentence ids), "
        f"{vector_bytes / 2**20:,.0f} MiB of chunk vectors, {sentence_bytes / 2**20:,.0f} MiB of sentence vectors, "
        f"{graph_bytes / 2**20:,.0f} MiB of sentence graph",
        f"- sentence graph + rerank against an exact search ({recall['questions']} questions near a stored sentence): "
        f"recall@10 {recall['recall10']:.3f}, the nearest one first {recall['first']:.2f}",
        f"- open: {1000 * measured['open_s']:.0f} ms; first dense search (reads the vectors file): "
        f"{1000 * measured['first_dense_s']:.0f} ms",
        f"- peak RSS of the process that opened it and ran all {SEARCHES * 10} searches (and retrievals): "
        f"{measured['peak_rss_mb']:,.0f} MB (the vectors file's pages count while mapped)",
        f"- full check (`PRAGMA quick_check` + FTS5 integrity-check + vectors length, `qa status`): "
        f"{measured['check_s']:.0f} s",
        "",
        "| search | p50 | p95 |",
        "|---|---|---|",
        *(f"| {name} | {p50:.1f} ms | {p95:.1f} ms |" for name, (p50, p95) in rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (reused if it holds the index)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    work = Path(tempfile.mkdtemp(prefix="search-engine-"))
    folder = args.keep or work / "index"
    try:
        built = json.loads((folder / "built.json").read_text()) if (folder / "built.json").exists() else None
        if built is None:
            built = build(folder, args.chunks)
            (folder / "built.json").write_text(json.dumps(built))
        child = subprocess.run([sys.executable, __file__, "--measure", str(folder)], capture_output=True, text=True,
                               check=True)  # fmt: skip
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        text = report(measured["chunks"], built, measured)
        print(text)
        out = ROOT / "bench" / "results" / "search_engine.md"
        out.write_text(text, encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
