"""Ingestion's fast path: a batch's sentences embedded in one call (grouped by token count, padded per batch),
in a worker process for `qa index`, and an index that holds exactly what embedding each sentence on its own
would give."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, Settings
from qa.chunking import chunk_article, sentence_spans, without_repeats
from qa.citations import citation_id
from qa.embeddings import Embedder, OnnxEncoder, start_worker
from qa.errors import Cancelled, QAError

from .conftest import ROOT, SEEDS, STUCK, wait_until
from .index_checks import assert_index_consistent, qa_index, write_corpus

pytestmark = pytest.mark.slow  # the real model's vectors are what these tests compare

TEXTS = [
    "NATO opened a mission to South Korea.",
    "Yes.",
    "The communiqué issued during the summit on July 11 stated that China challenges the interests, security "
    "and values of NATO countries, and the PRC's malicious hybrid and cyber operations harm alliance security.",
    "Kishida met Stoltenberg in Vilnius.",
    "",
    "The rocket was in the air for more than 70 minutes, the longest-ever flight time for a North Korean missile.",
    "Kishida met Stoltenberg in Vilnius.",
]


def test_a_batch_of_texts_gets_the_vectors_each_text_gets_alone(assistant):
    embedder = assistant.embedder
    assert embedder.backend is embedder.onnx, "the ONNX export is what `qa index` uses; it should exist here"
    together = embedder.encode(TEXTS, batch_size=3)  # batches mix lengths: each must be padded and masked right
    alone = np.stack([embedder.encode([t])[0] for t in TEXTS])
    assert together.shape == (len(TEXTS), 384) and together.dtype == np.float32
    np.testing.assert_allclose(together, alone, atol=1e-5)  # in input order, whatever order they were run in
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape[0] == 0


def test_between_batches_runs_between_model_calls_and_what_it_raises_stops_encoding(assistant):
    calls = []
    assistant.embedder.encode(TEXTS, batch_size=2, between_batches=lambda: calls.append(1))
    assert len(calls) == 3  # 7 texts in batches of 2: 4 model calls

    class Stop(Exception):
        pass

    def stop():
        raise Stop

    with pytest.raises(Stop):
        assistant.embedder.encode(TEXTS, batch_size=2, between_batches=stop)


@pytest.fixture
def worker_embedder(assistant):
    """An Embedder whose work goes to an embedding worker process, as in `qa index`."""
    s = assistant.settings
    start_worker(s.embedding_model, s.model_cache_dir, s.embedding_batch_size)
    embedder = Embedder(s.embedding_model, s.embedding_batch_size, s.model_cache_dir)
    assert embedder._worker is not None and embedder._worker.alive
    yield embedder
    embedder._worker and embedder._worker.close()


def test_the_worker_process_gives_the_vectors_embedding_here_gives_in_the_order_asked(assistant, worker_embedder):
    first, second = worker_embedder.submit(TEXTS), worker_embedder.submit(TEXTS[:3])  # both queued at once
    np.testing.assert_allclose(first.result(), assistant.embedder.encode(TEXTS), atol=1e-6)
    np.testing.assert_allclose(second.result(), assistant.embedder.encode(TEXTS[:3]), atol=1e-6)
    np.testing.assert_allclose(worker_embedder.encode(TEXTS[3:]), assistant.embedder.encode(TEXTS[3:]), atol=1e-6)


def test_a_cancel_stops_the_worker_and_the_embedder_goes_on_without_it(assistant, worker_embedder):
    worker = worker_embedder._worker

    def cancel():
        raise Cancelled("indexing cancelled")

    pending = worker_embedder.submit(TEXTS * 4, batch_size=2)
    with pytest.raises(Cancelled):
        pending.result(cancel)
    wait_until(lambda: not worker.alive, "the worker to stop")
    np.testing.assert_allclose(worker_embedder.encode(TEXTS[:2]), assistant.embedder.encode(TEXTS[:2]), atol=1e-6)


def test_a_model_that_fails_to_load_in_the_worker_is_one_clear_error(tmp_path):
    model = "all-MiniLM-L6-v2"
    folder = OnnxEncoder.for_model(model, tmp_path).folder
    folder.mkdir(parents=True)
    for name in ("model.onnx", "tokenizer.json", "info.json"):
        (folder / name).write_text("not a model")
    start_worker(model, tmp_path, 8)
    with pytest.raises(QAError, match="^the embedding model failed in its worker process: [A-Za-z]+"):
        Embedder(model, 8, tmp_path).encode(["a sentence"])


@pytest.mark.slow
@pytest.mark.parametrize("where", ["in process", "qa index"])
def test_an_index_holds_each_sentence_s_own_vector_and_chunks_their_weighted_mean(tmp_path, where):
    """Batches that span articles, several writes in flight and a vector reused for a repeated sentence give
    the index every sentence would get embedded on its own: the content does not depend on how it was batched,
    nor on the process that embedded it."""
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, n=25)
    settings = Settings(index_dir=tmp_path / "index", index_batch_chunks=8)  # many batches, each written apart
    if where == "qa index":  # the embedding worker, with batches in the pipeline
        (tmp_path / "tmp").mkdir()
        run = qa_index(settings.index_dir, corpus, SEEDS, batch_chunks=8, env={"TMPDIR": str(tmp_path / "tmp")},
                       stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert run.wait(timeout=STUCK) == 0 and "27 added" in run.stdout.read()
        assert not list((tmp_path / "tmp").glob("qa-embed-*")), "the worker's files are left behind"
        bot = Assistant(settings)
    else:
        bot = Assistant(settings)
        report = bot.index([corpus, SEEDS])
        assert report.added == 27 and not report.skipped
    articles = assert_index_consistent(settings.index_dir, [corpus, SEEDS], settings=settings)
    store, embedder = bot.store, bot.embedder
    for article in articles.values():
        spans = sentence_spans(article.text, settings.chunk_size)
        chunks = without_repeats(chunk_article(article, settings.chunk_size, settings.chunk_overlap, spans))
        stored = store.sentence_vectors([citation_id(article.id, s, e) for s, e in spans])
        own = embedder.encode([article.text[s:e] for s, e in spans])
        by_span = {(s, e): own[n] for n, (s, e) in enumerate(spans)}
        for (s, e), vector in by_span.items():
            if citation_id(article.id, s, e) in stored:  # a repeated sentence is stored once, where it first occurs
                np.testing.assert_allclose(stored[citation_id(article.id, s, e)], vector, atol=1e-5)
        got = store.chunks.get(ids=[c.id for c in chunks], include=["embeddings"])
        chunk_vectors = dict(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32)))
        for chunk in chunks:
            inside = [(s, e) for s, e in spans if s >= chunk.start and e <= chunk.end]
            mean = sum((e - s) * by_span[(s, e)] for s, e in inside)
            np.testing.assert_allclose(chunk_vectors[chunk.id], mean / np.linalg.norm(mean), atol=1e-5)


# A stand-in for `qa index`: it starts the worker, says where its files are, and waits to be killed.
PARENT = """
import sys
from qa.embedding_worker import EmbeddingWorker
worker = EmbeddingWorker(sys.argv[1], 8)
print(worker._files, flush=True)
sys.stdin.read()
"""


def test_a_parent_killed_by_sigkill_leaves_no_worker_files(tmp_path):
    """The worker's input closes with its parent, however the parent ends, and the worker removes the request
    folder on its way out (the parent's atexit never runs after SIGKILL)."""
    (tmp_path / "tmp").mkdir()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "no-model")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, env={**os.environ, "TMPDIR": str(tmp_path / "tmp"), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    folder = Path(parent.stdout.readline().strip())  # the worker is running
    assert folder.parent == tmp_path / "tmp" and folder.is_dir()
    parent.kill()
    parent.wait(timeout=STUCK)
    wait_until(lambda: not folder.exists(), "the worker to remove its request folder")
