"""The search index on disk (qa.search_index, qa.search_sync): SQLite FTS5 for BM25, float16 vectors searched exactly.

Every test runs on a real store (a copy of the seed index, or a real Chroma server on loopback) and a real file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date

import numpy as np
import pytest

from qa import Assistant, IndexCorrupt, Settings
from qa.retrieval import Filters
from qa.search_index import SEARCH_FILE, SearchIndex
from qa.search_sync import state_of, sync

from .conftest import SEEDS, STUCK
from .index_checks import add_change_and_remove, graph_at_any_size, index_cut_short_before_commit, write

# hashed_embedder: the search index stores and searches whatever vectors it is given, so hashed words stand in
# for the model; the slow tests run `qa` processes, which load the real one.
QUESTION = "How long was the North Korean rocket in the air?"


def snapshot(index: SearchIndex) -> dict:
    """What a reader sees: chunks, article hashes, BM25 scores and vectors (compared between two indexes)."""
    ids = [c.id for c in index.iter_chunks()]
    searches = {q: [(i, round(s, 4)) for i, _, _, s in index.search(q, 10)]
                for q in ("ferry tickets July", "airport tram", "Kishida Vilnius", "rocket minutes")}  # fmt: skip
    vectors = {i: v.tolist() for i, v in index.vectors_of(ids).items()}
    return {"ids": sorted(ids), "hashes": index.article_hashes(), "searches": searches, "vectors": vectors}


def full_build(store, folder) -> SearchIndex:
    index = SearchIndex(folder)
    sync(index, store)
    return index


@pytest.mark.hashed_embedder
def test_incremental_sync_of_adds_changes_and_removals_equals_a_full_build(fresh_assistant, tmp_path):
    add_change_and_remove(fresh_assistant, tmp_path / "news")
    updated = fresh_assistant.lexical
    assert snapshot(updated) == snapshot(full_build(fresh_assistant.store, tmp_path / "full"))
    assert "bridge" not in updated.article_hashes() and "tram" in updated.article_hashes()


@pytest.mark.hashed_embedder
def test_a_sync_cut_short_leaves_the_previous_state_and_the_next_one_completes(fresh_assistant, tmp_path, monkeypatch):
    before = snapshot(fresh_assistant.lexical)
    committed = state_of(fresh_assistant.lexical)
    write(tmp_path / "ferry.md", "Ferry", "A new ferry line opens in June. Tickets cost 20 euros.")
    index_cut_short_before_commit(fresh_assistant, tmp_path / "ferry.md", monkeypatch)
    vectors_file = fresh_assistant.lexical_dir / committed.vectors_file
    assert vectors_file.stat().st_size > committed.rows * committed.width * 2  # the rows written past the commit
    other = Assistant(fresh_assistant.settings)._open_lexical()  # another process reads the previous state
    assert snapshot(other) == before and state_of(other) == committed
    assert other.nearest(fresh_assistant.embedder.query_vector("ferry tickets"), 3)

    monkeypatch.undo()
    again = Assistant(fresh_assistant.settings).lexical  # the next sync completes it
    assert "ferry" in again.article_hashes()
    assert vectors_file.stat().st_size == state_of(again).rows * state_of(again).width * 2  # overwritten, not added
    assert snapshot(again) == snapshot(full_build(fresh_assistant.store, tmp_path / "full"))


@pytest.mark.hashed_embedder
def test_removed_rows_are_dropped_from_the_vectors_file_once_they_pass_a_quarter(fresh_assistant, tmp_path):
    index = fresh_assistant.lexical
    first = state_of(index)
    seeds = list(index.articles())
    fresh_assistant.remove(seeds[:1])
    index = fresh_assistant.lexical
    after = state_of(index)
    assert first.rows - after.live > first.rows / 4  # the first seed holds more than a quarter of the chunks
    assert after.vectors_file != first.vectors_file and after.rows == after.live
    assert not (fresh_assistant.lexical_dir / first.vectors_file).exists()
    assert snapshot(index) == snapshot(full_build(fresh_assistant.store, tmp_path / "full"))


@pytest.fixture
def chunk_graph(monkeypatch):
    """Build the chunk graph however few chunks there are (``CHUNK_ANN_MIN_ROWS``), and search it whatever the
    filter."""
    graph_at_any_size(monkeypatch, "chunks")


@pytest.mark.hashed_embedder
@pytest.mark.parametrize("graph", [False, True], ids=["exact", "graph"])
def test_filters_limit_both_searches_exactly(fresh_assistant, tmp_path, request, graph):
    if graph:
        request.getfixturevalue("chunk_graph")
    write(tmp_path / "ferry.md", "Ferry", "A new ferry line opens in June. Tickets cost 20 euros.", "Harbour Post",
          "2024-06-01")  # fmt: skip
    write(tmp_path / "tram.md", "Tram", "A tram to the airport is planned for 2030.", "City Desk", "2025-03-04")
    fresh_assistant.index([tmp_path])
    index = fresh_assistant.lexical
    assert bool(state_of(index).chunk_ann_file) == graph
    query = fresh_assistant.embedder.query_vector("When does the ferry line open?")
    everything = {c.id: c.meta for c in index.iter_chunks()}
    vectors = index.vectors_of(list(everything))
    for filters in (Filters(sources=["Harbour Post"]), Filters(sources=["City Desk", "Harbour Post"]),
                    Filters(published_from=date(2025, 1, 1)), Filters(published_to=date(2024, 12, 31)),
                    Filters(article_ids=["ferry"], published_to=date(2024, 12, 31))):  # fmt: skip
        allowed = [i for i, meta in everything.items() if filters.matches(meta)]
        assert allowed, filters
        exact = sorted(allowed, key=lambda i: (-float(vectors[i] @ query), i))[:3]
        assert [i for i, *_ in index.nearest(query, 3, filters)] == exact, filters
        found = index.search("ferry tram airport tickets Kishida rocket", 50, filters)
        assert found and all(filters.matches(meta) for _, _, meta, _ in found), filters
        assert {c.id for c in index.iter_chunks(filters)} == set(allowed)
        assert set(index.articles(filters)) == {everything[i]["article_id"] for i in allowed}


@pytest.mark.hashed_embedder
def test_every_chunk_is_found_by_its_own_vector_through_the_chunk_graph(fresh_assistant, chunk_graph):
    index = Assistant(fresh_assistant.settings).lexical  # the graph is built by this sync (the threshold is one row)
    state = state_of(index)
    assert state.chunk_ann_file and state.chunk_ann_rows == state.rows
    vectors = index.vectors_of([c.id for c in index.iter_chunks()])
    for chunk_id, vector in vectors.items():
        found = index.nearest(vector, 4)
        assert found[0][3] > 0.999 and chunk_id in {i for i, *_, s in found if s >= found[0][3] - 1e-3}, chunk_id


@pytest.mark.hashed_embedder
def test_removed_chunks_leave_the_graph_search_and_a_compaction_rebuilds_it(fresh_assistant, tmp_path, chunk_graph):
    index = Assistant(fresh_assistant.settings).lexical
    first, seeds = state_of(index), list(index.articles())
    fresh_assistant.remove(seeds[:1])  # more than a quarter of the rows: compacted
    after = state_of(fresh_assistant.lexical)
    assert after.vectors_file != first.vectors_file and after.chunk_ann_file != first.chunk_ann_file
    assert after.chunk_ann_rows == after.rows == after.live
    assert not (fresh_assistant.lexical_dir / first.chunk_ann_file).exists()
    for question in ("Who met in Vilnius?", QUESTION, "ferry tickets"):
        hits = fresh_assistant.lexical.nearest(fresh_assistant.embedder.query_vector(question), 10)
        assert hits and not any(meta["article_id"] == seeds[0] for _, _, meta, _ in hits)


@pytest.mark.hashed_embedder
def test_chunks_written_after_the_graph_are_searched_exactly_until_it_is_extended(fresh_assistant, tmp_path,
                                                                                 chunk_graph, monkeypatch):  # fmt: skip
    built = state_of(Assistant(fresh_assistant.settings).lexical)
    graph_at_any_size(monkeypatch, "chunks", min_rows=10**6)  # not extended now
    write(tmp_path / "ferry.md", "Ferry", "A new ferry line opens in June. Tickets cost 20 euros.")
    fresh_assistant.index([tmp_path / "ferry.md"])
    index = fresh_assistant.lexical
    now = state_of(index)
    assert now.chunk_ann_file == built.chunk_ann_file and now.chunk_ann_rows == built.rows < now.rows
    (ferry,) = [c.id for c in index.chunks_of_articles(["ferry"])]
    assert index.nearest(index.vectors_of([ferry])[ferry], 1)[0][0] == ferry


@pytest.mark.hashed_embedder
def test_a_damaged_chunk_graph_is_a_warning_and_the_search_stays_exact(fresh_assistant, chunk_graph, caplog):
    built = Assistant(fresh_assistant.settings).lexical
    graph = fresh_assistant.lexical_dir / state_of(built).chunk_ann_file
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])  # cut short, as by a full disk
    index = Assistant(fresh_assistant.settings)._open_lexical()
    vectors = index.vectors_of([c.id for c in index.iter_chunks()])
    for chunk_id, vector in list(vectors.items())[::4]:
        best = max(float(v @ vector) for v in vectors.values())
        assert index.nearest(vector, 1)[0][3] == pytest.approx(best, abs=1e-3), chunk_id
    assert f"the graph {graph} cannot be read" in caplog.text


@pytest.mark.parametrize("question", ['"AND (" OR NEAR', "ferry* NOT tickets:", "NEAR(ferry tickets, 2) -june ^tram",
                                      '"', "(((", "AND OR NOT"])  # fmt: skip
@pytest.mark.hashed_embedder
def test_a_question_in_fts5_syntax_is_searched_as_words(fresh_assistant, tmp_path, question):
    write(tmp_path / "ferry.md", "Ferry", "The ferry tickets near the tram stop cost 20 euros, not 30.")
    fresh_assistant.index([tmp_path / "ferry.md"])
    found = fresh_assistant.lexical.search(question, 5)  # never an FTS5 syntax error
    words = {"ferry", "ticket", "near", "tram", "june"} & set(question.lower().replace("*", " ").split())
    if words:
        assert found and found[0][2]["article_id"] == "ferry"


@pytest.mark.slow
def test_a_question_in_fts5_syntax_gets_an_answer_or_an_abstention(assistant):
    for question in ['"AND (" OR NEAR', "NEAR(rocket minutes, 2) -june ^tram", "(((", "AND OR NOT"]:
        assert assistant.ask(question).text  # the reader runs: never an FTS5 syntax error


@pytest.mark.hashed_embedder
def test_a_damaged_search_file_is_one_line_with_the_remedy(fresh_assistant):
    index = fresh_assistant.lexical
    path = index.path
    index.close()
    for name in (f"{SEARCH_FILE}-wal", f"{SEARCH_FILE}-shm"):
        (path.parent / name).unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 500)
    with pytest.raises(IndexCorrupt) as damaged:
        Assistant(fresh_assistant.settings).ask(QUESTION)
    message = str(damaged.value)
    assert "\n" not in message and str(path) in message and "qa index --rebuild" in message


@pytest.mark.hashed_embedder
def test_an_index_run_is_done_while_another_process_writes_the_search_index(fresh_assistant, tmp_path, caplog):
    settings = fresh_assistant.settings.model_copy(update={"lock_timeout": 0.3})
    path = fresh_assistant.lexical_dir / SEARCH_FILE
    write(tmp_path / "ferry.md", "Ferry", "A new ferry line opens in June. Tickets cost 20 euros.")
    holder = sqlite3.connect(path, isolation_level=None)  # another process's sync, held until released below
    holder.execute("BEGIN IMMEDIATE")
    try:
        report = Assistant(settings).index([tmp_path / "ferry.md"])  # the store's part of the run is done
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert report.changed and "the next question does it" in caplog.text
    assert "ferry" in Assistant(settings).lexical.article_hashes()  # brought up to date when next asked


@pytest.mark.hashed_embedder
def test_a_short_vectors_file_is_one_line_with_the_remedy(fresh_assistant):
    state = state_of(fresh_assistant.lexical)
    vectors_file = fresh_assistant.lexical_dir / state.vectors_file
    with open(vectors_file, "r+b") as cut:
        cut.truncate(vectors_file.stat().st_size // 2)
    with pytest.raises(IndexCorrupt, match="qa index --rebuild") as damaged:
        Assistant(fresh_assistant.settings).ask(QUESTION)
    assert state.vectors_file in str(damaged.value) and "\n" not in str(damaged.value)
    with pytest.raises(IndexCorrupt, match=state.vectors_file):
        Assistant(fresh_assistant.settings).status(check=True)


@pytest.mark.hashed_embedder
def test_fts5_damage_is_found_by_the_check(fresh_assistant):
    index = fresh_assistant.lexical
    with sqlite3.connect(index.path) as conn:  # the FTS5 index loses its rows, the chunks stay
        conn.execute("DELETE FROM fts_data WHERE id > 10")
    with pytest.raises(IndexCorrupt, match="qa index --rebuild"):
        Assistant(fresh_assistant.settings).status(check=True)


@pytest.mark.slow
def test_qa_index_rebuild_restores_a_damaged_search_file(fresh_assistant):
    folder = fresh_assistant.lexical_dir
    fresh_assistant.lexical.close()
    (folder / SEARCH_FILE).write_bytes(b"\0garbage" * 4096)
    env = {**os.environ, "QA_INDEX_DIR": str(fresh_assistant.settings.index_dir)}

    def qa(*args):
        return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, env=env,
                              timeout=STUCK)  # fmt: skip

    broken = qa("ask", QUESTION)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert broken.stderr.strip().count("\n") == 0 and str(folder / SEARCH_FILE) in broken.stderr, broken.stderr
    assert "qa index --rebuild" in broken.stderr
    rebuilt = qa("index", "--rebuild", str(SEEDS))
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = qa("ask", QUESTION)
    assert again.returncode == 0 and "70 minutes" in again.stdout, again.stderr


@pytest.mark.slow
def test_a_client_of_a_chroma_server_keeps_no_vectors_file(chroma_server, tmp_path):
    bot = Assistant(Settings(chroma_url=chroma_server.url, index_dir=tmp_path / "unused-index"))
    folder = bot.lexical_dir
    try:
        bot.index([SEEDS])
        assert "70 minutes" in bot.ask(QUESTION).text
        index = bot.lexical
        assert not index.keeps_vectors and index.nearest(np.ones(384, dtype=np.float32) / 384**0.5, 5) == []
        assert (folder / SEARCH_FILE).exists() and not list(folder.glob("vectors-*"))
        assert not list(folder.glob("sentences-*")) and index.nearest_sentences(np.ones(384) / 384**0.5, 5) == []
        assert index.search("Kishida Vilnius", 3)  # lexical search from the FTS5 file on this machine
        assert not (tmp_path / "unused-index").exists() or not any((tmp_path / "unused-index").iterdir())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_server_client_reads_the_write_stamp_not_every_hash_and_sees_others_writes(
    chroma_server, tmp_path, monkeypatch
):
    """A process that starts against a server whose articles are as its search file holds them reads the
    server's write stamp, not every article's hash (at 250,000 chunks, 30 s of each cold `qa ask`); a write by
    another client changes the stamp before it changes anything else, and a process that keeps running sees it
    at its next search."""
    settings = Settings(chroma_url=chroma_server.url, index_dir=tmp_path / "unused-index")
    writer = Assistant(settings)
    folder = writer.lexical_dir
    try:
        writer.index([SEEDS])  # its search file is brought up to date at the end of the run

        def client_reading_hashes(reads: list) -> Assistant:
            client = Assistant(settings)
            hashes = client.store.article_hashes
            monkeypatch.setattr(client.store, "article_hashes", lambda: reads.append(1) or hashes())
            return client

        reads = []
        assert "70 minutes" in client_reading_hashes(reads).ask(QUESTION).text
        assert reads == []

        stamps = []
        write_articles = writer.store._write_articles
        monkeypatch.setattr(writer.store, "_write_articles",
                            lambda batch: stamps.append(writer.store.records_version()) or write_articles(batch))  # fmt: skip
        monkeypatch.setattr(writer, "_bring_search_index_up_to_date", lambda: None)  # as from another machine
        before = writer.store.records_version()
        (tmp_path / "news").mkdir()
        write(tmp_path / "news" / "ferry.md", "Ferry", "The night ferry to Tallinn restarts on 3 May.")
        writer.index([tmp_path / "news"])
        assert stamps and stamps[0] != before, "the stamp changes before the write"
        client = client_reading_hashes(reads)
        assert [hit[2]["article_id"] for hit in client.lexical.search("Tallinn ferry", 3)] == ["ferry"]
        assert reads == [1]

        # A process that keeps running (the chat) sees the next write too, at its next question.
        write(tmp_path / "news" / "tram.md", "Tram", "The airport tram opens in Riga next spring.")
        writer.index([tmp_path / "news"])
        assert [hit[2]["article_id"] for hit in client.lexical.search("airport tram Riga", 3)] == ["tram"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_model_runtime_loads_in_a_process_that_opened_the_search_modules_first():
    """Importing onnxruntime after usearch crashes the process (a segfault inside the import); a process that
    opens the search index and then loads the model (the chat, the Python API) must not."""
    code = "import qa.search_index, qa.sentence_sync, qa.dense_rows, onnxruntime; print('imported')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=STUCK)
    assert done.returncode == 0 and "imported" in done.stdout, (done.returncode, done.stderr[-400:])
