"""Sentences in the search index (qa.sentence_sync, qa.sentence_rows): float16 rows synced with the chunks, a usearch
graph on disk whose candidates are reranked exactly, and the answerer's sentence vectors read from the rows.

Every test runs on a real store (a copy of the seed index) and real files. The seeds have far fewer sentences than
the graph waits for (``ANN_MIN_ROWS``), so the tests that mean the graph lower that threshold to one row; so do
the tests of the chunk graph (``CHUNK_ANN_MIN_ROWS``).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date

import numpy as np
import pytest

from qa import Assistant, CitationNotFound
from qa.integrity import DATABASE
from qa.records import article_from_record
from qa.retrieval import Filters
from qa.search_index import SEARCH_FILE, SearchIndex
from qa.search_sync import state_of, sync
from qa.sentence_sync import sentence_pages
from qa.store import IDS_AFTER
from qa.store_client import pages_of

from .index_checks import add_change_and_remove, graph_at_any_size, index_cut_short_before_commit, write
from .test_search_index import QUESTION

QUERIES = ("When does the ferry line open?", "How long was the rocket in the air?", "Who met in Vilnius?")


@pytest.fixture
def with_graph(monkeypatch):
    """Build the sentence graph however few rows there are, and search it whatever the filter."""
    graph_at_any_size(monkeypatch, "sentences")


def store_sentences(store) -> dict[str, tuple[dict, np.ndarray]]:
    return {i: (m, v) for page in sentence_pages(store) for i, m, v in zip(page.ids, page.metas, page.vectors)}


def sentence_snapshot(index: SearchIndex, assistant: Assistant) -> dict:
    """What a reader sees of the sentences: every one's vector and the nearest ones to a few questions."""
    ids = sorted(store_sentences(assistant.store))
    vectors = {i: v.tolist() for i, v in index.sentence_vectors(ids).items()}
    searches = {q: [(i, m["chunk_id"], round(s, 3)) for i, m, s in
                    index.nearest_sentences(assistant.embedder.query_vector(q), 8)] for q in QUERIES}  # fmt: skip
    return {"vectors": vectors, "searches": searches}


def full_build(assistant: Assistant, folder) -> SearchIndex:
    index = SearchIndex(folder)
    sync(index, assistant.store)
    return index


@pytest.mark.hashed_embedder
def test_sync_of_added_changed_and_removed_sentences_equals_a_full_build(fresh_assistant, tmp_path, with_graph):
    add_change_and_remove(fresh_assistant, tmp_path / "news")
    updated = fresh_assistant.lexical
    stored = store_sentences(fresh_assistant.store)
    assert set(updated.sentence_vectors(list(stored))) == set(stored)  # every sentence of the store, no other
    assert not any(i.startswith("bridge:") for i in stored)
    state = state_of(updated)
    assert state.sentence_live == len(stored) and state.ann_file and state.ann_rows == state.sentence_rows
    assert sentence_snapshot(updated, fresh_assistant) == sentence_snapshot(
        full_build(fresh_assistant, tmp_path / "full"), fresh_assistant
    )


@pytest.mark.hashed_embedder
def test_a_sync_cut_short_keeps_the_previous_sentences_and_the_next_one_completes(fresh_assistant, tmp_path,
                                                                                  monkeypatch):  # fmt: skip
    before = sentence_snapshot(fresh_assistant.lexical, fresh_assistant)
    committed = state_of(fresh_assistant.lexical)
    write(tmp_path / "ferry.md", "Ferry", "A new ferry line opens in June. Tickets cost 20 euros.")
    index_cut_short_before_commit(fresh_assistant, tmp_path / "ferry.md", monkeypatch)
    sentence_file = fresh_assistant.lexical_dir / committed.sentence_file
    assert sentence_file.stat().st_size > committed.sentence_rows * committed.width * 2  # written past the commit
    other = Assistant(fresh_assistant.settings)._open_lexical()  # another process reads the previous state
    assert state_of(other) == committed
    assert sentence_snapshot(other, fresh_assistant) == before
    monkeypatch.undo()
    again = Assistant(fresh_assistant.settings).lexical  # the next process brings it up to date
    assert any(i.startswith("ferry:") for i, *_ in again.nearest_sentences(
        fresh_assistant.embedder.query_vector("When does the ferry line open?"), 3))  # fmt: skip
    assert sentence_snapshot(again, fresh_assistant) == sentence_snapshot(
        full_build(fresh_assistant, tmp_path / "full"), fresh_assistant
    )


@pytest.mark.hashed_embedder
@pytest.mark.parametrize("graph", [False, True], ids=["exact", "graph"])
def test_filters_limit_the_sentence_search_exactly(fresh_assistant, tmp_path, monkeypatch, graph):
    if graph:
        graph_at_any_size(monkeypatch, "sentences")
    write(tmp_path / "ferry.md", "Ferry", "A new ferry line opens in June. Tickets cost 20 euros.", "Harbour Post",
          "2024-06-01")  # fmt: skip
    write(tmp_path / "tram.md", "Tram", "A tram to the airport is planned for 2030.", "City Desk", "2025-03-04")
    fresh_assistant.index([tmp_path])
    index = fresh_assistant.lexical
    assert bool(state_of(index).ann_file) == graph
    query = fresh_assistant.embedder.query_vector("When does the ferry line open?")
    stored = store_sentences(fresh_assistant.store)
    vectors = index.sentence_vectors(list(stored))
    for filters in (Filters(), Filters(sources=["Harbour Post"]), Filters(sources=["City Desk", "Harbour Post"]),
                    Filters(published_from=date(2025, 1, 1)), Filters(published_to=date(2024, 12, 31)),
                    Filters(article_ids=["ferry"], published_to=date(2024, 12, 31))):  # fmt: skip
        allowed = [i for i, (meta, _) in stored.items() if filters.matches(meta)]
        assert allowed, filters
        found = index.nearest_sentences(query, 3, filters)
        expected = sorted(allowed, key=lambda i: -float(vectors[i] @ query))[:3]
        np.testing.assert_allclose([s for *_, s in found], [float(vectors[i] @ query) for i in expected], atol=1e-4)
        assert {i for i, *_ in found} <= set(allowed), filters
        assert all(m["chunk_id"] == stored[i][0]["chunk_id"] for i, m, _ in found), filters


@pytest.mark.hashed_embedder
def test_every_sentence_is_found_by_its_own_vector_through_the_graph(fresh_assistant, with_graph):
    index = Assistant(fresh_assistant.settings).lexical  # the graph is built by this sync (the threshold is one row)
    assert state_of(index).ann_file
    stored = store_sentences(fresh_assistant.store)
    for sentence_id, (_, vector) in list(stored.items())[::3]:
        found = index.nearest_sentences(vector, 5)
        best = found[0][2]
        assert best > 0.999 and sentence_id in {i for i, _, s in found if s >= best - 1e-3}, sentence_id


@pytest.mark.hashed_embedder
def test_removed_sentences_leave_the_search_and_a_compaction_rebuilds_the_graph(fresh_assistant, tmp_path,
                                                                                with_graph):  # fmt: skip
    index = Assistant(fresh_assistant.settings).lexical
    first = state_of(index)
    seeds = list(index.articles())
    fresh_assistant.remove(seeds[:1])
    index = fresh_assistant.lexical
    after = state_of(index)
    assert after.sentence_file != first.sentence_file and after.sentence_rows == after.sentence_live
    assert after.ann_file != first.ann_file and after.ann_rows == after.sentence_rows
    assert not (fresh_assistant.lexical_dir / first.ann_file).exists()
    for question in QUERIES:
        hits = index.nearest_sentences(fresh_assistant.embedder.query_vector(question), 10)
        assert hits and not any(i.startswith(f"{seeds[0]}:") for i, *_ in hits)
    assert sentence_snapshot(index, fresh_assistant) == sentence_snapshot(
        full_build(fresh_assistant, tmp_path / "full"), fresh_assistant
    )


@pytest.mark.hashed_embedder
def test_the_answerer_reads_the_stored_sentence_vectors_from_the_search_index(fresh_assistant):
    source = fresh_assistant.sentence_source()
    assert source is fresh_assistant.lexical
    ids = list(store_sentences(fresh_assistant.store))
    from_index, from_store = source.sentence_vectors(ids), fresh_assistant.store.sentence_vectors(ids)
    assert set(from_index) == set(from_store) == set(ids)
    for i in ids:
        np.testing.assert_allclose(from_index[i], from_store[i], atol=2e-3)  # float16 rounding


@pytest.mark.slow
def test_an_embedded_answer_never_asks_chroma_for_sentences(fresh_assistant, monkeypatch):
    # A spy, not a fake: the real store stays; a call to its sentence graph or vectors fails the test.
    def refused(*args, **kwargs):
        raise AssertionError("Chroma's sentence collection was read while answering")

    monkeypatch.setattr(fresh_assistant.store, "query_sentences", refused)
    monkeypatch.setattr(fresh_assistant.store, "sentence_vectors", refused)
    assert "70 minutes" in fresh_assistant.ask(QUESTION).text


@pytest.mark.hashed_embedder
def test_an_index_of_the_earlier_schema_is_built_anew_with_its_sentences(fresh_assistant):
    path = fresh_assistant.lexical_dir / SEARCH_FILE
    fresh_assistant.lexical.close()
    with sqlite3.connect(path) as conn:  # what version 1 left: no sentences table
        conn.execute("DROP TABLE sentences")
        conn.execute("UPDATE meta SET value = 1 WHERE key = 'schema'")
    again = Assistant(fresh_assistant.settings)
    index = again.lexical
    stored = store_sentences(again.store)
    assert set(index.sentence_vectors(list(stored))) == set(stored)
    assert any("70 minutes" in d.page_content for d in again.retriever().invoke(QUESTION))


@pytest.mark.hashed_embedder
def test_a_missing_graph_is_searched_exactly_and_built_again_by_the_next_sync(fresh_assistant, tmp_path, with_graph):
    index = Assistant(fresh_assistant.settings).lexical
    named = state_of(index)
    query = fresh_assistant.embedder.query_vector(QUESTION)
    expected = index.nearest_sentences(query, 5)
    (fresh_assistant.lexical_dir / named.ann_file).unlink()  # a sync that replaced it, or one cut short
    reader = SearchIndex(fresh_assistant.lexical_dir)
    assert reader.nearest_sentences(query, 5) == expected  # the rows, searched exactly
    sync(reader, fresh_assistant.store)
    assert (fresh_assistant.lexical_dir / state_of(reader).ann_file).exists()
    assert state_of(reader).ann_rows == named.sentence_rows
    assert SearchIndex(fresh_assistant.lexical_dir).nearest_sentences(query, 5) == expected


@pytest.mark.hashed_embedder
def test_opening_or_syncing_an_unchanged_index_reads_no_vector_from_chroma(fresh_assistant, monkeypatch):
    """Chroma answers a read of one vector by loading the collection's whole HNSW segment (108 MB at 50,000
    chunks), so neither opening the search index nor syncing it after another process wrote reads one."""
    from chromadb.api.models.Collection import Collection

    read = Collection.get

    def spied(self, *args, **kwargs):
        assert "embeddings" not in (kwargs.get("include") or []), f"a vector of {self.name} was read"
        return read(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "get", spied)
    again = Assistant(fresh_assistant.settings)
    assert again.lexical.search("rocket", 3)
    fresh_assistant.store.folder_will_write()  # another process wrote: the store's write counter moved
    assert not sync(SearchIndex(fresh_assistant.lexical_dir), Assistant(fresh_assistant.settings).store)


@pytest.mark.slow
def test_an_embedded_question_reads_nothing_through_chroma(fresh_assistant, monkeypatch):
    """Any read of an embedded Chroma collection, a count included, loads its whole HNSW segment into the
    process (490 MB at 250,000 chunks): the empty-index check and the article texts come from Chroma's SQLite
    tables, retrieval and the answer from the search index."""
    from chromadb.api.models.Collection import Collection

    def refusing(name):
        real = getattr(Collection, name)

        def spied(self, *args, **kwargs):
            raise AssertionError(f"{self.name}.{name} while answering")
            return real(self, *args, **kwargs)

        return spied

    bot = Assistant(fresh_assistant.settings)
    bot.lexical  # noqa: B018 - opened (and brought up to date) before the spies
    for name in ("get", "count", "query", "peek"):
        monkeypatch.setattr(Collection, name, refusing(name))
    answer = bot.ask(QUESTION)
    assert "70 minutes" in answer.text
    assert bot.lookup(answer.citations[0].id).quote == answer.citations[0].quote  # `qa cite` reads the article too
    assert bot.example_questions() and bot.list_articles().total  # the chat's first screen: examples and library


@pytest.mark.hashed_embedder
def test_counts_and_articles_read_from_chroma_s_tables_are_chroma_s_own(fresh_assistant, tmp_path):
    store = fresh_assistant.store
    assert store.counts() == (store.records.count(), store.chunks.count()) and store.has_chunks()
    fresh_assistant.remove([next(iter(store.article_hashes()))])
    assert store.counts() == (store.records.count(), store.chunks.count()) == (1, store.chunks.count())
    for article_id in store.article_hashes():  # and so are the articles
        got = store.records.get(ids=[article_id], include=["documents", "metadatas"])
        assert store.get_article(article_id) == article_from_record(
            article_id, got["documents"][0], got["metadatas"][0]
        )
    with pytest.raises(CitationNotFound):
        store.get_article("no-such-article")
    through_chroma = {}
    for ids, _, metas in pages_of(store.records, include=["metadatas"]):
        through_chroma.update(zip(ids, metas))
    assert store.article_records() == through_chroma  # and so are the records' metadata
    few = store.article_records(["origin"])
    assert few == {i: {k: m[k] for k in ("origin", "content_hash", "written_hash")} for i, m in through_chroma.items()}
    empty = Assistant(fresh_assistant.settings.model_copy(update={"index_dir": tmp_path / "empty"}))
    assert empty.store.counts() == (0, 0) and not empty.store.has_chunks()


@pytest.mark.hashed_embedder
def test_chroma_answers_where_its_tables_are_not_as_expected(fresh_assistant, monkeypatch):
    store = fresh_assistant.store
    found = (store.counts(), store.article_records(), {i: store.get_article(i) for i in store.article_hashes()},
             store.article_records(["title"]))  # fmt: skip
    monkeypatch.setattr("qa.store.read_chroma_tables", lambda *args: None)  # as with another Chroma's tables
    assert (store.counts(), store.article_records(), {i: store.get_article(i) for i in found[1]},
            store.article_records(["title"])) == found  # fmt: skip
    assert store.has_chunks()


@pytest.mark.hashed_embedder
@pytest.mark.parametrize("tables", ["as expected", "not as expected"])
def test_whole_collections_are_read_in_pages_without_offsets(fresh_assistant, monkeypatch, tables):
    """A first sync reads every chunk and sentence: by ids listed from Chroma's tables, not by Chroma's offsets
    (each page by offset reads past every earlier record); Chroma's own paging where the tables are not as
    expected. Pages of 7 records, so every collection takes several."""
    store = fresh_assistant.store
    whole = {"chunks": [i for p in store.iter_chunks(vectors=True) for i in p.ids], "sentences": store_sentences(store)}
    monkeypatch.setattr("qa.store.PAGE", 7)
    monkeypatch.setattr("qa.store_client.PAGE", 7)
    if tables == "not as expected":
        monkeypatch.setattr("qa.store.read_chroma_tables", lambda *args: None)
    asked = []
    for name in ("chunks", "sentences"):
        get = getattr(store, name).get
        monkeypatch.setattr(getattr(store, name), "get", lambda get=get, **kw: asked.append(kw) or get(**kw))
    chunks = [(i, v.tolist()) for p in store.iter_chunks(vectors=True) for i, v in zip(p.ids, p.vectors)]
    sentences = store_sentences(store)
    assert sorted(i for i, _ in chunks) == sorted(whole["chunks"]) and len(chunks) > 7
    assert {i: (m, v.tolist()) for i, (m, v) in sentences.items()} == {
        i: (m, v.tolist()) for i, (m, v) in whole["sentences"].items()
    }
    offsets = [kw.get("offset", 0) for kw in asked]
    assert any(offsets) == (tables == "not as expected")


@pytest.mark.hashed_embedder
def test_listing_a_collection_walks_the_rows_in_order_without_a_sort(fresh_assistant):
    """Each page of ``ArticleStore.gets`` lists ids past the last one: by rowid, not by reading the collection's
    whole index and sorting it again for every page (5 s a page at 773,584 sentences)."""
    database = fresh_assistant.store.folder / DATABASE
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        plan = " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {IDS_AFTER}", ("segment", 0, 7)))
    assert "INTEGER PRIMARY KEY" in plan and "TEMP B-TREE" not in plan, plan
