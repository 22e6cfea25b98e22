"""Faults while indexing: kill -9 at seeded points of a run and inside writes, and a disk that fills up.

Each test checks the index afterwards with ``assert_index_consistent``: every article stored exactly once and
completely (no ``pending:`` record), with exactly the chunks and sentences a fresh chunking gives.
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from qa import Assistant, Filters, IndexWriteError, Settings
from qa.articles import Article
from qa.loaders import load_articles
from qa.store import PENDING

from .conftest import SEED_IDS, SEEDS, STUCK
from .index_checks import assert_index_consistent, qa_index, stored_hashes, write_corpus

QUESTION = "How long was the North Korean rocket in the air?"


def run_to_completion(index_dir: Path, *paths: Path, batch_chunks: int = 256) -> subprocess.CompletedProcess:
    proc = qa_index(
        index_dir, *paths, batch_chunks=batch_chunks, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = proc.communicate(timeout=STUCK)
    assert proc.returncode == 0 and "Traceback" not in err, err
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# --- kill -9 at chosen points of a run --------------------------------------------------------------------

# Runs `qa` with every store write step counted and SIGKILLs itself right before step KILL_AT_WRITE_STEP
# (0: never), or, with KILL_INSIDE=1 on a step that adds vectors, after Chroma has written half of them: a
# kill inside a write. A batch writes in four steps: pending records, chunks, sentences, final records. It
# also saves the article hashes its index run starts from, i.e. what the previous run left on disk, to
# KILL_HASHES_OUT (its first read of them). The points are counted from what the run has done, so no machine is
# too fast or too slow.
KILLER = """
import json, os, signal
from qa.store import ArticleStore

kill_at, inside, steps = int(os.environ["KILL_AT_WRITE_STEP"]), os.environ.get("KILL_INSIDE") == "1", 0
first = True


def counted(method):
    def step(self, *args, **kwargs):
        global steps
        steps += 1
        if steps == kill_at:
            if inside:  # _add(collection, ids=..., embeddings=..., metadatas=..., documents=...)
                half = max(1, len(kwargs["ids"]) // 2)
                method(self, *args, **{k: v[:half] if v is not None else None for k, v in kwargs.items()})
            os.kill(os.getpid(), signal.SIGKILL)
        return method(self, *args, **kwargs)
    return step


def saved(method):
    def records(self, *args, **kwargs):
        global first
        found = method(self, *args, **kwargs)
        if first:  # the run's own read; the search index's sync at its end reads them again
            first = False
            with open(os.environ["KILL_HASHES_OUT"], "w") as f:
                json.dump({i: m.get("content_hash", "") for i, m in found.items()}, f)
        return found
    return records


ArticleStore._add = counted(ArticleStore._add)
ArticleStore._put_records = counted(ArticleStore._put_records)
ArticleStore._mark_written = counted(ArticleStore._mark_written)
ArticleStore.article_records = saved(ArticleStore.article_records)
from qa.cli import main

main()
"""


def run_killed_at(
    tmp_path: Path, index_dir: Path, corpus: Path, step: int, *, inside: bool = False, batch_chunks: int
) -> subprocess.CompletedProcess:
    """`qa index corpus` through KILLER, killed at write step ``step`` (0: runs to the end)."""
    killer = tmp_path / "killer.py"
    killer.write_text(KILLER)
    env = {"KILL_AT_WRITE_STEP": str(step), "KILL_INSIDE": "1" if inside else "0",
           "KILL_HASHES_OUT": str(tmp_path / "hashes.json")}  # fmt: skip
    proc = qa_index(index_dir, corpus, batch_chunks=batch_chunks, prefix=[sys.executable, str(killer)], env=env,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    out, err = proc.communicate(timeout=STUCK)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.slow
def test_kill_9_at_seeded_points_then_a_full_run_gives_a_consistent_index(tmp_path):
    corpus = tmp_path / "corpus" / "news.jsonl"
    ids = write_corpus(corpus, 150)
    index_dir = tmp_path / "index"
    # A write every 64 chunks gives the 150 articles at least 3 batches (4 write steps each). Each run
    # resumes what the one before left, so the points stay inside the first two batches that are left.
    rng = random.Random(1789)
    points = [("before the first write", 1, False),
              ("between writes", 5, False),
              ("inside a write", rng.choice([2, 3, 6, 7]), True),
              ("inside a write", rng.choice([2, 3, 6, 7]), True),
              ("between writes", rng.choice([4, 5, 8]), False)]  # fmt: skip
    for what, step, inside in points:
        run = run_killed_at(tmp_path, index_dir, corpus, step, inside=inside, batch_chunks=64)
        assert run.returncode == -signal.SIGKILL, f"not killed {what} (step {step}): {run.stderr[-2000:]}"

    run = run_killed_at(tmp_path, index_dir, corpus, 0, batch_chunks=64)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    articles = assert_index_consistent(index_dir, [corpus])
    assert set(articles) == set(ids)
    bot = Assistant(Settings(index_dir=index_dir))
    again = bot.index([corpus])
    assert (again.unchanged, again.sentences_embedded) == (len(ids), 0)
    # Answers cite passages that exist: each quote is the article's text at its offsets.
    for article_id in sorted(ids)[:5]:
        article = articles[article_id]
        answer = bot.ask(article.title, filters=Filters(article_ids=[article_id]))
        for citation in answer.citations + answer.related:
            assert article.text[citation.start : citation.end] == citation.quote == bot.lookup(citation.id).quote


@pytest.mark.slow
def test_kill_9_inside_writes_is_repaired_by_the_next_run(tmp_path):
    old, new = tmp_path / "old" / "news.jsonl", tmp_path / "new" / "news.jsonl"
    write_corpus(old, 24)
    rows = [json.loads(line) for line in old.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        row["text"] += "\nThe report was updated on Friday."
    new.parent.mkdir()
    new.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    index_dir = tmp_path / "index"
    run_to_completion(index_dir, old)
    fresh = {a.id: a for a in load_articles([new]) if isinstance(a, Article)}
    hashes_out = tmp_path / "hashes.json"

    # Re-index the new version of every article with a write every 8 chunks (3 batches of about 8 articles),
    # killed inside a write each time; each run redoes what the previous one left pending. The last run
    # is not killed.
    previous = None
    for step, what in [(6, "before the chunks of batch 2"), (3, "before the sentences of batch 1"),
                       (8, "before the final records of batch 2"), (0, "")]:  # fmt: skip
        run = run_killed_at(tmp_path, index_dir, new, step, batch_chunks=8)
        hashes = json.loads(hashes_out.read_text())
        if previous:  # what the kill left on disk, as the next run found it
            assert set(hashes) == set(fresh)
            pending = {i for i, h in hashes.items() if h.startswith(PENDING)}
            assert pending, f"the kill {previous} should leave a batch pending"
            assert all(hashes[i] == PENDING + fresh[i].content_hash for i in pending)
        if step:
            assert run.returncode == -signal.SIGKILL, f"not killed {what}: {run.stderr[-2000:]}"
        previous = what

    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    done = {i for i, h in hashes.items() if h == fresh[i].content_hash}
    untouched = len(fresh) - len(pending) - len(done)  # still the old version
    assert run.stdout.startswith(f"{len(pending)} added, {untouched} updated, {len(done)} unchanged"), run.stdout
    assert_index_consistent(index_dir, [new])


# --- a full disk ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_failing_write_keeps_earlier_articles_and_is_redone_later(tmp_path, seed_index, monkeypatch):
    shutil.copytree(seed_index, tmp_path / "index")
    corpus = tmp_path / "news" / "news.jsonl"
    write_corpus(corpus, 20)
    settings = Settings(index_dir=tmp_path / "index", index_batch_chunks=16)  # a write every 16 chunks
    bot = Assistant(settings)
    store = bot.store
    real_add, calls = store.chunks.add, []

    def add(**kwargs):
        calls.append(len(kwargs["ids"]))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_add(**kwargs)

    monkeypatch.setattr(store.chunks, "add", add)
    with pytest.raises(IndexWriteError) as err:
        bot.index([corpus])
    message = str(err.value)
    assert "No space left on device" in message and "qa index" in message and "\n" not in message

    fresh = {a.id: a for a in load_articles([corpus]) if isinstance(a, Article)}
    hashes = store.article_hashes()
    written = {i for i in fresh if hashes.get(i) == fresh[i].content_hash}
    failed = {i for i in fresh if i in hashes and i not in written}
    assert written and failed, (written, failed)
    assert all(hashes[i].startswith(PENDING) for i in failed), "a failed write left a complete-looking record"
    # What was indexed before is intact and answerable.
    assert all(hashes[i] != "" and not hashes[i].startswith(PENDING) for i in SEED_IDS)
    answer = bot.ask(QUESTION)
    assert "70 minutes" in answer.text and bot.lookup(answer.citations[0].id).quote == answer.citations[0].quote
    for article_id in sorted(written)[:3]:
        text = fresh[article_id].text
        quote = text[: text.find(". ") + 1] if ". " in text else text[:200]
        found = bot.find(quote, k=3)
        assert any(p.article_id == article_id and quote in p.before + p.quote + p.after for p in found), article_id

    monkeypatch.undo()
    report = bot.index([corpus, SEEDS])
    assert (report.added, report.updated, report.unchanged) == (len(fresh) - len(written), 0, len(written) + 2)
    assert_index_consistent(tmp_path / "index", [corpus, SEEDS])


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_disk_full_in_the_cli_is_one_line_and_the_next_run_completes(tmp_path, seed_index):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    corpus = tmp_path / "news" / "news.jsonl"
    write_corpus(corpus, 30)
    # No file may grow more than 200 kB past the current database: like a disk that fills up mid-run.
    limit = max(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) + 200_000
    proc = qa_index(index_dir, corpus, batch_chunks=64, preexec_fn=_limit_file_size(limit),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: writing to the index at {index_dir} failed"), err

    hashes = stored_hashes(index_dir)
    assert all(not hashes[i].startswith(PENDING) for i in SEED_IDS)
    run_to_completion(index_dir, corpus, SEEDS)
    assert_index_consistent(index_dir, [corpus, SEEDS])
