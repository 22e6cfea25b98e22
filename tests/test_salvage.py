"""qa.salvage: rows and article records read back page by page from healthy and damaged SQLite files.

The reference is what SQLite itself reads from the healthy file; a damaged copy must give back a share of it,
each article exactly as it was, and never raise.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from qa import Assistant, Settings
from qa.articles import Article
from qa.salvage import DATABASE, FIELDS, PageReader, recover_rows, salvage_articles_from_pages

from .conftest import SEED_IDS
from .index_checks import write_corpus

COLLECTION = Settings().collection


def sql_articles(db: Path) -> dict[str, Article]:
    """The complete article records as SQLite reads them (the query of ``qa.integrity.salvage_articles``)."""
    fields: dict[str, dict[str, str]] = {}
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT e.embedding_id, m.key, m.string_value FROM collections c "
            "JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA' "
            "JOIN embeddings e ON e.segment_id = s.id JOIN embedding_metadata m ON m.id = e.id "
            "WHERE c.name = ? AND m.string_value IS NOT NULL",
            (f"{COLLECTION}-articles",),
        )
        for article_id, key, value in rows:
            fields.setdefault(article_id, {})[key] = value
    return {i: Article(id=i, text=r["chroma:document"], **{k: r.get(k, "") for k in FIELDS})
            for i, r in fields.items() if not r["content_hash"].startswith("pending:")}  # fmt: skip


def salvaged(db: Path) -> dict[str, Article]:
    articles, how = salvage_articles_from_pages(db, COLLECTION)
    assert isinstance(how, str) and "\n" not in how
    ids = [a.id for a in articles]
    assert len(ids) == len(set(ids)), "an article came back twice"
    return {a.id: a for a in articles}


def assert_exact(found: dict[str, Article], originals: dict[str, Article], origin: bool = True) -> None:
    """Every article found is one of the originals, field for field (the origin, which no hash covers, only
    where the damage cannot have reached it)."""
    exclude = set() if origin else {"origin"}
    same = {i: a.model_dump(exclude=exclude) == originals[i].model_dump(exclude=exclude) for i, a in found.items()
            if i in originals}  # fmt: skip
    wrong = [i for i in found if not same.get(i)]
    assert not wrong, f"articles that differ from their originals: {wrong[:5]}"


def copy_db(folder: Path, tmp_path: Path, name: str = "copy") -> Path:
    (tmp_path / name).mkdir()
    return Path(shutil.copy(folder / DATABASE, tmp_path / name / DATABASE))


def overwrite(db: Path, offset: int, data: bytes) -> None:
    with db.open("r+b") as f:
        f.seek(offset)
        f.write(data)


# --- the file format, against SQLite ------------------------------------------------------------------------

VALUES = [None, 0, 1, -1, 127, 128, -129, 2**15, -(2**23), 2**31, 2**47, 2**63 - 1, -(2**63), 1.5, -2.25e-300,
          float("inf"), "", "text", "é 日本 🙂", b"", b"\x00\xffblob", "long é " * 20_000, b"\x07" * 70_000]  # fmt: skip


def make_db(path: Path, page_size: int = 4096, encoding: str = "UTF-8") -> dict[int, list]:
    """A database of one table ``t(tag, a, b)`` with values of every kind (long ones on overflow pages), some
    negative and huge rowids, and some deleted rows; returns its rows as SQLite reads them."""
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA page_size = {page_size}")
        db.execute(f"PRAGMA encoding = '{encoding}'")
        db.execute("CREATE TABLE t (tag TEXT, a, b)")
        db.execute("CREATE INDEX t_a ON t (tag)")
        rows = [(i, VALUES[i % len(VALUES)], VALUES[(i * 7) % len(VALUES)]) for i in range(600)]
        db.executemany("INSERT INTO t (rowid, tag, a, b) VALUES (?, 't', ?, ?)", rows)
        db.executemany("INSERT INTO t (rowid, tag, a, b) VALUES (?, 't', ?, ?)", [(-5, "neg", None), (2**62, "x", 2.0)])
        db.execute("DELETE FROM t WHERE rowid BETWEEN 100 AND 399")  # frees pages: they must not come back
        db.commit()
        return {r[0]: list(r[1:]) for r in db.execute("SELECT rowid, a, b FROM t")}


def recovered(path: Path) -> dict[int, list]:
    return {rowid: values[1:] for rowid, values in recover_rows(path) if len(values) == 3 and values[0] == "t"}


FORMATS = [(512, "UTF-8"), (4096, "UTF-8"), (65536, "UTF-8"), (1024, "UTF-16le"), (4096, "UTF-16be")]


@pytest.mark.parametrize("page_size,encoding", FORMATS)
def test_every_row_is_read_as_sqlite_reads_it(tmp_path, page_size, encoding):
    expected = make_db(tmp_path / "t.db", page_size, encoding)
    assert PageReader(tmp_path / "t.db").freelist, "the deletion freed no page: the test tests less than it says"
    assert recovered(tmp_path / "t.db") == expected


@pytest.mark.parametrize("page_size", [512, 4096, 65536])
def test_without_a_header_the_page_size_is_found_from_the_pages(tmp_path, page_size):
    expected = make_db(tmp_path / "t.db", page_size)
    overwrite(tmp_path / "t.db", 0, bytes(100))
    reader = PageReader(tmp_path / "t.db")
    assert (reader.header_ok, reader.page_size) == (False, page_size)
    got = recovered(tmp_path / "t.db")
    assert {i: got[i] for i in expected} == expected  # deleted rows may come back: no header, no freelist


@pytest.mark.slow
def test_damage_never_raises(tmp_path):
    make_db(tmp_path / "t.db", 1024)
    data = (tmp_path / "t.db").read_bytes()
    rng = random.Random(0)
    for trial in range(40):
        damaged = bytearray(data)
        if trial % 4 == 0:
            damaged = damaged[: rng.randrange(len(damaged))]
        for _ in range(rng.choice([1, 20, 500])):
            at = rng.randrange(len(damaged) or 1)
            damaged[at : at + rng.choice([1, 8, 1024])] = rng.randbytes(rng.choice([1, 8, 1024]))
        (tmp_path / "d.db").write_bytes(bytes(damaged))
        for _ in recover_rows(tmp_path / "d.db"):
            pass
        assert salvage_articles_from_pages(tmp_path / "d.db", COLLECTION)[0] == []


class BadSector:
    """A file whose reads that touch ``bad`` (a byte offset) fail, as a disk's unreadable sector does."""

    def __init__(self, f, bad: int) -> None:
        self.f, self.bad = f, bad

    def read(self, n: int) -> bytes:
        if self.f.tell() <= self.bad < self.f.tell() + n:
            raise OSError(5, "Input/output error")
        return self.f.read(n)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def test_an_unreadable_sector_loses_only_its_page(tmp_path, monkeypatch):
    expected = make_db(tmp_path / "t.db", 1024)
    pages = {n: {i for i, v in rows if v[0] == "t"} for n, rows in PageReader(tmp_path / "t.db").pages()}
    bad, lost = next((n, rowids) for n, rowids in sorted(pages.items()) if len(rowids) > 1)
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: BadSector(real_open(self, *a, **k), bad * 1024 - 10))
    assert recovered(tmp_path / "t.db") == {i: v for i, v in expected.items() if i not in lost}


def test_no_database_is_no_articles_and_a_reason(tmp_path):
    (tmp_path / "garbage.sqlite3").write_bytes(random.Random(1).randbytes(100_000))
    (tmp_path / "empty.sqlite3").write_bytes(b"")
    for path in (tmp_path / "garbage.sqlite3", tmp_path / "empty.sqlite3", tmp_path / "missing.sqlite3", tmp_path):
        articles, how = salvage_articles_from_pages(path, COLLECTION)
        assert articles == [] and how
    assert list(recover_rows(tmp_path / "missing.sqlite3")) == []


# --- article records of real indexes ------------------------------------------------------------------------


@pytest.mark.hashed_embedder
def test_a_healthy_index_gives_what_sqlite_reads(seed_index):
    originals = sql_articles(seed_index / DATABASE)
    assert sorted(originals) == sorted(SEED_IDS)
    found = salvaged(seed_index)
    assert found == originals


@pytest.mark.hashed_embedder
def test_records_whose_embeddings_rows_are_lost_are_still_named(seed_index, tmp_path):
    """An article's id is its embeddings row's; without it, the record's own ``article_id``, Chroma's write log
    or its chunks name it (its content hash tells which name is right)."""
    db = copy_db(seed_index, tmp_path)
    originals = sql_articles(db)
    with closing(sqlite3.connect(db)) as conn:
        records = "SELECT id FROM embedding_metadata WHERE key = 'content_hash'"
        steps = [
            f"DELETE FROM embeddings WHERE id IN ({records})",  # named by their own article_id
            f"DELETE FROM embedding_metadata WHERE key = 'article_id' AND id IN ({records})",  # by the write log
            "DELETE FROM embeddings_queue",  # by their chunks
            "DELETE FROM embedding_metadata WHERE key = 'version'",  # by their file's name (the seeds are .txt files)
        ]
        for step in steps:
            conn.execute(step)
            conn.commit()
            assert salvaged(db) == originals, step
        conn.execute(f"DELETE FROM embedding_metadata WHERE key = 'origin' AND id IN ({records})")  # nothing does
        conn.commit()
    assert salvaged(db) == {}


@pytest.mark.slow
def test_a_large_article_round_trips_through_its_overflow_pages(tmp_path):
    paragraph = (
        "Der Brückenbau in Zürich kostet 3 Mio. € — 日本の橋も 🙂 Long sentences keep the overflow chain busy.\n"
    )
    text = "Bridge opens after years of work\n" + paragraph * 3000
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "bridge.txt").write_text(text, encoding="utf-8")
    Assistant(Settings(index_dir=tmp_path / "index")).index([tmp_path / "docs"])
    originals = sql_articles(tmp_path / "index" / DATABASE)
    assert len(originals["bridge"].text.encode()) > 300_000  # far beyond one page: a chain of overflow pages
    assert salvaged(tmp_path / "index") == originals
    overwrite(tmp_path / "index" / DATABASE, 0, bytes(100))
    assert salvaged(tmp_path / "index") == originals


# --- a 200-article index and its damaged copies ------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory) -> tuple[Path, dict[str, Article]]:
    """An index of 200 articles (built once for this module; tests damage copies of its database)."""
    base = tmp_path_factory.mktemp("salvage-corpus")
    write_corpus(base / "corpus.jsonl", 200)
    Assistant(Settings(index_dir=base / "index")).index([base / "corpus.jsonl"])
    originals = sql_articles(base / "index" / DATABASE)
    assert len(originals) == 200
    return base, originals


@pytest.mark.slow
def test_a_healthy_corpus_index_gives_what_sqlite_reads(corpus_index):
    base, originals = corpus_index
    assert salvaged(base / "index" / DATABASE) == originals


@pytest.mark.slow
@pytest.mark.parametrize("zeroed", [100, 4096], ids=["header", "page-1"])
def test_a_zeroed_header_loses_nothing(corpus_index, tmp_path, zeroed):
    base, originals = corpus_index
    db = copy_db(base / "index", tmp_path)
    overwrite(db, 0, bytes(zeroed))
    with pytest.raises(sqlite3.DatabaseError):
        sql_articles(db)  # SQLite reads none of them
    found = salvaged(db)
    assert len(found) >= 0.95 * len(originals)
    assert_exact(found, originals)


@pytest.mark.slow
def test_a_file_cut_in_half_keeps_what_its_first_half_holds(corpus_index, tmp_path):
    base, originals = corpus_index
    db = copy_db(base / "index", tmp_path)
    os.truncate(db, db.stat().st_size // 2)
    found = salvaged(db)
    assert len(found) >= 0.5 * len(originals)
    assert_exact(found, originals)


@pytest.mark.slow
def test_garbage_over_some_pages_loses_only_their_articles(corpus_index, tmp_path):
    base, originals = corpus_index
    db = copy_db(base / "index", tmp_path)
    reader = PageReader(db)
    # Some of the pages that hold article records, and some others in the middle of the file.
    hashes = [n for n, rows in reader.pages() if any(len(v) == 6 and v[1] == "content_hash" for _, v in rows)]
    rng = random.Random(0)
    middle = range(reader.page_count // 4, 3 * reader.page_count // 4)
    for number in rng.sample(hashes, 3) + rng.sample(middle, 5):
        overwrite(db, (number - 1) * reader.page_size, rng.randbytes(reader.page_size))
    found = salvaged(db)
    assert len(found) >= 0.5 * len(originals)
    assert_exact(found, originals, origin=False)


@pytest.mark.slow
def test_a_garbage_journal_is_not_read(corpus_index, tmp_path):
    base, originals = corpus_index
    db = copy_db(base / "index", tmp_path)
    Path(f"{db}-journal").write_bytes(random.Random(2).randbytes(50_000))
    assert salvaged(db) == originals


@pytest.mark.slow
def test_pruned_articles_do_not_come_back(corpus_index, tmp_path):
    base, originals = corpus_index
    shutil.copytree(base / "index", tmp_path / "index")
    kept = set(write_corpus(tmp_path / "half.jsonl", 100))
    Assistant(Settings(index_dir=tmp_path / "index")).index([tmp_path / "half.jsonl"], prune=True)
    db = tmp_path / "index" / DATABASE
    assert set(sql_articles(db)) == kept
    assert salvaged(db) == sql_articles(db)
    # The pruned records' rows are still in the file, on free pages: read them and they would come back.
    pruned = {originals[i].text for i in set(originals) - kept}
    reader = PageReader(db)
    assert reader.freelist
    reader.freelist = frozenset()
    assert any(v in pruned for _, values in reader.rows() for v in values), "no pruned text is left on free pages"
