"""Helpers for the robustness tests: a bench-sized corpus and a full consistency check of a local index.

Chroma's embedded client keeps its own view of an index for the life of the process: after another process
writes, it fails to find the new vectors ("Error finding id"). So a test reads an index that child processes
write either before it ever opened it in the test process, or through ``stored_hashes`` in a child process.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, Settings
from qa.articles import Article
from qa.chunking import chunk_article, sentence_spans, without_repeats
from qa.citations import citation_id
from qa.loaders import load_articles
from qa.sentence_sync import GRAPHS
from qa.store import PENDING

from .conftest import ROOT, STUCK

BENCH_CORPUS = ROOT.parent / "shared" / "bench" / "squad2" / "corpus.jsonl"


def qa_index(index_dir: Path, *paths: Path, batch_chunks: int, prefix: list[str] | None = None, env=None, **popen):
    """Start `qa index -q PATHS` as a child process writing every ``batch_chunks`` chunks; ``prefix`` replaces
    ``python -m qa.cli``."""
    env = {**os.environ, **(env or {}), "QA_INDEX_BATCH_CHUNKS": str(batch_chunks)}
    cmd = [
        *(prefix or [sys.executable, "-m", "qa.cli"]),
        "--index-dir",
        str(index_dir),
        "index",
        "-q",
        *map(str, paths),
    ]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, **popen)


def write_corpus(path: Path, n: int = 150, prefix: str = "", skip: int = 0) -> list[str]:
    """Write the ``n`` shortest articles of the SQuAD bench corpus (in file order: a real corpus that indexes
    quickly) as JSONL to ``path`` and return their ids. ``skip`` leaves out the first (shortest) ones, so two
    calls can give disjoint corpora."""
    if not BENCH_CORPUS.is_file():
        pytest.fail(f"the benchmark corpus {BENCH_CORPUS} is missing: these tests need ../shared beside the project")
    with BENCH_CORPUS.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    keep = {id(r) for r in sorted(rows, key=lambda r: len(r["text"]))[skip : skip + n]}
    rows = [r for r in rows if id(r) in keep]
    assert len(rows) == n, f"{BENCH_CORPUS} holds only {len(rows)} articles after skipping {skip}, not {n}"
    for row in rows:
        row["doc_id"] = prefix + row["doc_id"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return [r["doc_id"] for r in rows]


def assert_index_consistent(
    index_dir: Path, inputs: list[Path], *, sample_queries: int = 10, settings: Settings | None = None
) -> dict[str, Article]:
    """Every input article is stored exactly once, completely, with exactly its fresh chunks and sentences,
    and nothing else is stored; the vector index answers queries for stored chunks. ``settings`` name another
    store (a Chroma server) than ``index_dir``."""
    settings = settings or Settings(index_dir=index_dir)
    articles = {a.id: a for a in load_articles(inputs) if isinstance(a, Article)}
    assert articles, "no input articles"
    store = Assistant(settings).store

    record_ids = [i for ids, _, _ in store._pages(store.records, include=["metadatas"]) for i in ids]
    dupes = [i for i, n in Counter(record_ids).items() if n > 1]
    assert not dupes, f"article records stored more than once: {dupes[:5]}"
    assert set(record_ids) == set(articles), (
        f"missing records: {sorted(set(articles) - set(record_ids))[:5]}, "
        f"unexpected records: {sorted(set(record_ids) - set(articles))[:5]}"
    )
    hashes = store.article_hashes()
    pending = [i for i, h in hashes.items() if h.startswith(PENDING)]
    assert not pending, f"interrupted writes left behind: {pending[:5]}"
    wrong = [i for i, h in hashes.items() if h != articles[i].content_hash]
    assert not wrong, f"records with a stale content hash: {wrong[:5]}"

    chunk_ids, chunks_of = [], {}
    for page in store.iter_chunks():
        for i, d, m in zip(page.ids, page.texts, page.metas):
            chunk_ids.append(i)
            assert m["article_id"] in hashes, f"chunk {i} belongs to no article record"
            assert articles[m["article_id"]].text[m["start"] : m["end"]] == d, f"chunk {i} text does not match"
            chunks_of.setdefault(m["article_id"], set()).add(i)
    dupes = [i for i, n in Counter(chunk_ids).items() if n > 1]
    assert not dupes, f"duplicate chunk ids: {dupes[:5]}"
    assert store.chunks.count() == len(chunk_ids)

    sentence_ids, sentences_of = [], {}
    for ids, _, metas in store._pages(store.sentences, include=["metadatas"]):
        for i, m in zip(ids, metas):
            sentence_ids.append(i)
            assert m["article_id"] in hashes, f"sentence {i} belongs to no article record"
            sentences_of.setdefault(m["article_id"], set()).add(i)
    dupes = [i for i, n in Counter(sentence_ids).items() if n > 1]
    assert not dupes, f"duplicate sentence ids: {dupes[:5]}"

    for article_id, article in articles.items():
        spans = sentence_spans(article.text, settings.chunk_size)
        chunks = without_repeats(chunk_article(article, settings.chunk_size, settings.chunk_overlap, spans))
        assert chunks_of.get(article_id, set()) == {c.id for c in chunks}, (
            f"chunks of {article_id} differ from a fresh chunking"
        )
        first = {article.text[s:e]: citation_id(article_id, s, e) for s, e in reversed(spans)}  # repeats are not stored
        assert sentences_of.get(article_id, set()) == set(first.values()), f"sentences of {article_id} differ"

    # The vector index (HNSW files, kept apart from sqlite) must hold a vector for every stored chunk and
    # sentence (Chroma fails with "Error finding id" otherwise), and a chunk's own vector must find it.
    vectors = {}
    for collection, ids in ((store.chunks, chunk_ids), (store.sentences, sentence_ids)):
        for lo in range(0, len(ids), 1000):
            got = collection.get(ids=ids[lo : lo + 1000], include=["embeddings"])
            assert len(got["ids"]) == len(ids[lo : lo + 1000])
            vectors.update(zip(got["ids"], got["embeddings"]))
    rng = random.Random(0)
    for chunk in rng.sample(chunk_ids, min(sample_queries, len(chunk_ids))):
        hits = store.query(np.asarray(vectors[chunk], dtype=np.float32), 3)
        assert chunk in [h[0] for h in hits], f"vector query for {chunk} returned {[h[0] for h in hits]}"
    return articles


def stored_hashes(index_dir: Path) -> dict[str, str]:
    """``article_hashes()`` of an index, read by a child process (so this process never opens the index)."""
    code = ("import json, sys; from qa import Assistant, Settings; "
            "print(json.dumps(Assistant(Settings(index_dir=sys.argv[1])).store.article_hashes()))")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code, str(index_dir)], capture_output=True, text=True, cwd=ROOT,
                            timeout=STUCK)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def write(path: Path, title: str, body: str, source: str = "Example News", published: str = "2024-01-02") -> None:
    """An article file with its title, source and date in front matter."""
    path.write_text(f"---\ntitle: {title}\nsource: {source}\npublished: {published}\n---\n{body}\n", encoding="utf-8")


def add_change_and_remove(assistant, news: Path) -> None:
    """Index three articles' worth of edits into ``news``: ferry and bridge added, then ferry changed, tram added
    and bridge removed (pruned), in two index runs."""
    index_ferry_and_bridge(assistant, news)
    change_ferry_add_tram_remove_bridge(news)
    assistant.index([news], prune=True)


def index_ferry_and_bridge(assistant, news: Path) -> None:
    """The first run of ``add_change_and_remove``: ferry and bridge written into a new folder ``news``, indexed."""
    news.mkdir()
    write(news / "ferry.md", "Ferry", "A new ferry line opens in June. Tickets cost 20 euros.")
    write(news / "bridge.md", "Bridge", "The old bridge closes for repairs in May.")
    assistant.index([news])


def change_ferry_add_tram_remove_bridge(news: Path) -> None:
    """The edits before the second run of ``add_change_and_remove`` (the files only; that run prunes)."""
    write(news / "ferry.md", "Ferry", "The ferry line opens in July, not June. Tickets cost 25 euros.")
    write(news / "tram.md", "Tram", "A tram to the airport is planned for 2030.")
    (news / "bridge.md").unlink()


def index_cut_short_before_commit(assistant, path: Path, monkeypatch) -> None:
    """Index ``path`` with the search index's sync stopped after its vector rows are written, before its commit
    (``monkeypatch.undo()`` lets the next sync run)."""
    import qa.search_sync

    def killed() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(qa.search_sync, "before_commit", killed)
    with pytest.raises(KeyboardInterrupt):
        assistant.index([path])


def graph_at_any_size(monkeypatch, kind: str, min_rows: int = 1) -> None:
    """Build the graph of ``kind`` ("sentences", "chunks") from ``min_rows`` rows on, and search it whatever the
    filter: the seeds hold far fewer rows than a graph waits for."""
    monkeypatch.setitem(GRAPHS, kind, GRAPHS[kind]._replace(min_rows=min_rows))
    monkeypatch.setattr("qa.sentence_rows.NARROW_ROWS", 0)
    monkeypatch.setattr("qa.sentence_rows.NARROW_SHARE", 0.0)
