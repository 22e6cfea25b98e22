"""Recoverable states are never reported as damage, and a rebuild never loses what the old index held.

Each case is a row of the red-team list of issue 30: a writer killed mid-transaction, a full disk, a lock file
that is not a file or is held, flipped bytes in a vector file, a rebuild killed or out of room, and the same on a
Chroma server (two index runs at once, a rebuild killed). Kill points are counted from what the program does
(its write steps), never from time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, IndexBusy, IndexCorrupt, Settings
from qa.errors import Cancelled
from qa.integrity import DATABASE, REMEDY
from qa.locks import STORE_LOCK_FILE
from qa.store import count_in_sqlite

from .conftest import ROOT, SEED_IDS, SEEDS, STUCK, ChromaServer, wait_until
from .index_checks import stored_hashes, write_corpus
from .test_integrity import qa, vector_segments

QUESTION = "Who did Kishida meet in Vilnius?"


@pytest.fixture
def index_dir(tmp_path, seed_index) -> Path:
    folder = tmp_path / "index"
    shutil.copytree(seed_index, folder)
    return folder


def leave_hot_journal(database: Path) -> None:
    """What `qa index` killed inside a SQLite transaction leaves: a rollback journal that must be replayed."""
    code = f"""
import os, signal, sqlite3
db = sqlite3.connect({str(database)!r}, isolation_level=None)
db.execute("PRAGMA cache_size=1")  # spill the changed pages into the database file before the commit
db.execute("BEGIN IMMEDIATE")
db.execute("UPDATE embedding_metadata SET string_value = string_value || 'x' WHERE key = 'chroma:document'")
db.execute("UPDATE embeddings SET created_at = created_at")
os.kill(os.getpid(), signal.SIGKILL)
"""
    assert subprocess.run([sys.executable, "-c", code], timeout=STUCK).returncode == -signal.SIGKILL
    assert database.with_name(DATABASE + "-journal").exists()


@pytest.mark.slow
def test_a_writer_killed_mid_transaction_is_not_damage(index_dir):
    leave_hot_journal(index_dir / DATABASE)
    status = qa(index_dir, "status")
    assert status.returncode == 0 and status.stdout.startswith("2 articles"), status.stderr
    answer = qa(index_dir, "ask", QUESTION)
    assert answer.returncode == 0 and "Biden" in answer.stdout, answer.stderr
    # The journal was replayed: the texts are as they were before the killed transaction.
    bot = Assistant(Settings(index_dir=index_dir))
    assert not bot.article(SEED_IDS[0]).text.endswith("x")


def flip_links(segment: Path, count: int = 30) -> None:
    """Flip bytes inside the link lists (link counts and neighbour ids) of the HNSW graph's level 0."""
    rng = np.random.default_rng(7)
    data = bytearray((segment / "data_level0.bin").read_bytes())
    header = np.frombuffer((segment / "header.bin").read_bytes()[:100], dtype=np.uint8)
    element_bytes = int(header[4 + 8 * 3 : 4 + 8 * 4].view("<u8")[0])
    elements = len(data) // element_bytes
    for _ in range(count):
        data[int(rng.integers(elements)) * element_bytes + int(rng.integers(64))] ^= 0xFF
    (segment / "data_level0.bin").write_bytes(bytes(data))


@pytest.mark.slow
def test_flipped_bytes_in_a_vector_file_are_one_line_never_a_crash(tmp_path):
    index_dir = tmp_path / "index"
    write_corpus(tmp_path / "news.jsonl", 300)  # enough sentences for Chroma to write the graph's files
    assert qa(index_dir, "index", "-q", str(tmp_path / "news.jsonl")).returncode == 0
    flip_links(vector_segments(index_dir)["articles-sentences"])
    for args in (["status"], ["ask", QUESTION], ["index", "-q", str(tmp_path / "news.jsonl")]):
        result = qa(index_dir, *args)
        assert result.returncode == 2, (args, result.returncode, result.stderr)  # not -11 (SIGSEGV)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "links outside the graph" in lines[0] and lines[0].endswith(REMEDY), lines
    rebuilt = qa(index_dir, "index", "-q", "--rebuild", str(tmp_path / "news.jsonl"))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert qa(index_dir, "status").stdout.startswith("300 articles")


@pytest.mark.slow
def test_a_lock_file_that_is_a_fifo_is_one_line_not_a_hang(index_dir):
    (index_dir / STORE_LOCK_FILE).unlink()
    os.mkfifo(index_dir / STORE_LOCK_FILE)
    result = qa(index_dir, "ask", QUESTION)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip() == f"error: the lock file {index_dir / STORE_LOCK_FILE} is not a regular file; "
        "delete it and retry"
    )


@pytest.mark.hashed_embedder
def test_a_held_lock_is_waited_for_a_bounded_time_and_its_holder_named(index_dir):
    import fcntl

    with open(index_dir / STORE_LOCK_FILE, "r+") as held:  # what another process holds
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("process 4242, qa index -q, since 12:00:00")
        held.flush()
        with pytest.raises(IndexBusy) as err:
            Assistant(Settings(index_dir=index_dir, lock_timeout=0.2)).status()
    assert str(err.value) == (f"another process (process 4242, qa index -q, since 12:00:00) has held the index at "
                              f"{index_dir} for over 0.2 s (QA_LOCK_TIMEOUT); retry when it is done")  # fmt: skip


@pytest.mark.hashed_embedder
def test_a_bug_inside_a_store_read_is_a_traceback_not_damage(index_dir, monkeypatch):
    bot = Assistant(Settings(index_dir=index_dir))
    bot.status()

    def broken(*args, **kwargs):
        raise TypeError("a bug, not damage")

    monkeypatch.setattr(bot.store._collections["records"], "get", broken)
    with pytest.raises(TypeError, match="a bug, not damage"):
        bot.store.unknown_filter_values(["x"], [])  # what a filtered question reads first


@pytest.mark.slow
def test_saved_vectors_of_the_wrong_width_are_rebuilt(index_dir):
    bot = Assistant(Settings(index_dir=index_dir))
    assert "Biden" in bot.ask(QUESTION).text
    with sqlite3.connect(index_dir / "articles-bm25" / "search.sqlite3") as search:  # as if from another model
        search.execute("UPDATE meta SET value = 100 WHERE key = 'width'")
    again = qa(index_dir, "ask", QUESTION)
    assert again.returncode == 0 and "Biden" in again.stdout and "Traceback" not in again.stderr, again.stderr


# --- a full disk ----------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB file system of its own (tmpfs), so the disk really fills up; skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill the disk up, leaving a few kilobytes; the filler file is returned so the test can free the space."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


@pytest.mark.slow
def test_a_full_disk_is_said_so_and_a_rebuild_refuses_without_touching_the_index(small_disk, seed_index, tmp_path):
    index_dir = small_disk / "index"
    shutil.copytree(seed_index, index_dir)
    write_corpus(tmp_path / "news.jsonl", 300)
    filler = fill(small_disk)
    run = qa(index_dir, "index", "-q", str(tmp_path / "news.jsonl"))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    for args in (["status"], ["ask", QUESTION]):
        result = qa(index_dir, *args)
        assert "damaged" not in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
        assert result.returncode == 0 or "the disk holding the index" in result.stderr, (args, result.stderr)
    rebuild = qa(index_dir, "index", "-q", "--rebuild")
    assert rebuild.returncode == 2 and "free some space first (the index was not touched)" in rebuild.stderr
    assert not list(small_disk.glob("index.*")), "a rebuild moved or copied the index on a full disk"
    filler.unlink()
    status = qa(index_dir, "status")
    assert status.returncode == 0, status.stderr
    assert SEED_IDS[0] in stored_hashes(index_dir)
    write_corpus(tmp_path / "few" / "news.jsonl", 20)  # what the freed space holds
    again = qa(index_dir, "index", "-q", str(tmp_path / "few" / "news.jsonl"), str(SEEDS))
    assert again.returncode == 0, again.stderr


# --- rebuilds ---------------------------------------------------------------------------------------------

# `qa index --rebuild` that SIGKILLs itself before its KILL_AT-th chunk write: a rebuild killed half-way.
REBUILD_KILLER = """
import os, signal
from qa.store import ArticleStore

kill_at, steps = int(os.environ["KILL_AT"]), 0
real_add = ArticleStore._add


def add(self, collection, **kwargs):
    global steps
    steps += 1
    if steps == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_add(self, collection, **kwargs)


ArticleStore._add = add
from qa.cli import main

main()
"""


def rebuild_killed(tmp_path: Path, settings_env: dict, kill_at: int, *args: str) -> subprocess.CompletedProcess:
    killer = tmp_path / "rebuild_killer.py"
    killer.write_text(REBUILD_KILLER)
    env = {**os.environ, **settings_env, "KILL_AT": str(kill_at), "QA_INDEX_BATCH_CHUNKS": "32"}
    return subprocess.run([sys.executable, str(killer), "index", "-q", "--rebuild", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=STUCK)  # fmt: skip


@pytest.mark.slow
def test_a_killed_rebuild_leaves_the_old_index_as_it_was(tmp_path):
    index_dir = tmp_path / "index"
    ids = write_corpus(tmp_path / "news.jsonl", 120)
    assert qa(index_dir, "index", "-q", str(tmp_path / "news.jsonl")).returncode == 0
    before = stored_hashes(index_dir)
    run = rebuild_killed(tmp_path, {"QA_INDEX_DIR": str(index_dir)}, 3, str(tmp_path / "news.jsonl"))
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert stored_hashes(index_dir) == before and len(before) == len(ids)
    assert list(tmp_path.glob("index.rebuild-*")), "the unfinished copy should be beside the index"
    done = qa(index_dir, "index", "-q", "--rebuild", str(tmp_path / "news.jsonl"))
    assert done.returncode == 0, done.stderr
    assert f"rebuilding the index with {len(ids)} articles read from the old one" in done.stderr
    assert not list(tmp_path.glob("index.rebuild-*")), "the unfinished copy was not cleaned up"
    assert stored_hashes(index_dir) == before
    (aside,) = tmp_path.glob("index.damaged-*")
    assert (aside / DATABASE).is_file()


@pytest.mark.slow
def test_a_rebuild_keeps_the_conversations_and_uploads_beside_the_index(tmp_path):
    """The rebuilt index takes the place of the old folder; what the user keeps beside the index goes with it."""
    from qa.history import ConversationStore

    index_dir = tmp_path / "index"
    write_corpus(tmp_path / "news.jsonl", 20)
    assert qa(index_dir, "index", "-q", str(tmp_path / "news.jsonl")).returncode == 0
    settings = Settings(index_dir=index_dir)
    chat = ConversationStore(settings.conversations_file).create("kept across a rebuild")
    settings.upload_folder.mkdir()
    (settings.upload_folder / "note.txt").write_text("An uploaded note.")
    done = qa(index_dir, "index", "-q", "--rebuild", str(tmp_path / "news.jsonl"))
    assert done.returncode == 0, done.stderr
    assert ConversationStore(settings.conversations_file).info(chat.id).title == "kept across a rebuild"
    assert (settings.upload_folder / "note.txt").read_text() == "An uploaded note."
    (aside,) = tmp_path.glob("index.damaged-*")
    assert not (aside / settings.conversations_file.name).exists()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["header zeroed", "half truncated", "garbage journal"])
def test_a_rebuild_salvages_a_partly_damaged_database_row_by_row(tmp_path, damage):
    index_dir = tmp_path / "index"
    ids = write_corpus(tmp_path / "news.jsonl", 150)
    assert qa(index_dir, "index", "-q", str(tmp_path / "news.jsonl")).returncode == 0
    texts = {a: t for a, t in stored_texts(index_dir).items()}
    database = index_dir / DATABASE
    if damage == "header zeroed":
        with open(database, "r+b") as f:
            f.write(b"\0" * 100)
    elif damage == "half truncated":
        os.truncate(database, database.stat().st_size // 2)
    else:
        database.with_name(DATABASE + "-journal").write_bytes(os.urandom(8192))
    nothing_new = tmp_path / "nothing-new"
    nothing_new.mkdir()
    result = qa(index_dir, "index", "-q", "--rebuild", str(nothing_new))  # only what the old index held
    assert result.returncode == 0, result.stderr
    kept = stored_texts(index_dir)
    assert set(kept) <= set(ids) and all(kept[a] == texts[a] for a in kept), "a salvaged text differs"
    share = len(kept) / len(ids)
    assert share >= (0.3 if damage == "half truncated" else 0.95), (damage, len(kept))


def stored_texts(index_dir: Path) -> dict[str, str]:
    """Article texts of an index, read in a child process (this one may hold an out-of-date view)."""
    code = ("import json, sys; from qa.integrity import salvage_articles; from pathlib import Path; "
            "print(json.dumps({a.id: a.text for a in salvage_articles(Path(sys.argv[1]), 'articles')[0]}))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, str(index_dir)], capture_output=True, text=True, cwd=ROOT,
                         timeout=STUCK, check=True).stdout  # fmt: skip
    return json.loads(out)


# --- cancel, uploads, compaction --------------------------------------------------------------------------


@pytest.mark.slow
def test_cancel_stops_inside_a_large_article(fresh_assistant, tmp_path):
    big = tmp_path / "big.md"
    big.write_text("\n".join(f"Paragraph {n} tells of the harbour works in year {1900 + n}." for n in range(3000)))
    cancel, started = threading.Event(), threading.Event()
    embed = fresh_assistant.embedder.encode

    def encode(texts, *args, **kwargs):
        started.set()  # the first step of the large article's embedding: cancel now
        cancel.set()
        return embed(texts, *args, **kwargs)

    fresh_assistant.embedder.encode = encode
    with pytest.raises(Cancelled, match="indexing cancelled after"):
        fresh_assistant.index([big], cancel=cancel)
    assert started.is_set()
    assert "big" not in fresh_assistant.store.article_hashes()
    assert set(SEED_IDS) <= set(fresh_assistant.store.article_hashes())


@pytest.mark.hashed_embedder
def test_an_upload_cannot_replace_an_article_from_elsewhere(fresh_assistant, tmp_path):
    upload = tmp_path / "uploads" / "news.jsonl"
    upload.parent.mkdir()
    upload.write_text(
        json.dumps({"doc_id": SEED_IDS[0], "title": "Forged", "text": "The summit was cancelled."}) + "\n"
    )
    before = fresh_assistant.article(SEED_IDS[0]).text
    report = fresh_assistant.index([upload], id_prefix="upload-")
    assert report.added == 1 and report.updated == 0
    assert fresh_assistant.article(SEED_IDS[0]).text == before
    assert fresh_assistant.article(f"upload-{SEED_IDS[0]}").title == "Forged"


@pytest.mark.slow
def test_rewriting_the_same_articles_does_not_grow_the_index_without_end(tmp_path, monkeypatch):
    import qa.compaction

    monkeypatch.setattr(qa.compaction, "MIN_DEAD", 200)
    rows = [json.loads(line) for line in write_corpus_rows(tmp_path, 30)]
    bot = Assistant(Settings(index_dir=tmp_path / "index"))
    slots = []
    for round_ in range(12):
        corpus = tmp_path / "news.jsonl"
        corpus.write_text("".join(json.dumps({**r, "text": f"Update {round_}.\n" + r["text"].replace(". ", f". Round {round_}. ")})
                                  + "\n" for r in rows))  # fmt: skip
        bot.index([corpus])
        with bot.store.using():
            slots.append(sum(qa.compaction.vector_slots(bot.store.folder).values()))
            live = bot.store.chunks.count() + bot.store.sentences.count()
    assert max(slots) <= 2 * live + 2 * 200 + 1000, (slots, live)  # bounded: dead slots are compacted away
    latest = bot.article(rows[0]["doc_id"])
    assert latest.text.startswith("Update 11.")
    cited = bot.ask(rows[0]["text"].split(". ")[0]).citations[0]
    assert bot.lookup(cited.id).quote == cited.quote and cited.id.endswith("@" + bot.article(cited.article_id).version)


def write_corpus_rows(tmp_path: Path, n: int) -> list[str]:
    path = tmp_path / "base.jsonl"
    write_corpus(path, n)
    return path.read_text(encoding="utf-8").splitlines()


# --- a Chroma server ----------------------------------------------------------------------------------------


def server_env(server: ChromaServer, tmp_path: Path) -> dict:
    return {"QA_CHROMA_URL": server.url, "QA_INDEX_DIR": str(tmp_path / "unused-index")}


@pytest.mark.slow
def test_two_index_runs_against_one_server_do_not_interleave(chroma_server, tmp_path):
    ids = write_corpus(tmp_path / "news.jsonl", 120)
    env = {**os.environ, **server_env(chroma_server, tmp_path), "QA_INDEX_BATCH_CHUNKS": "32"}
    runs = [subprocess.Popen([sys.executable, "-m", "qa.cli", "index", "-q", str(tmp_path / "news.jsonl")], env=env,
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    outcomes = [(p.wait(timeout=STUCK), p.stdout.read(), p.stderr.read()) for p in runs]
    assert any(code == 0 for code, _, _ in outcomes), outcomes
    for code, _out, err in outcomes:
        assert "Traceback" not in err, err
        assert code == 0 or "another process is indexing into the Chroma server" in err, err
    bot = Assistant(Settings(chroma_url=chroma_server.url, index_dir=tmp_path / "unused-index"))
    hashes = bot.store.article_hashes()
    assert set(hashes) == set(ids) and not any(h.startswith("pending:") for h in hashes.values())
    chunk_articles = [m["article_id"] for page in bot.store.iter_chunks() for m in page.metas]
    versions = {m["article_id"]: m["version"] for page in bot.store.iter_chunks() for m in page.metas}
    assert all(versions[a] == hashes[a][:8] for a in set(chunk_articles))
    assert bot.index([tmp_path / "news.jsonl"]).unchanged == len(ids)


@pytest.mark.slow
def test_an_expired_lease_is_taken_over_and_a_live_one_refused(chroma_server, tmp_path):
    from qa.lease import ServerLease

    bot = Assistant(Settings(chroma_url=chroma_server.url, index_dir=tmp_path / "unused-index"))
    client = bot.store.server
    with ServerLease(client, "articles-lease", chroma_server.url):
        with pytest.raises(IndexBusy, match="another process is indexing into the Chroma server"):
            bot.index([SEEDS])
    stale = ServerLease(client, "articles-lease", chroma_server.url, seconds=0.0)
    stale.acquire()
    stale._stop.set()  # a holder killed without deleting its lease: it expires at once
    assert bot.index([SEEDS]).added == 2


@pytest.mark.slow
def test_a_killed_server_rebuild_keeps_every_article(chroma_server, tmp_path):
    ids = write_corpus(tmp_path / "news.jsonl", 80)
    env = server_env(chroma_server, tmp_path)
    bot = Assistant(Settings(chroma_url=chroma_server.url, index_dir=tmp_path / "unused-index"))
    bot.index([tmp_path / "news.jsonl"])
    before = bot.store.article_hashes()
    run = rebuild_killed(tmp_path, env, 3, str(tmp_path / "news.jsonl"))
    assert run.returncode == -signal.SIGKILL, run.stderr
    fresh = Assistant(Settings(chroma_url=chroma_server.url, index_dir=tmp_path / "unused-index"))
    assert fresh.store.article_hashes() == before and len(before) == len(ids)
    stale_lease = fresh.store.server.get_collection("articles-lease")
    stale_lease.modify(metadata={"holder": "killed", "expires": 0.0})  # what LEASE_SECONDS later looks like
    done = subprocess.run([sys.executable, "-m", "qa.cli", "index", "-q", "--rebuild", str(tmp_path / "news.jsonl")], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **env}, timeout=STUCK)  # fmt: skip
    assert done.returncode == 0, done.stderr
    again = Assistant(Settings(chroma_url=chroma_server.url, index_dir=tmp_path / "unused-index"))
    assert again.store.article_hashes() == before
    assert "Traceback" not in done.stderr
    leftovers = [c.name for c in again.store.server.list_collections() if ".rb" in c.name]
    assert not leftovers, f"the killed rebuild's unfinished collections were not deleted: {leftovers}"


@pytest.mark.hashed_embedder
def test_an_article_of_too_many_sentences_is_one_line_and_costs_nothing(fresh_assistant, tmp_path, monkeypatch):
    import qa.indexing

    monkeypatch.setattr(qa.indexing, "MAX_ARTICLE_SENTENCES", 50)
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "list.md").write_text(" ".join(f"Item {n} arrived." for n in range(80)))
    (tmp_path / "news" / "short.md").write_text("The ferry restarts in May.")
    report = fresh_assistant.index([tmp_path / "news"])
    assert report.added == 1 and report.sentences_embedded == 1
    assert report.skipped == [f"skipped {tmp_path / 'news' / 'list.md'}: 80 different sentences; at most 50 are "
                              "indexed from one article: split it into smaller articles"]  # fmt: skip


@pytest.mark.hashed_embedder
def test_an_upload_cannot_replace_a_file_named_like_an_upload(fresh_assistant, tmp_path):
    (tmp_path / "desk").mkdir()
    (tmp_path / "desk" / "upload-ferry.md").write_text("The ferry restarts in May.")
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "ferry.md").write_text("REPLACED BY A CHAT UPLOAD.")
    assert fresh_assistant.index([tmp_path / "desk"]).added == 1
    report = fresh_assistant.index([tmp_path / "uploads"], id_prefix="upload-")
    assert (report.added, report.updated) == (1, 0)
    assert fresh_assistant.article("upload-ferry").text == "The ferry restarts in May."


@pytest.mark.parametrize("field, value, problem", [(11, 0, "impossible graph settings"),
                                                   (1, 4, "impossible graph settings"),
                                                   (9, 0, "impossible graph settings"),
                                                   (5, 7, "impossible element layout"),
                                                   (8, 10**6, "impossible entry point")])  # fmt: skip
def test_graph_settings_that_would_crash_chroma_are_found(field, value, problem):
    from qa.integrity import _header_problem

    sound = (1, 0, 2048, 1406, 1804, 1796, 260, 2, 140, 32, 64, 32)  # a real header.bin of a 384-d index
    assert _header_problem(sound) == ""
    damaged = list(sound)
    damaged[field] = value
    assert problem in _header_problem(tuple(damaged))


def test_a_vector_file_longer_than_its_elements_from_an_earlier_capacity_is_sound(tmp_path):
    """What Chroma left after 10 rewrites of 50 articles (red team): 50 elements, capacity 128, and a data file
    still the length of the earlier capacity of 100. Sound: Chroma opens and queries it."""
    from qa.integrity import _HEADER, check_segment

    segment = tmp_path / "segment"
    segment.mkdir()
    element_bytes = 4 + 4 * 64 + 4 * 384 + 8
    (segment / "header.bin").write_bytes(_HEADER.pack(1, 0, 128, 50, element_bytes, element_bytes - 8, 260, 0, 0,
                                                      32, 64, 32).ljust(100, b"\0"))  # fmt: skip
    (segment / "data_level0.bin").write_bytes(bytes(100 * element_bytes))  # no links: a sound (if useless) graph
    (segment / "length.bin").write_bytes(bytes(4 * 100))
    (segment / "link_lists.bin").write_bytes(bytes(4 * 50))  # no upper levels
    check_segment(tmp_path, segment)
    (segment / "data_level0.bin").write_bytes(bytes(40 * element_bytes))  # fewer than its 50 elements: damage
    with pytest.raises(IndexCorrupt, match="data_level0.bin does not match its header"):
        check_segment(tmp_path, segment)


def test_a_page_too_large_for_extraction_is_one_line(tmp_path):
    from qa.loaders import load_articles

    page = tmp_path / "huge.html"
    page.write_bytes(b"<html><body>" + b"<p>Filler text of the page.</p>" * 300_000 + b"</body></html>")
    [skipped] = list(load_articles([page]))
    assert (
        str(skipped) == f"skipped {page}: a page of 8.9 MiB; at most 2 MiB of HTML is read (news pages are "
        "rarely over 1 MiB)"
    )


@pytest.mark.hashed_embedder
def test_an_unknown_citation_of_a_huge_id_is_a_short_line(assistant):
    from qa.errors import CitationNotFound

    with pytest.raises(CitationNotFound) as err:
        assistant.lookup("a" * 100_000 + ":1-2")
    assert len(str(err.value)) < 300 and "\n" not in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_qa_index_between_articles_and_keeps_the_index_sound(index_dir, tmp_path, signum):
    """A kill inside Chroma's write of its vector files can leave them torn; SIGTERM and Ctrl-C stop the run
    between articles instead, what was written kept, and the next run goes on from there."""
    corpus = tmp_path / "news.jsonl"
    ids = write_corpus(corpus, n=300)
    run = subprocess.Popen([sys.executable, "-m", "qa.cli", "--index-dir", str(index_dir), "index", str(corpus)],
                           stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(iter(lambda: run.stderr.read(1), "")), daemon=True)
    reader.start()
    seeds = count_in_sqlite(index_dir / DATABASE, "articles-chunks")
    wait_until(lambda: count_in_sqlite(index_dir / DATABASE, "articles-chunks") > seeds, "a first batch written")
    run.send_signal(signum)
    run.wait(timeout=STUCK)
    reader.join(timeout=STUCK)
    stderr = "".join(err)
    assert run.returncode == 128 + signum, stderr
    assert "stopped: indexing cancelled after" in stderr and "Traceback" not in stderr, stderr
    kept = [i for i, h in stored_hashes(index_dir).items() if i in ids and not h.startswith("pending:")]
    assert 0 < len(kept) < len(ids)
    assert qa(index_dir, "status").returncode == 0  # it checks the index for damage
    again = qa(index_dir, "index", "-q", str(corpus))
    assert again.returncode == 0 and f"{len(kept)} unchanged" in again.stdout, again.stdout + again.stderr
