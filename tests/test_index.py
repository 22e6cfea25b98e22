import shutil
import subprocess
import sys
import threading

import pytest

from qa import Assistant, IndexCorrupt, Settings, StoreUnavailable
from qa.indexing import text_hash
from qa.loaders import load_articles
from qa.store import PENDING

from . import index_checks
from .conftest import ROOT, SEED_IDS, SEEDS, STUCK
from .index_checks import (
    assert_index_consistent,
    change_ferry_add_tram_remove_bridge,
    index_ferry_and_bridge,
    write_corpus,
)


def write(path, title, body):
    index_checks.write(path, title, body, source="Test Wire")


@pytest.mark.hashed_embedder
def test_reindexing_unchanged_articles_embeds_nothing(fresh_assistant):
    report = fresh_assistant.index([SEEDS])
    assert (report.unchanged, report.added, report.updated, report.sentences_embedded) == (2, 0, 0, 0)


@pytest.mark.slow
def test_changed_article_is_replaced_and_removed_one_pruned(fresh_assistant, tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    write(folder / "bridge.md", "Bridge", "The mayor opened the bridge on Monday. Traffic resumed at noon.")
    write(folder / "park.md", "Park", "The city council approved a new park near the river.")
    first = fresh_assistant.index([folder])
    assert first.added == 2 and first.sentences_embedded > 0
    write(folder / "bridge.md", "Bridge", "The mayor opened the bridge on Tuesday. Traffic resumed at one.")
    second = fresh_assistant.index([folder])
    assert (second.updated, second.unchanged) == (1, 1)
    assert "Tuesday" in fresh_assistant.article("bridge").text
    answer = fresh_assistant.ask("When did the mayor open the bridge?", filters=None)
    assert "Tuesday" in answer.text and "Monday" not in answer.text
    (folder / "park.md").unlink()
    third = fresh_assistant.index([folder, SEEDS], prune=True)
    assert third.removed == 1
    assert set(fresh_assistant.store.article_hashes()) == {"bridge", *SEED_IDS}


@pytest.mark.hashed_embedder
def test_interrupted_write_is_completed_by_the_next_run(fresh_assistant, tmp_path):
    store = fresh_assistant.store
    article = next(a for a in load_articles([SEEDS]))
    # Simulate a crash after the pending record and part of the chunks were written.
    store._put_records([(article, PENDING + article.content_hash)])
    store.chunks.delete(where={"article_id": article.id})
    report = fresh_assistant.index([SEEDS])
    assert report.added == 1 and report.unchanged == 1
    hashes = store.article_hashes()
    assert hashes[article.id] == article.content_hash
    chunk_ids = [i for page in store.chunks_of([article.id]) for i in page.ids]
    assert len(chunk_ids) == len(set(chunk_ids)) > 0


@pytest.mark.hashed_embedder
def test_bad_files_are_skipped_and_the_rest_indexed(fresh_assistant, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "bin.txt").write_bytes(b"\x00\xff\x00")
    (tmp_path / "bad.jsonl").write_text('{"doc_id": "ok1", "text": "A fine story about ferries."}\n{oops\n')
    write(tmp_path / "good.md", "Good", "The ferry service restarts in May.")
    report = fresh_assistant.index([tmp_path])
    assert report.added == 2
    assert len(report.skipped) == 3
    assert any("bad.jsonl:2" in s for s in report.skipped)
    assert fresh_assistant.status().articles == 4


def test_foreign_index_folder_gives_a_clear_error(tmp_path):
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexCorrupt, match="qa index"):
        Assistant(Settings(index_dir=folder)).status()


def test_index_path_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(IndexCorrupt, match="is a file"):
        Assistant(Settings(index_dir=tmp_path / "file")).status()


def test_chroma_server_down_is_one_clear_error(refused_port):
    url = f"http://127.0.0.1:{refused_port}"
    with pytest.raises(StoreUnavailable, match=f"cannot reach the Chroma server at {url}"):
        Assistant(Settings(chroma_url=url)).status()


@pytest.mark.slow
def test_first_question_builds_the_index_from_seeds(tmp_path, caplog):
    assistant = Assistant(Settings(index_dir=tmp_path / "new-index"))
    with caplog.at_level("WARNING", logger="qa"):
        answer = assistant.ask("How long was the North Korean rocket in the air?")
    assert "building it from" in caplog.text
    assert "70 minutes" in answer.text and assistant.status().articles == 2


def chunk_ids(index):
    return [chunk.id for chunk in index.iter_chunks()]


@pytest.mark.hashed_embedder
def test_search_index_is_saved_beside_the_vectors_and_reused(fresh_assistant, tmp_path, monkeypatch):
    from qa.store import ArticleStore

    first = chunk_ids(fresh_assistant.lexical)
    assert (fresh_assistant.lexical_dir / "search.sqlite3").exists() and first
    monkeypatch.setattr(ArticleStore, "article_hashes", lambda self: pytest.fail("the store was read again"))
    again = Assistant(fresh_assistant.settings).lexical  # a new process would do the same
    assert chunk_ids(again) == first
    monkeypatch.undo()
    write(tmp_path / "new.md", "New", "A new ferry line opens in June.")
    fresh_assistant.index([tmp_path / "new.md"])
    assert "new" in fresh_assistant.lexical.articles()
    assert "new" in Assistant(fresh_assistant.settings).lexical.articles()


@pytest.mark.hashed_embedder
def test_search_index_is_updated_with_only_the_changed_articles(fresh_assistant, tmp_path, monkeypatch):
    from qa.search_index import SearchIndex
    from qa.search_sync import sync

    news = tmp_path / "news"
    index_ferry_and_bridge(fresh_assistant, news)
    change_ferry_add_tram_remove_bridge(news)

    store = fresh_assistant.store
    read, real_chunks_of = [], store.chunks_of
    monkeypatch.setattr(store, "chunks_of", lambda ids, **kw: read.extend(ids) or real_chunks_of(ids, **kw))
    monkeypatch.setattr(store, "iter_chunks", lambda **kw: pytest.fail("rebuilt from all chunks"))
    fresh_assistant.index([news], prune=True)  # brings the search index up to date at its end
    updated = fresh_assistant.lexical
    assert sorted(read) == ["ferry", "tram"]  # the seeds and the removed bridge are not read again
    monkeypatch.undo()
    full = SearchIndex(tmp_path / "full")
    sync(full, store)
    assert sorted(chunk_ids(updated)) == sorted(chunk_ids(full)) and updated.article_hashes() == full.article_hashes()
    for query in ["ferry tickets July", "bridge repairs", "airport tram", "Kishida Vilnius"]:
        by_id = lambda index, query=query: {i: round(score, 4) for i, _, _, score in index.search(query, 10)}  # noqa: E731
        assert by_id(updated) == by_id(full), query
    vector_of = lambda index: {i: v.tolist() for i, v in index.vectors_of(chunk_ids(index)).items()}  # noqa: E731
    assert vector_of(updated) == vector_of(full)
    saved = Assistant(fresh_assistant.settings).lexical
    assert chunk_ids(saved) == chunk_ids(updated) and vector_of(saved) == vector_of(updated)  # the update was saved


@pytest.mark.hashed_embedder
def test_dense_search_is_exact_over_the_vectors_on_disk(fresh_assistant, monkeypatch):
    from qa.retrieval import Filters

    # A mock for an HNSW graph that lost chunks: a real one takes 10,000 near-identical articles and loses other
    # chunks in each build (bench/hnsw.py measures it); this one finds nothing at all.
    monkeypatch.setattr(fresh_assistant.store, "query", lambda *args, **kwargs: [])
    retriever, index = fresh_assistant.retriever(), fresh_assistant.lexical
    vectors = index.vectors_of(chunk_ids(index))
    for chunk_id, vector in vectors.items():
        assert next(iter(retriever.dense(vector))) == chunk_id
    first = next(iter(index.iter_chunks()))
    one = first.meta["article_id"]
    found = fresh_assistant.retriever(Filters(article_ids=[one])).dense(vectors[chunk_ids(index)[-1]])
    assert found and {meta["article_id"] for _, meta in found.values()} == {one}


@pytest.mark.hashed_embedder
def test_the_filter_mask_is_built_once_for_both_searches_and_again_for_new_filters(fresh_assistant):
    from qa.retrieval import Filters

    index, masks = fresh_assistant.lexical, []
    chunks = list(index.iter_chunks())
    first, second = chunks[0].meta["article_id"], chunks[-1].meta["article_id"]
    assert first != second
    query = index.vectors_of([chunks[0].id])[chunks[0].id]
    with index.connection() as conn:  # this thread's: the one the searches below use
        conn.set_trace_callback(lambda sql: masks.append(sql) if sql.startswith("SELECT row FROM chunks WHERE")
                                and not sql.startswith("SELECT row FROM chunks WHERE row IN") else None)  # fmt: skip
    try:
        for article in (first, first, second):
            filters = Filters(article_ids=[article])
            lexical = index.search("NATO Japan Kishida summit", 50, filters)
            dense = index.nearest(query, 50, filters)
            assert lexical and dense
            assert {meta["article_id"] for _, _, meta, _ in lexical + dense} == {article}
    finally:
        with index.connection() as conn:
            conn.set_trace_callback(None)
    assert len(masks) == 2  # once for each new set of filters, not once a search


@pytest.mark.hashed_embedder
def test_dense_search_finds_chunks_written_after_the_copy_was_taken(fresh_assistant, tmp_path):
    retriever = fresh_assistant.retriever()  # its search index holds the seeds only
    write(tmp_path / "ferry.md", "Ferry", "A new ferry line opens in June. Tickets cost 20 euros.")
    Assistant(fresh_assistant.settings).index([tmp_path / "ferry.md"])  # another client of the same store
    found = retriever.dense(fresh_assistant.embedder.query_vector("When does the new ferry line open?"))
    assert next(iter(found.values()))[1]["article_id"] == "ferry"


@pytest.mark.slow
def test_identical_text_is_embedded_once(fresh_assistant, tmp_path):
    body = "The night ferry to Tallinn restarts on 3 May. Tickets go on sale on Monday."
    write(tmp_path / "a.md", "Ferry", body)
    write(tmp_path / "b.md", "Ferry (syndicated)", body)
    report = fresh_assistant.index([tmp_path])
    assert report.added == 2 and report.sentences_embedded == 2  # two sentences, shared by both articles
    write(tmp_path / "a.md", "Ferry", body + " Cabins are sold out.")
    report = fresh_assistant.index([tmp_path])
    assert report.updated == 1 and report.sentences_embedded == 1  # only the new sentence
    answer = fresh_assistant.ask("When do cabins sell out on the night ferry?")
    assert {c.article_id for c in answer.citations} <= {"a", "b"}


@pytest.mark.hashed_embedder
def test_a_sentence_shared_by_many_articles_is_read_back_once(fresh_assistant, tmp_path, monkeypatch):
    boilerplate = "Sign up for our morning newsletter."
    for n in range(30):
        write(tmp_path / f"story{n}.md", f"Story {n}", f"Story number {n} is about the harbour. {boilerplate}")
    fresh_assistant.index([tmp_path])
    store = fresh_assistant.store
    hashes = [text_hash(boilerplate), text_hash("Story number 7 is about the harbour.")]
    read = []
    original = store.sentences.get

    def counting_get(**kwargs):
        got = original(**kwargs)
        read.extend(got["ids"])
        return got

    monkeypatch.setattr(store.sentences, "get", counting_get)
    found = store.vectors_by_text_hash(hashes)
    assert len(read) == 2  # one record per hash, not the 30 that hold the boilerplate
    monkeypatch.setattr("qa.store.read_chroma_tables", lambda *args: None)  # as with another Chroma's tables
    assert {h: v.tolist() for h, v in store.vectors_by_text_hash(hashes).items()} == {
        h: v.tolist() for h, v in found.items()
    }
    assert set(found) == set(hashes)


# --- article identity: versions in citation ids, and files that share a name ----------------------------


@pytest.mark.slow
def test_a_citation_of_an_earlier_version_says_the_article_changed(fresh_assistant, tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    story = news / "ferry.md"
    story.write_text("---\ntitle: Ferry\n---\nThe ferry to Gotland restarts on 3 May. Tickets cost 20 euros.\n")
    fresh_assistant.index([news])
    answer = fresh_assistant.ask("When does the ferry to Gotland restart?")
    saved = next(c for c in answer.citations if c.article_id == "ferry")
    assert saved.id.startswith("ferry:") and "@" in saved.id
    assert fresh_assistant.lookup(saved.id).changed is False

    story.write_text("---\ntitle: Ferry\n---\nThe ferry to Gotland restarts on 9 June. Tickets cost 20 euros.\n")
    assert fresh_assistant.index([news]).updated == 1
    now = fresh_assistant.lookup(saved.id)
    assert now.changed and now.quote != saved.quote and "9 June" in now.quote
    assert now.id != saved.id  # the current version's id
    assert fresh_assistant.lookup(now.id).changed is False


@pytest.mark.slow
def test_cite_of_an_earlier_version_warns_and_exits_1(tmp_path, seed_index):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    bot = Assistant(Settings(index_dir=index_dir))
    cid = bot.ask("Who did Kishida meet in Vilnius?").citations[0].id
    article_id, rest = cid.split(":", 1)
    old = f"{article_id}:{rest.split('@')[0]}@00000000"
    result = subprocess.run([sys.executable, "-m", "qa.cli", "--index-dir", str(index_dir), "cite", old],
                            capture_output=True, text=True, cwd=ROOT, timeout=STUCK)  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr.strip() == f"warning: article {article_id!r} changed since this citation; its offsets now hold:"
    )
    assert f"[{cid}]" in result.stdout  # the passage now there, under its current id
    unversioned = subprocess.run([sys.executable, "-m", "qa.cli", "--index-dir", str(index_dir), "cite",
                                  cid.split("@")[0]], capture_output=True, text=True, cwd=ROOT, timeout=STUCK)  # fmt: skip
    assert unversioned.returncode == 0 and not unversioned.stderr


@pytest.mark.hashed_embedder
def test_files_with_the_same_name_from_different_folders_are_different_articles(fresh_assistant, tmp_path):
    for folder, day in (("desk-a", "Monday"), ("desk-b", "Friday")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.md").write_text(f"---\ntitle: Report {folder}\n---\nThe vote is on {day}.\n")
    first = fresh_assistant.index([tmp_path / "desk-a"])
    second = fresh_assistant.index([tmp_path / "desk-b"])
    assert (first.added, second.added, second.updated) == (1, 1, 0)
    records = fresh_assistant.store.article_records()
    ids = sorted(i for i in records if i.startswith("report"))
    assert len(ids) == 2 and ids[0] == "report" and ids[1].startswith("report-"), ids
    assert {records[i]["title"] for i in ids} == {"Report desk-a", "Report desk-b"}
    # Both again, in one run: nothing changes; and each keeps its id.
    again = fresh_assistant.index([tmp_path / "desk-a", tmp_path / "desk-b"])
    assert (again.added, again.updated, again.unchanged, again.skipped) == (0, 0, 2, [])


@pytest.mark.hashed_embedder
def test_an_index_run_can_be_cancelled_and_keeps_what_it_wrote(fresh_assistant, tmp_path):
    from qa.errors import Cancelled

    corpus = tmp_path / "news.jsonl"
    write_corpus(corpus, 40)
    cancel = threading.Event()

    def cancel_at_30(articles, article_id):  # the user presses Cancel while article 30 is read
        if articles == 30:
            cancel.set()

    with pytest.raises(Cancelled, match="^indexing cancelled after 29 articles; those are kept$"):
        fresh_assistant.index([corpus], on_progress=cancel_at_30, cancel=cancel)
    kept = len(fresh_assistant.store.article_hashes()) - 2
    assert 0 <= kept <= 29  # written in batches: those of the last batch may not be
    again = fresh_assistant.index([corpus])
    assert again.added == 40 - kept and again.unchanged == kept
    assert_index_consistent(fresh_assistant.settings.index_dir, [SEEDS, corpus])


@pytest.mark.slow
def test_the_bm25_files_of_an_earlier_version_are_replaced_silently(fresh_assistant, caplog):
    folder = fresh_assistant.lexical_dir
    before = chunk_ids(fresh_assistant.lexical)
    shutil.rmtree(folder)
    folder.mkdir()
    for name in ("articles.json", "chunks.json", "tokens.npz", "vectors.npy"):  # what earlier versions kept there
        (folder / name).write_text("{}", encoding="utf-8")
    bot = Assistant(fresh_assistant.settings)
    with caplog.at_level("WARNING", logger="qa"):
        assert bot.ask("Who did Kishida meet in Vilnius?").citations
    assert "damaged" not in caplog.text
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("search.sqlite3")) == [
        "sentences-1.f16",
        "vectors-1.f16",
    ]
    assert chunk_ids(bot.lexical) == before


@pytest.mark.hashed_embedder
def test_an_embedded_store_builds_the_graphs_it_never_searches_cheaply(fresh_assistant):
    from qa.store import EMBEDDED_HNSW

    for collection in (fresh_assistant.store.chunks, fresh_assistant.store.sentences):
        hnsw = collection.configuration["hnsw"]
        assert {k: hnsw[k] for k in EMBEDDED_HNSW} == EMBEDDED_HNSW  # its searches go to the search index
