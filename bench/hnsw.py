"""Can dense search still find every chunk when 10,000 near-identical articles crowd the index?

The chunks of the seed articles and of 20 SQuAD bench articles ("the others") share a Chroma collection
with 10,000 short near-identical articles (a template with a few changing words). For each HNSW
configuration, every other chunk's own vector is used as the query: recall@4 is the share of them found
among the 4 nearest. Chroma's defaults (M 16, ef 100) lose many; ``qa.store.HNSW`` is what the product uses.
Also reported: median query time, and the time to add all vectors.

Last, the product itself: ``qa index`` builds an index of the same articles, and each other chunk's stored
vector goes through the retriever's dense search (``HybridRetriever.dense``: embedded, an exact search over the
float16 chunk vectors on disk, qa.search_index), beside that store's Chroma graph alone (built with
``qa.store.EMBEDDED_HNSW``, because an embedded store never searches it; a server's graph uses ``HNSW``).

    .venv/bin/python bench/hnsw.py            # writes bench/results/hnsw.md
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qa.sentence_sync  # noqa: E402
from bench.common import ROOT, SHARED_BENCH  # noqa: E402
from qa import Assistant, Settings  # noqa: E402
from qa.articles import Article  # noqa: E402
from qa.chunking import chunk_article  # noqa: E402
from qa.embeddings import Embedder  # noqa: E402
from qa.loaders import load_articles  # noqa: E402
from qa.search_sync import state_of  # noqa: E402
from qa.sentence_rows import OVERFETCH  # noqa: E402
from qa.store import HNSW  # noqa: E402

CROWD = 10_000
REPEATS = 3
CONFIGURATIONS = {
    "Chroma defaults (M 16, ef_construction 100, ef_search 100)": {"space": "cosine"},
    "ef_search 200": {"space": "cosine", "ef_search": 200},
    "qa.store.HNSW " + json.dumps({k: v for k, v in HNSW.items() if k != "space"}): HNSW,
    "M 48, ef 400": {"space": "cosine", "max_neighbors": 48, "ef_construction": 400, "ef_search": 400},
}


def crowd_texts(n: int) -> list[str]:
    """Short market notes that differ in a name, a number and a day: near-identical vectors."""
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    return [f"Shares of Company {i % 97} closed {i % 13} points higher on {days[i % 5]} in quiet trading, "
            f"dealers said (note {i})." for i in range(n)]  # fmt: skip


def squad_rows() -> list[dict]:
    """The first 20 articles of the squad2 bench corpus (the others beside the seeds)."""
    with (SHARED_BENCH / "squad2" / "corpus.jsonl").open(encoding="utf-8") as corpus:
        return [json.loads(line) for line in corpus][:20]


def other_texts() -> list[str]:
    squad = squad_rows()
    articles = [a for a in load_articles([ROOT / "seeds"]) if isinstance(a, Article)]
    articles += [Article(id=row["doc_id"], text=row["text"]) for row in squad]
    return [c.text for a in articles for c in chunk_article(a)]


def measure(configuration: dict, others: np.ndarray, crowd: np.ndarray, folder: Path) -> dict:
    import chromadb

    client = chromadb.PersistentClient(str(folder), settings=chromadb.config.Settings(anonymized_telemetry=False))
    collection = client.create_collection("hnsw", configuration={"hnsw": configuration}, embedding_function=None)
    vectors = np.concatenate([others, crowd])
    ids = [f"other-{i}" for i in range(len(others))] + [f"crowd-{i}" for i in range(len(crowd))]
    started = time.perf_counter()
    batch = client.get_max_batch_size()
    for lo in range(0, len(ids), batch):
        collection.add(ids=ids[lo : lo + batch], embeddings=vectors[lo : lo + batch])
    add_seconds = time.perf_counter() - started
    found, times = 0, []
    for n, vector in enumerate(others):
        t0 = time.perf_counter()
        hits = collection.query(query_embeddings=[vector], n_results=4, include=[])["ids"][0]
        times.append(time.perf_counter() - t0)
        found += f"other-{n}" in hits
    return {"recall": found / len(others), "found": found, "query_ms": 1000 * statistics.median(times),
            "add_s": add_seconds}  # fmt: skip


def measure_product(crowd: list[str], folder: Path) -> dict:
    """Recall@4 of each other chunk by its own stored vector in an index built by the product: its HNSW graph
    alone (``ArticleStore.query``) and the retriever's dense search."""
    squad = squad_rows()
    corpus = folder / "articles.jsonl"
    rows = squad + [{"doc_id": f"crowd-{n}", "title": "Market note", "text": text} for n, text in enumerate(crowd)]
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assistant = Assistant(Settings(index_dir=folder / "index"))
    started = time.perf_counter()
    assistant.index([corpus, ROOT / "seeds"])
    index_seconds = time.perf_counter() - started
    index, retriever = assistant.lexical, assistant.retriever()
    others = [c.id for c in index.iter_chunks() if not c.meta["article_id"].startswith("crowd-")]
    got = assistant.store.chunks.get(ids=others, include=["embeddings"])
    stored = {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}
    result = {"chunks": len(others), "index_s": index_seconds}
    searches = {"graph": lambda v: [i for i, *_ in assistant.store.query(v, 4)],
                "dense": lambda v: list(retriever.dense(v))[:4]}  # fmt: skip
    for name, search in searches.items():
        result[name] = recall_of(search, others, stored)
    # Past CHUNK_ANN_MIN_ROWS chunks the dense search goes through a graph of the chunk rows: built here over
    # every row, as it would be at that size.
    chunks = qa.sentence_sync.GRAPHS["chunks"]
    qa.sentence_sync.GRAPHS["chunks"] = chunks._replace(min_rows=1)
    qa.sentence_sync.refresh_graph(index)
    state = state_of(index)
    assert state.chunk_ann_file and state.chunk_ann_rows == state.rows, "the chunk graph covers every row"
    result["chunk_graph"] = recall_of(searches["dense"], others, stored)
    return result


def recall_of(search, chunk_ids: list[str], stored: dict[str, np.ndarray]) -> dict:
    """Recall@4 of each chunk by its own stored vector, and the median search time."""
    found, times = 0, []
    for chunk_id in chunk_ids:
        t0 = time.perf_counter()
        found += chunk_id in search(stored[chunk_id])
        times.append(time.perf_counter() - t0)
    return {"recall": found / len(chunk_ids), "found": found, "query_ms": 1000 * statistics.median(times)}


def main() -> None:
    settings = Settings()
    embedder = Embedder(settings.embedding_model, settings.embedding_batch_size, settings.model_cache_dir)
    others = embedder.encode(other_texts())
    crowd_text = crowd_texts(CROWD)
    crowd = embedder.encode(crowd_text)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for n, (name, configuration) in enumerate(CONFIGURATIONS.items()):
            # Chroma builds the graph with several threads, so each build differs: several builds, their worst
            # and their median.
            runs = [measure(configuration, others, crowd, Path(work) / f"{n}-{r}") for r in range(REPEATS)]
            result = {"recall": min(r["recall"] for r in runs), "found": min(r["found"] for r in runs),
                      "median_found": statistics.median(r["found"] for r in runs),
                      "query_ms": statistics.median(r["query_ms"] for r in runs),
                      "add_s": statistics.median(r["add_s"] for r in runs)}  # fmt: skip
            rows.append((name, result))
            print(f"{name}: recall@4 worst of {REPEATS} {result['recall']:.3f} ({result['found']}/{len(others)}), "
                  f"median {result['median_found']:g}/{len(others)}, query p50 {result['query_ms']:.2f} ms, "
                  f"adding {len(others) + CROWD:,} vectors {result['add_s']:.1f} s")  # fmt: skip
    # The ceiling: exact search. A chunk with 4 or more vectors at least as close as itself (copies) is
    # missed by any index.
    similarity = others @ np.concatenate([others, crowd]).T
    exact = sum(n in np.argsort(-similarity[n], kind="stable")[:4] for n in range(len(others)))
    rows.append(("exact search (numpy, the ceiling)", {"recall": exact / len(others), "found": exact}))
    print(f"exact search: recall@4 {exact / len(others):.3f}")
    with tempfile.TemporaryDirectory() as work:
        product = measure_product(crowd_text, Path(work))
    for name in ("graph", "dense", "chunk_graph"):
        r = product[name]
        print(f"product, {name}: recall@4 {r['recall']:.3f} ({r['found']}/{product['chunks']}), "
              f"query p50 {r['query_ms']:.2f} ms")  # fmt: skip
    base = rows[0][1]
    lines = [
        "# HNSW settings under a crowd of near-identical articles (bench/hnsw.py)",
        "",
        f"{len(others)} chunks of the seed articles and 20 SQuAD articles, among {CROWD:,} near-identical short "
        "articles; each chunk's own vector is the query. One run, same vectors for every configuration, "
        f"{REPEATS} builds of each.",
        "",
        "| configuration | recall@4, worst build | found, median build | query p50 | vs defaults | adding all vectors |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {r['recall']:.3f} ({r['found']}/{len(others)}) | {r['median_found']:g}/{len(others)} | "
              f"{r['query_ms']:.2f} ms | {r['query_ms'] / base['query_ms']:.2f}x | {r['add_s']:.1f} s |"
              for name, r in rows[:-1]]  # fmt: skip
    lines.append(f"| {rows[-1][0]} | {rows[-1][1]['recall']:.3f} ({rows[-1][1]['found']}/{len(others)}) | | | | |")
    graph, dense, chunk_graph = product["graph"], product["dense"], product["chunk_graph"]
    lines += [
        "",
        "## The product's dense search",
        "",
        f"`qa index` of the same articles ({product['index_s']:.0f} s); each of the {product['chunks']} other chunks' "
        "stored vectors is the query (a chunk's vector is the mean of its sentences', so these chunks differ a little "
        "from the ones above).",
        "",
        "| search | recall@4 | query p50 | vs the graph alone |",
        "|---|---|---|---|",
        f"| the embedded store's Chroma graph alone (`ArticleStore.query`; not searched by the product) | {graph['recall']:.3f} ({graph['found']}/"
        f"{product['chunks']}) | {graph['query_ms']:.2f} ms | 1.00x |",
        f"| the retriever's dense search (`HybridRetriever.dense`: an exact search over the float16 "
        f"vectors on disk) | {dense['recall']:.3f} ({dense['found']}/{product['chunks']}) | {dense['query_ms']:.2f} ms | "
        f"{dense['query_ms'] / graph['query_ms']:.2f}x |",
        f"| the retriever's dense search past `CHUNK_ANN_MIN_ROWS` chunks (`qa.sentence_rows`: candidates from a usearch "
        f"graph of the chunk rows, {OVERFETCH}x as many as asked, reranked exactly; the graph built here over every "
        f"row) | {chunk_graph['recall']:.3f} ({chunk_graph['found']}/{product['chunks']}) | "
        f"{chunk_graph['query_ms']:.2f} ms | {chunk_graph['query_ms'] / graph['query_ms']:.2f}x |",
    ]
    out = ROOT / "bench" / "results" / "hnsw.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
