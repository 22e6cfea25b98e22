"""The article library through the Python API: list, search, filter, page, and removal for good (qa.library)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from qa import Assistant, Settings
from qa.articles import UPLOAD_PREFIX
from qa.errors import CitationNotFound, UsageError

from .conftest import SEED_IDS, SEEDS

ROCKET = "How long was the North Korean rocket in the air?"  # only the first seed article answers it
TODAY = datetime.now(UTC).date().isoformat()


def _corpus(tmp_path, n: int = 30):
    """``n`` short articles from three publishers, with dates, a month-only date and an undated one."""
    lines = []
    for i in range(n):
        published = "" if i == 0 else "2024-03" if i == 1 else f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
        lines.append(json.dumps({"doc_id": f"art-{i:03d}", "title": f"Harbour report number {i}",
                                 "source": ["Wire", "Daily", "Weekly Gazette"][i % 3], "published": published,
                                 "url": f"https://news.example/{i}",
                                 "text": f"The harbour of town {i} reopened after repairs. Ferries run again."}))  # fmt: skip
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def library(fresh_assistant, tmp_path) -> Assistant:
    fresh_assistant.index([_corpus(tmp_path)])
    return fresh_assistant


@pytest.mark.hashed_embedder
def test_list_is_newest_first_then_by_title_with_chunk_counts(library):
    page = library.list_articles(limit=1000)
    assert page.total == 32 == len(page.items)
    keys = [(a.published, a.title) for a in page.items]
    dated = [k for k in keys if k[0]]
    assert [k[0] for k in dated] == sorted((k[0] for k in dated), reverse=True)  # ISO dates sort as text
    assert keys[-1] == ("", "Harbour report number 0")  # undated last
    assert all(a.chunks >= 1 for a in page.items)
    seed = next(a for a in page.items if a.id == SEED_IDS[0])
    assert seed.source == "JAPAN Forward" and seed.file_name == f"{SEED_IDS[0]}.txt" and seed.chunks > 1


@pytest.mark.hashed_embedder
def test_search_filters_and_pages(library):
    assert [a.id for a in library.list_articles(search="KISHIDA welcomed").items] == [SEED_IDS[0]]
    assert library.list_articles(search="news.example/17").items[0].id == "art-017"  # the URL
    assert library.list_articles(search="corpus.jsonl").total == 30  # the file name
    assert library.list_articles(search="ART-00").total == 10  # the id, any case
    wire = library.list_articles(sources=["Wire"], limit=100)
    assert wire.total == 10 and {a.source for a in wire.items} == {"Wire"}
    both = library.list_articles(sources=["Wire", "JAPAN Forward"], limit=100)
    assert both.total == 11
    march = library.list_articles(published_from=date(2024, 3, 1), published_to=date(2024, 3, 31), limit=100)
    assert {a.published[:7] for a in march.items} == {"2024-03"} and march.total >= 2
    first, second = (library.list_articles(offset=o, limit=10) for o in (0, 10))
    assert first.total == second.total == 32 and len(first.items) == len(second.items) == 10
    assert not {a.id for a in first.items} & {a.id for a in second.items}
    assert library.list_articles(offset=40).items == []
    with pytest.raises(UsageError):
        library.list_articles(limit=0)
    with pytest.raises(UsageError, match="after"):
        library.list_articles(published_from=date(2024, 2, 1), published_to=date(2024, 1, 1))


@pytest.mark.hashed_embedder
def test_records_written_before_chunk_counts_are_counted_from_their_chunks(library):
    ids = [a.id for a in library.list_articles(limit=100).items]
    counted = {a.id: a.chunks for a in library.list_articles(limit=100).items}
    library.store.records.update(ids=ids, metadatas=[{"chunks": None}] * len(ids))  # None deletes the key
    assert "chunks" not in library.store.records.get(ids=ids[:1], include=["metadatas"])["metadatas"][0]
    library._catalogue = None
    assert {a.id: a.chunks for a in library.list_articles(limit=100).items} == counted


@pytest.mark.slow
def test_removal_for_good(fresh_assistant):
    bot = fresh_assistant
    before = bot.ask(ROCKET)
    assert before.citations and before.citations[0].article_id == SEED_IDS[0], before.text
    old_id = before.citations[0].id
    assert any(meta["article_id"] == SEED_IDS[0] for _, _, meta, _ in bot.lexical.search(ROCKET, 5))

    assert bot.list_articles().total == 2  # cached: the removal updates the cached list
    report = bot.remove([SEED_IDS[0], "no-such-article"])
    assert [a.id for a in report.removed] == [SEED_IDS[0]] and report.removed[0].title.startswith("Kishida")
    assert [(m.id, m.reason) for m in report.missing] == [
        ("no-such-article", "no article with id 'no-such-article' in the index")
    ]
    assert bot.status().articles == 1 and [a.id for a in bot.list_articles().items] == [SEED_IDS[1]]
    assert Assistant(bot.settings).list_articles() == bot.list_articles()  # read afresh: the same

    after = bot.ask(ROCKET)
    assert SEED_IDS[0] not in {c.article_id for c in after.citations + after.related}, after.text
    assert all(meta["article_id"] != SEED_IDS[0] for _, _, meta, _ in bot.lexical.search(ROCKET, 20))
    title = report.removed[0].title
    with pytest.raises(CitationNotFound) as removed:
        bot.lookup(old_id)
    assert str(removed.value) == f"article '{SEED_IDS[0]}' (\"{title}\") was removed from the index on {TODAY}"
    with pytest.raises(CitationNotFound, match="was removed from the index"):
        bot.lookup(before.citations[0].chunk_id or f"{SEED_IDS[0]}#0123456789ab")

    # Another process (a new Assistant) sees the removal too: the search index on disk no longer holds the article.
    other = Assistant(bot.settings)
    assert all(meta["article_id"] != SEED_IDS[0] for _, _, meta, _ in other.lexical.search(ROCKET, 20))
    twice = bot.remove([SEED_IDS[0]])
    assert twice.removed == [] and twice.missing[0].reason == (
        f"article '{SEED_IDS[0]}' (\"{title}\") was already removed from the index on {TODAY}"
    )


@pytest.mark.slow
def test_indexing_the_article_again_clears_its_tombstone(fresh_assistant):
    bot = fresh_assistant
    old_id = bot.ask(ROCKET).citations[0].id
    bot.remove([SEED_IDS[0], SEED_IDS[1]])
    assert bot.status().articles == 0
    # `qa index` without a path (as `make run` does) indexes the seeds, but not those the user removed
    assert bot.index().added == 0 and bot.status().articles == 0
    report = bot.index([SEEDS / f"{SEED_IDS[0]}.txt"])
    assert report.added == 1
    assert bot.lookup(old_id).quote and bot.store.tombstones([SEED_IDS[0]]) == {}
    assert set(bot.store.tombstones(SEED_IDS)) == {SEED_IDS[1]}
    assert bot.ask(ROCKET).citations[0].article_id == SEED_IDS[0]


@pytest.mark.hashed_embedder
def test_removing_an_upload_deletes_its_file_only(fresh_assistant, tmp_path):
    bot = fresh_assistant
    folder = bot.settings.upload_folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ferry.md").write_text("---\ntitle: Ferry news\n---\nThe ferry to Kiel runs twice a day.\n")
    lines = [json.dumps({"doc_id": f"bulletin-{i}", "title": f"Bulletin {i}", "text": f"Bulletin {i} says the "
                         "port of Gdansk opened a new terminal."}) for i in range(2)]  # fmt: skip
    (folder / "bulletins.jsonl").write_text("\n".join(lines) + "\n")
    outside = tmp_path / "elsewhere.md"
    outside.write_text("The tram to the harbour runs every ten minutes.\n")
    bot.index([folder / "ferry.md", folder / "bulletins.jsonl"], id_prefix=UPLOAD_PREFIX)
    bot.index([outside])
    ids = {a.title or a.id: a.id for a in bot.list_articles(limit=100).items}
    assert ids["Ferry news"] == "upload-ferry"

    report = bot.remove(["upload-ferry", ids["Bulletin 0"], "elsewhere"])
    assert report.files_deleted == ["ferry.md"] and not (folder / "ferry.md").exists()
    assert (folder / "bulletins.jsonl").exists() and outside.exists()  # Bulletin 1 still comes from it; not an upload
    assert bot.remove([ids["Bulletin 1"]]).files_deleted == ["bulletins.jsonl"]
    assert not (folder / "bulletins.jsonl").exists()


@pytest.mark.hashed_embedder
def test_lookup_past_the_end_says_how_long_the_article_is(assistant):
    article = assistant.article(SEED_IDS[1])
    n = len(article.text)
    with pytest.raises(CitationNotFound) as same:
        assistant.lookup(f"{SEED_IDS[1]}:{n - 5}-{n + 40}@{article.version}")
    assert str(same.value).endswith(f"which is now {n:,} characters long")
    with pytest.raises(CitationNotFound) as changed:
        assistant.lookup(f"{SEED_IDS[1]}:{n - 5}-{n + 40}@00000000")
    assert str(changed.value).endswith(
        f"which is now {n:,} characters long; it has changed since the citation was made"
    )


@pytest.mark.slow
def test_removal_against_a_chroma_server(chroma_server, tmp_path):
    settings = Settings(chroma_url=chroma_server.url, model_cache_dir=tmp_path / "cache",
                        uploads_dir=tmp_path / "uploads")  # fmt: skip
    bot = Assistant(settings)
    bot.index([SEEDS])
    old_id = bot.ask(ROCKET).citations[0].id
    other = Assistant(settings)  # another client of the server: the tombstone lives on the server
    assert bot.list_articles().total == other.list_articles().total == 2  # both lists cached
    assert [a.id for a in bot.remove([SEED_IDS[0]]).removed] == [SEED_IDS[0]]
    assert other.list_articles().total == 1 and other.status().articles == 1  # the records' stamp moved on
    with pytest.raises(CitationNotFound, match=r"was removed from the index on \d{4}-\d\d-\d\d$"):
        other.lookup(old_id)
    assert SEED_IDS[0] not in {c.article_id for c in other.ask(ROCKET).citations}
    assert "already removed" in other.remove([SEED_IDS[0]]).missing[0].reason
    other.index([SEEDS])
    assert other.lookup(old_id).quote and bot.list_articles().total == 2


PAGE_SCRIPT = """
import os, sys
sys.path.insert(0, os.path.join(os.environ["QA_TEST_ROOT"], "ui"))
import streamlit as st
from library_page import render
from qa import Assistant, Settings

@st.cache_resource
def bot(index_dir):
    return Assistant(Settings(index_dir=index_dir))

render(bot(os.environ["QA_INDEX_DIR"]))
"""


@pytest.mark.hashed_embedder
def test_library_page_cancels_deletes_and_reindexes(fresh_assistant, monkeypatch):
    """The page through streamlit.testing (the real page, index and Assistant; the browser test clicks it too)."""
    from streamlit.testing.v1 import AppTest

    from qa.ui_text import plain

    from .conftest import ROOT, STUCK

    monkeypatch.setenv("QA_INDEX_DIR", str(fresh_assistant.settings.index_dir))
    monkeypatch.setenv("QA_TEST_ROOT", str(ROOT))
    at = AppTest.from_string(PAGE_SCRIPT, default_timeout=STUCK)
    at.run()
    assert not at.exception and "2 articles" in at.caption[0].value
    at.checkbox(key=f"library-pick-{SEED_IDS[1]}").check().run()
    at.button(key="library-reindex").click().run()
    assert [s.value for s in at.success] == [plain("Read 1 again: 0 updated, 1 unchanged.")]
    at.checkbox(key=f"library-pick-{SEED_IDS[0]}").check().run()
    at.button(key="library-delete").click().run()
    assert "Delete 2 articles from the index for good?" in at.warning[0].value
    at.button(key="library-delete-no").click().run()
    assert not at.warning and fresh_assistant.status().articles == 2  # cancelled: nothing deleted
    at.button(key="library-delete").click().run()
    at.button(key="library-delete-yes").click().run()
    assert not at.exception and at.success[0].value.startswith("Deleted “Kishida welcomed")
    assert fresh_assistant.status().articles == 0 and "No article is indexed yet" in at.info[0].value
