"""A damaged index is found and reported in one line naming `qa index --rebuild`, never a traceback, a Rust panic
or a silent fresh start; `qa index --rebuild` keeps every article it can still read."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from qa import Assistant, IndexCorrupt, Settings
from qa.integrity import DATABASE, REMEDY, persisted_segments

from .conftest import ROOT, SEED_IDS, SEEDS, STUCK
from .index_checks import write_corpus


def qa(index_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", "--index-dir", str(index_dir), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=STUCK)  # fmt: skip


def vector_segments(index_dir: Path) -> dict[str, Path]:
    """Each collection's HNSW segment folder, by collection name."""
    with sqlite3.connect(index_dir / DATABASE) as db:
        rows = db.execute("SELECT c.name, s.id FROM segments s JOIN collections c ON c.id = s.collection "
                          "WHERE s.scope = 'VECTOR'").fetchall()  # fmt: skip
    return {name: index_dir / segment for name, segment in rows}


def truncate(path: Path, size: int) -> None:
    os.truncate(path, size)


def flip_database_header(index_dir: Path) -> None:
    with open(index_dir / DATABASE, "r+b") as f:  # byte 18: the file format's write version
        f.seek(18)
        f.write(b"\xff")


DAMAGE = {
    "chunk vectors truncated": lambda d: truncate(vector_segments(d)["articles-chunks"] / "data_level0.bin", 1000),
    "sentence header truncated": lambda d: truncate(vector_segments(d)["articles-sentences"] / "header.bin", 10),
    # what two processes writing at once did: a sparse 6 GB file costs no disk
    "runaway link lists": lambda d: truncate(vector_segments(d)["articles-chunks"] / "link_lists.bin", 6 * 2**30),
    "database header flipped": flip_database_header,
    "database emptied": lambda d: truncate(d / DATABASE, 0),
}


@pytest.fixture
def index_dir(tmp_path, seed_index) -> Path:
    folder = tmp_path / "index"
    shutil.copytree(seed_index, folder)
    assert qa(folder, "ask", "Who did Kishida meet in Vilnius?").returncode == 0  # a used index: BM25 cache too
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("damage", DAMAGE)
def test_damage_is_one_line_naming_the_rebuild_in_every_command(index_dir, damage):
    DAMAGE[damage](index_dir)
    for args in (
        ["ask", "Who did Kishida meet in Vilnius?"],
        ["status"],
        ["index", "-q"],
        ["cite", f"{SEED_IDS[0]}:0-10"],
    ):
        result = qa(index_dir, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: the index in {index_dir} is damaged"), (args, lines)
        assert lines[0].endswith(REMEDY), lines
    # Nothing was rebuilt from the seeds behind the user's back.
    assert not any(index_dir.parent.glob("index.damaged-*"))


@pytest.mark.slow
def test_an_emptied_database_is_an_error_not_a_fresh_start(index_dir):
    truncate(index_dir / DATABASE, 0)
    with pytest.raises(IndexCorrupt, match="chroma.sqlite3 is empty, but the folder held articles"):
        Assistant(Settings(index_dir=index_dir)).ask("Who did Kishida meet in Vilnius?")
    assert (index_dir / DATABASE).stat().st_size == 0


@pytest.mark.slow
def test_a_new_empty_folder_is_still_a_fresh_start(tmp_path):
    bot = Assistant(Settings(index_dir=tmp_path / "new", seeds_dir=SEEDS))
    assert bot.ask("Who did Kishida meet in Vilnius?").citations


@pytest.mark.slow
def test_a_deleted_vector_segment_is_found(tmp_path):
    # Chroma writes a segment's files once 1,000 vectors wait in its log, and purges the log then: a folder
    # deleted before that costs nothing (the log rebuilds it), one deleted after loses vectors for good.
    index_dir = tmp_path / "index"
    write_corpus(tmp_path / "news.jsonl", 300)
    assert qa(index_dir, "index", "-q", str(tmp_path / "news.jsonl")).returncode == 0
    (persisted,) = persisted_segments(index_dir)
    shutil.rmtree(index_dir / persisted)
    result = qa(index_dir, "ask", "Who did Kishida meet in Vilnius?")
    assert result.returncode == 2, result.stdout
    assert (
        result.stderr.strip() == f"error: the index in {index_dir} is damaged (vector segment {persisted} lacks "
        f"header.bin, data_level0.bin, length.bin, link_lists.bin); {REMEDY}"
    )


@pytest.mark.slow
def test_rebuild_keeps_the_articles_the_damaged_index_still_holds(index_dir, tmp_path):
    extra = tmp_path / "uploads" / "ferry.md"
    extra.parent.mkdir()
    extra.write_text("---\ntitle: Ferry\nsource: Test Wire\n---\nThe ferry to Gotland restarts on 3 May.\n")
    assert qa(index_dir, "index", "-q", str(extra.parent)).returncode == 0
    extra.unlink()  # an uploaded file that exists only in the index now
    DAMAGE["chunk vectors truncated"](index_dir)

    result = qa(index_dir, "index", "-q", "--rebuild", str(SEEDS))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3 added"), result.stdout
    assert "rebuilding the index with 3 articles read from the old one" in result.stderr
    (aside,) = index_dir.parent.glob("index.damaged-*")
    assert (aside / DATABASE).is_file()
    status = qa(index_dir, "status")
    assert status.returncode == 0 and status.stdout.startswith("3 articles"), status
    answer = qa(index_dir, "ask", "When does the ferry to Gotland restart?")
    assert "3 May" in answer.stdout, answer.stdout


@pytest.mark.slow
def test_rebuild_of_an_emptied_database_indexes_the_given_files(index_dir):
    truncate(index_dir / DATABASE, 0)
    result = qa(index_dir, "index", "-q", "--rebuild", str(SEEDS))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 added"), result.stdout
    assert qa(index_dir, "status").stdout.startswith("2 articles")
