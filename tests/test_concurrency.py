"""Concurrency: questions while the same Assistant indexes, `qa ask` processes while a `qa index` process writes,
and two `qa index` processes on one index folder."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa import Assistant, IndexBusy, Settings
from qa.locks import LOCK_FILE

from .conftest import ROOT, SEEDS, STUCK, ChromaServer, wait_until
from .index_checks import BENCH_CORPUS, assert_index_consistent, qa_index, write_corpus

SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"
BENCH_QUESTIONS = BENCH_CORPUS.with_name("questions.jsonl")


def questions_for(article_ids: set[str]) -> list[str]:
    """Seed questions, and bench questions about the given articles when the bench is there."""
    qs = [json.loads(line)["question"] for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()]
    if BENCH_QUESTIONS.is_file():
        for line in BENCH_QUESTIONS.read_text(encoding="utf-8").splitlines():
            q = json.loads(line)
            if q.get("answerable") and set(q.get("evidence_doc_ids", [])) & article_ids:
                qs.append(q["question"])
    return qs


class Asker(threading.Thread):
    """Asks questions in a loop until told to stop; keeps every answer (with when it was asked) and every error."""

    def __init__(self, assistant: Assistant, questions: list[str], offset: int) -> None:
        super().__init__(daemon=True)
        self.assistant, self.questions, self.offset = assistant, questions, offset
        self.answers, self.errors = [], []
        self.last_done = float("-inf")  # when the latest question that got an answer or an error was asked
        self.stop = threading.Event()

    def asked_since(self, t: float) -> bool:
        """Whether a question asked at ``t`` or later has been answered (or has failed)."""
        return self.last_done >= t

    def run(self) -> None:
        n = self.offset
        while not self.stop.is_set():
            question = self.questions[n % len(self.questions)]
            n += 1
            started = time.monotonic()
            self.ask_once(question, started)
            self.last_done = started

    def ask_once(self, question: str, started: float) -> None:
        try:
            answer = self.assistant.ask(question)
        except Exception as exc:  # noqa: BLE001 - any error fails the test
            self.errors.append(f"{question!r}: {exc.__class__.__name__}: {exc}")
        else:
            self.answers.append((started, time.monotonic(), answer))


def ask_while_indexing(assistant: Assistant, corpus: Path, article_ids: set[str], *, hold_after_write=False):
    """Index ``corpus`` in one thread while two threads ask; returns (index window, askers, report).

    With ``hold_after_write``, the run waits after its first store write until every asker has answered a
    question asked after it: questions then overlap the run (new articles written, the run not over) however
    fast or slow the indexing and the questions are on this machine.
    """
    progress = threading.Event()
    result: dict = {}
    askers = [Asker(assistant, questions_for(article_ids), offset) for offset in (0, 7)]
    if hold_after_write:
        store, write = assistant.store, assistant.store.write_articles

        def write_then_hold(batch):
            write(batch)
            del store.write_articles  # hold the first write only
            written = time.monotonic()
            wait_until(lambda: all(a.asked_since(written) for a in askers), "a question asked during the index run")

        store.write_articles = write_then_hold

    def index() -> None:
        try:
            result["report"] = assistant.index([corpus], on_progress=lambda n, _: progress.set())
        except Exception as exc:  # noqa: BLE001
            result["error"] = exc
        result["done"] = time.monotonic()

    indexer = threading.Thread(target=index, daemon=True)
    indexer.start()
    assert progress.wait(STUCK), "indexing never started"
    started = time.monotonic()
    for asker in askers:
        asker.start()
    indexer.join(STUCK)
    assert not indexer.is_alive(), "indexing did not finish"
    # A question from each asker after the index changed, too (waited for, not slept for).
    wait_until(lambda: all(a.asked_since(result["done"]) for a in askers), "a question asked after the index run")
    for asker in askers:
        asker.stop.set()
    for asker in askers:
        asker.join(STUCK)
        assert not asker.is_alive(), "a question never finished"
    assert "error" not in result, f"indexing failed: {result.get('error')!r}"
    return (started, result["done"]), askers, result["report"]


@pytest.mark.slow
def test_questions_while_the_same_assistant_indexes(fresh_assistant, tmp_path):
    corpus = tmp_path / "news" / "news.jsonl"
    ids = set(write_corpus(corpus, 40))
    (start, end), askers, report = ask_while_indexing(fresh_assistant, corpus, ids)
    assert report.added == len(ids)
    errors = [e for a in askers for e in a.errors]
    assert not errors, errors
    answers = [answer for a in askers for _, _, answer in a.answers]
    assert len(answers) >= 2
    cited = [c for answer in answers for c in answer.citations]
    assert cited, "no answer had a citation"
    for c in cited:
        assert fresh_assistant.lookup(c.id).quote == c.quote, c.id
    # After the run, the new articles are answerable and citable from the same Assistant.
    after = fresh_assistant.ask(questions_for(ids)[-1])
    assert all(fresh_assistant.lookup(c.id).quote == c.quote for c in after.citations)
    assert_index_consistent(tmp_path / "index", [SEEDS, corpus])


@pytest.mark.slow
def test_questions_are_answered_during_a_long_index_run(fresh_assistant, tmp_path):
    corpus = tmp_path / "news" / "news.jsonl"
    ids = set(write_corpus(corpus, 60))
    (start, end), askers, _ = ask_while_indexing(fresh_assistant, corpus, ids, hold_after_write=True)
    during = [(s, e) for a in askers for s, e, _ in a.answers if s >= start and e < end]
    assert during, f"no question was answered during the {end - start:.1f} s index run"


# --- two processes ---------------------------------------------------------------------------------------


def start_index(index_dir: Path, *paths: Path) -> subprocess.Popen:
    # A write every 64 chunks: several writes per run, so two runs interleave.
    return qa_index(index_dir, *paths, batch_chunks=64, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def consistent_in_a_child(index_dir: Path, inputs: list[Path]) -> None:
    """assert_index_consistent in a fresh process (this one may hold an out-of-date view of the index)."""
    code = ("import sys; from pathlib import Path; from tests.index_checks import assert_index_consistent; "
            "assert_index_consistent(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code, str(index_dir), *map(str, inputs)], capture_output=True,
                            text=True, cwd=ROOT, timeout=STUCK)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def write_article(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md").write_text(f"---\ntitle: {name}\nsource: Test Wire\n---\n{body}\n", encoding="utf-8")


@pytest.mark.slow
def test_a_second_writer_is_refused_while_the_index_folder_is_locked(tmp_path, seed_index):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    write_article(tmp_path / "news", "ferry", "The ferry service restarts in May after a winter pause.")
    with open(index_dir / LOCK_FILE, "a") as held:  # what a running `qa index` holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(IndexBusy, match="another process is indexing into"):
            Assistant(Settings(index_dir=index_dir)).index([tmp_path / "news"])
        proc = start_index(index_dir, tmp_path / "news")
        out, err = proc.communicate(timeout=STUCK)
        assert proc.returncode == 2 and "Traceback" not in err, err
        assert (
            err.strip()
            == f"error: another process is indexing into {index_dir}; wait for it to finish, then run `qa index` again"
        )
    bot = Assistant(Settings(index_dir=index_dir))
    assert "ferry" not in bot.store.article_hashes()
    assert bot.index([tmp_path / "news"]).added == 1


@pytest.mark.slow
def test_two_processes_indexing_into_one_folder(tmp_path, seed_index):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    first, second = tmp_path / "first", tmp_path / "second"
    write_corpus(first / "news.jsonl", 60, prefix="first-")
    write_corpus(second / "news.jsonl", 60, prefix="second-", skip=60)

    procs = {folder: start_index(index_dir, folder) for folder in (first, second)}
    results = {folder: (proc, *proc.communicate(timeout=STUCK)) for folder, proc in procs.items()}
    succeeded = []
    for folder, (proc, out, err) in results.items():
        assert "Traceback" not in err, err
        if proc.returncode == 0:
            succeeded.append(folder)
            assert out.startswith("60 added"), out
        else:
            assert proc.returncode == 2, err
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: another process is indexing into"), err
    assert succeeded, "neither run succeeded"
    consistent_in_a_child(index_dir, [SEEDS, *succeeded])

    for folder in (first, second):
        proc = start_index(index_dir, folder)
        out, err = proc.communicate(timeout=STUCK)
        assert proc.returncode == 0, err
        assert out.startswith("0 added" if folder in succeeded else "60 added"), out
    assert_index_consistent(index_dir, [SEEDS, first, second])


# --- askers and a writer in separate processes (the README's flow: the chat open, `qa index` in a terminal) -


class AskProcesses(Asker):
    """Runs `qa ask QUESTION --json` as one real process after another until told to stop; keeps every result."""

    def __init__(self, env: dict, questions: list[str], offset: int) -> None:
        super().__init__(None, questions, offset)
        self.env = env
        self.results: list[tuple[str, subprocess.CompletedProcess]] = []

    def ask_once(self, question: str, started: float) -> None:
        self.results.append((question, subprocess.run(
            [sys.executable, "-m", "qa.cli", "ask", question, "--json"], capture_output=True, text=True, cwd=ROOT,
            env=self.env, timeout=STUCK)))  # fmt: skip


def ask_in_processes_while_indexing(tmp_path: Path, env: dict, index_dir: Path, rounds: int, per_round: int):
    """Six `qa ask` loops, and `rounds` runs of `qa index` with ``per_round`` new articles each; returns the
    article files and every ask's (question, CompletedProcess)."""
    corpora = [tmp_path / f"round-{r}" / "news.jsonl" for r in range(rounds)]
    ids = [set(write_corpus(c, per_round, skip=r * per_round)) for r, c in enumerate(corpora)]
    askers = [AskProcesses(env, questions_for(set().union(*ids)), offset=n * 7) for n in range(6)]
    for asker in askers:
        asker.start()
    try:
        for corpus in corpora:
            writer = qa_index(index_dir, corpus, batch_chunks=64, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
            out, err = writer.communicate(timeout=STUCK)
            assert writer.returncode == 0, err
            assert out.startswith(f"{per_round} added"), out
            done = time.monotonic()
            wait_until(
                lambda done=done: all(a.asked_since(done) for a in askers), "a `qa ask` started after the index run"
            )
    finally:
        for asker in askers:
            asker.stop.set()
        for asker in askers:
            asker.join(STUCK)
    return corpora, [r for a in askers for r in a.results]


def assert_every_ask_answered(results: list[tuple[str, subprocess.CompletedProcess]]) -> None:
    for question, result in results:
        assert result.returncode == 0, f"`qa ask {question!r}` exited {result.returncode}: {result.stderr[-2000:]}"
        answer = json.loads(result.stdout)
        assert answer["abstained"] or answer["citations"], question


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@pytest.mark.slow
def test_ask_processes_while_a_process_indexes_into_the_embedded_store(tmp_path, seed_index):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir)}
    corpora, results = ask_in_processes_while_indexing(tmp_path, env, index_dir, rounds=2, per_round=150)
    assert_every_ask_answered(results)
    assert_index_consistent(index_dir, [SEEDS, *corpora])  # read in this process: its view is reopened
    # 302 short articles take a few MB of vectors and text; a runaway HNSW file takes gigabytes.
    assert folder_bytes(index_dir) < 100 * 2**20, sorted((f.stat().st_size, str(f)) for f in index_dir.rglob("*"))[-3:]


@pytest.mark.slow
def test_ask_processes_while_a_process_indexes_into_a_chroma_server(tmp_path):
    server = ChromaServer(tmp_path / "chroma-data", tmp_path / "chroma.log")
    server.start()
    try:
        env = {**os.environ, "QA_CHROMA_URL": server.url, "QA_INDEX_DIR": str(tmp_path / "unused-index")}
        settings = Settings(chroma_url=server.url, index_dir=tmp_path / "unused-index")
        Assistant(settings).index([SEEDS])
        corpora, results = ask_in_processes_while_indexing(tmp_path, env, tmp_path / "unused-index", rounds=1,
                                                           per_round=100)  # fmt: skip
        assert_every_ask_answered(results)
        assert_index_consistent(tmp_path / "unused-index", [SEEDS, *corpora], settings=settings)
    finally:
        server.stop()
    assert not (tmp_path / "unused-index").exists()
