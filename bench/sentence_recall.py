"""Retrieval recall with the sentence search from the search index (qa.sentence_rows) against Chroma's sentence graph.

Indexes each bench corpus (squad2, multihoprag) with the real embedder, in its own collection, then ranks every
answerable question's passages with the hybrid retriever (k 4) three ways, changing only where the dense sentence
ranking comes from: Chroma's HNSW graph (`ArticleStore.query_sentences`: what main searches), the search index's
rows searched exactly (a corpus of this size stays below the graph's threshold), and the search index's usearch
graph (built for the test whatever the size) reranked exactly. Reports recall@4 and MRR of the evidence articles (as
`qa eval` counts them, on the retriever's passages rather than after the answer) and how many of Chroma's 30 best
sentences each search finds.

    .venv/bin/python bench/sentence_recall.py [--work DIR]     # -> bench/results/sentence_recall.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.common import ROOT, SHARED_BENCH, assistant_for, cpu_description  # noqa: E402
from qa import Assistant  # noqa: E402
from qa.retrieval import Filters  # noqa: E402
from qa.search_index import SearchIndex  # noqa: E402
from qa.search_sync import state_of  # noqa: E402
from qa.sentence_rows import CONNECTIVITY, EXPANSION_ADD, exact_rows  # noqa: E402
from qa.store import ArticleStore  # noqa: E402

K, CANDIDATES = 4, 30


class ChromaSentences(SearchIndex):
    """The search index with main's sentence ranking: Chroma's HNSW graph."""

    def __init__(self, folder: Path, store: ArticleStore) -> None:
        super().__init__(folder)
        self.store = store

    def nearest_sentences(self, vector: np.ndarray, n: int, filters: Filters | None = None) -> list:
        return self.store.query_sentences(vector, n, (filters or Filters()).to_chroma_where())


class ExactSentences(SearchIndex):
    """The search index with its sentence rows searched exactly (no graph)."""

    def nearest_sentences(self, vector: np.ndarray, n: int, filters: Filters | None = None) -> list:
        with self.snapshot() as conn:
            rows, _, _ = self._sentences_view(conn)
            return self._sentence_hits(conn, *exact_rows(rows, vector, n, None))


def questions(name: str) -> list[dict]:
    with (SHARED_BENCH / name / "questions.jsonl").open(encoding="utf-8") as lines:
        return [q for q in map(json.loads, lines) if q["answerable"]]


def measure(assistant: Assistant, qs: list[dict]) -> dict:
    graph_index = assistant.lexical
    state = state_of(graph_index)
    assert state.ann_file and state.ann_rows == state.sentence_rows, "the graph covers every row"
    variants = {"chroma (main)": ChromaSentences(assistant.lexical_dir, assistant.store),
                "rows, exact": ExactSentences(assistant.lexical_dir), "graph + exact rerank": graph_index}  # fmt: skip
    base = assistant.retriever(Filters(), K).model_copy(update={"candidates": CANDIDATES})
    chroma = variants["chroma (main)"]
    results = {}
    for name, index in variants.items():
        retriever = base.model_copy(update={"lexical": index})
        hits = reciprocal = overlap = 0.0
        for q in qs:
            articles = [d.metadata["article_id"] for d in retriever.invoke(q["question"])]
            ranks = [r for r, a in enumerate(articles, 1) if a in set(q["evidence_doc_ids"])]
            hits += bool(ranks)
            reciprocal += 1 / ranks[0] if ranks else 0
            vector = assistant.embedder.query_vector(q["question"])
            theirs = {i for i, *_ in chroma.nearest_sentences(vector, CANDIDATES)}
            overlap += len(theirs & {i for i, *_ in index.nearest_sentences(vector, CANDIDATES)}) / max(len(theirs), 1)
        results[name] = {"recall": hits / len(qs), "mrr": reciprocal / len(qs), "overlap": overlap / len(qs)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "recall")
    args = parser.parse_args()
    import qa.sentence_sync
    import qa.store

    sentences = qa.sentence_sync.GRAPHS["sentences"]
    qa.sentence_sync.GRAPHS["sentences"] = sentences._replace(min_rows=1)  # a graph over every row, however few
    qa.store.EMBEDDED_HNSW = qa.store.HNSW  # the baseline: Chroma's graph as main searched it (an embedded store
    # now builds its Chroma graphs cheaply, since nothing searches them)
    lines = [
        "# Sentence search: Chroma's graph against the search index's rows and graph",
        "",
        f"Machine: {cpu_description()}. `bench/sentence_recall.py`: the hybrid retriever (k {K}) on each bench "
        "corpus, embedded with the real model, with its dense sentence ranking from Chroma's HNSW graph (main), the "
        "search index's float16 rows searched exactly, or its usearch graph "
        f"(M {CONNECTIVITY}, ef {EXPANSION_ADD} while building) reranked exactly. Recall@4 and MRR of "
        "the evidence articles over the answerable questions; overlap: the share of Chroma's 30 best sentences a "
        "search also finds.",
        "",
        "| corpus | sentence search | recall@4 | MRR | overlap with Chroma's 30 |",
        "|---|---|---|---|---|",
    ]
    for name in ("squad2", "multihoprag"):
        assistant = assistant_for(name, SHARED_BENCH / name / "corpus.jsonl", args.work)
        for source, r in measure(assistant, questions(name)).items():
            lines.append(f"| {name} | {source} | {r['recall']:.3f} | {r['mrr']:.3f} | {r['overlap']:.3f} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    (ROOT / "bench" / "results" / "sentence_recall.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
