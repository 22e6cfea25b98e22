"""Add articles in the chat: what a run reports, in words; files that are not articles refused and not kept.

The pure parts (wording, refusing, cleaning up) are tested on their own; the page through streamlit.testing's
AppTest (the real app, models and index over a copy of the seed index).
"""

from __future__ import annotations

import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from qa.indexing import ArticleRef, IndexReport, SkippedInput

from .conftest import APP, ROOT, STUCK, wait_until

sys.path.insert(0, str(ROOT / "ui"))  # the page's modules import each other by name, as streamlit runs them
import add_articles
from add_articles import (
    AddArticlesJob,
    KeptUpload,
    accepted_types,
    discard_rejected,
    keep_uploads,
    outcome_lines,
    report_in_words,
    upload_problem,
    without_paths,
)


def png_bytes() -> bytes:
    """A real 1x1 PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + \
        chunk(b"IEND", b"")  # fmt: skip


BINARY = bytes(range(256)) * 64  # what a program or an archive looks like
NOT_TEXT = "not readable text (it holds binary data, such as an image or a program)"
FERRY = b"---\ntitle: Ferry news\nsource: Harbour Times\n---\nThe night ferry to Tallinn restarts on 3 May.\n"


class Upload:
    """What st.file_uploader hands over: a name and the bytes."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data, self.size = name, data, len(data)

    def getvalue(self) -> bytes:
        return self.data


# --- refusing files before they are kept ----------------------------------------------------------------------


def test_the_uploader_accepts_the_types_the_loaders_read():
    from qa.articles import SUPPORTED_SUFFIXES

    assert set(accepted_types()) == {s.lstrip(".") for s in SUPPORTED_SUFFIXES}
    assert "txt" in accepted_types() and "png" not in accepted_types()


def test_binary_data_named_txt_is_not_readable_text():
    assert upload_problem("notes.txt", BINARY) == (
        "not readable text (it holds binary data, such as an image or a program)"
    )
    assert upload_problem("photo.txt", png_bytes()).startswith("not readable text")
    assert upload_problem("notes.txt", b"The bridge opened on Monday.\n") is None


def test_an_unsupported_type_and_an_empty_file_get_a_readable_reason():
    problem = upload_problem("photo.png", png_bytes())
    assert problem.startswith(".png files can't be added; the chat reads ") and ".txt" in problem and ".md" in problem
    assert upload_problem("README", b"text").startswith(
        "a file without a type (its name has no ending); the chat reads"
    )
    assert upload_problem("empty.md", b"  \n") == "the file is empty"


def test_a_binary_type_the_loaders_read_is_left_to_its_reader(monkeypatch):
    """PDF and Word files are binary by nature: once a loader reads them, they are not refused as binary text."""
    monkeypatch.setattr(add_articles, "SUPPORTED_SUFFIXES", (*add_articles.SUPPORTED_SUFFIXES, ".pdf"))
    assert "pdf" in accepted_types()
    assert upload_problem("report.pdf", b"%PDF-1.7\n" + BINARY) is None


def test_refused_uploads_are_never_written_and_a_rejected_one_gives_back_the_file_it_replaced(tmp_path):
    folder = tmp_path / "uploads"
    kept, refused = keep_uploads(folder, [Upload("notes.txt", BINARY), Upload("photo.png", png_bytes()),
                                          Upload("ferry.md", FERRY)])  # fmt: skip
    assert [k.name for k in kept] == ["ferry.md"] and sorted(p.name for p in folder.iterdir()) == ["ferry.md"]
    assert [kind for kind, _ in refused] == ["error", "error"]
    assert refused[0][1] == f"Skipped notes.txt: {NOT_TEXT}."
    # The same name again, with text its reader then skips: the earlier file comes back.
    again, _ = keep_uploads(folder, [Upload("ferry.md", b"---\ntitle: [broken\n---\nText.\n")])
    skipped = IndexReport(skipped_inputs=[SkippedInput(where=str(folder / "ferry.md"), reason="bad front matter")])
    discard_rejected(again, skipped)
    assert (folder / "ferry.md").read_bytes() == FERRY


def test_a_file_name_with_a_newline_is_shown_on_one_line(tmp_path):
    kept, refused = keep_uploads(tmp_path, [Upload("bad\nname\u202e.txt", BINARY), Upload("ok\r\nfile.md", FERRY)])
    assert refused == [("error", f"Skipped bad name .txt: {NOT_TEXT}.")]
    assert [k.name for k in kept] == ["ok file.md"] and "\n" not in kept[0].path.name


def test_an_error_message_names_no_server_folder(tmp_path):
    from qa import Settings

    settings = Settings(index_dir=tmp_path / "index")
    uploads = uploads_in(settings.upload_folder, "ferry.md")
    message = f"another process has held the index at {tmp_path / 'index'} since 12:00; {uploads[0].path} is kept"
    assert without_paths(message, uploads, settings) == (
        "another process has held the index at the index folder since 12:00; ferry.md is kept"
    )


def test_a_rejected_new_upload_is_removed_and_an_indexed_one_kept(tmp_path):
    kept, _ = keep_uploads(tmp_path, [Upload("good.md", FERRY), Upload("lines.jsonl", b"{broken\n")])
    report = IndexReport(added=1, added_articles=[ArticleRef(id="upload-good", origin=str(tmp_path / "good.md"))])
    discard_rejected(kept, report)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.md"]
    discard_rejected(kept, None)  # a run that failed or was cancelled: nothing more is removed
    assert (tmp_path / "good.md").exists()


# --- the result, in words -------------------------------------------------------------------------------------


def uploads_in(folder: Path, *names: str) -> list[KeptUpload]:
    return [KeptUpload(name, folder / name, None) for name in names]


def test_the_result_names_the_articles_added_and_the_files_skipped_without_a_path(tmp_path):
    uploads = uploads_in(tmp_path, "a.md", "b.md", "notes.txt")
    report = IndexReport(
        added=2,
        added_articles=[ArticleRef(id="upload-a", title="Title A", origin=str(tmp_path / "a.md")),
                        ArticleRef(id="upload-b", title="Title B", origin=str(tmp_path / "b.md"))],
        skipped_inputs=[SkippedInput(where=str(tmp_path / "notes.txt"), reason="binary file, not text")],
    )  # fmt: skip
    lines = outcome_lines(report, uploads)
    assert lines == [("success", "Added “Title A” and “Title B”."),
                     ("error", "Skipped notes.txt: binary file, not text.")]  # fmt: skip
    assert not any(str(tmp_path) in line for _, line in lines)


def test_updated_unchanged_and_untitled_articles_are_named_too(tmp_path):
    uploads = uploads_in(tmp_path, "plain.txt")
    report = IndexReport(
        updated=1, unchanged=2,
        updated_articles=[ArticleRef(id="upload-plain", origin=str(tmp_path / "plain.txt"))],
        unchanged_articles=[ArticleRef(id="x", title="Old news"), ArticleRef(id="y", title="Older news")],
    )  # fmt: skip
    assert outcome_lines(report, uploads) == [
        ("success", "Updated plain.txt with the new text."),
        ("info", "Already indexed, unchanged: “Old news” and “Older news”."),
    ]


def test_a_run_is_one_line_for_a_toast():
    report = IndexReport(added=2, sentences_embedded=66, seconds=2.8,
                         added_articles=[ArticleRef(id="a", title="Title A"), ArticleRef(id="b", title="Title B")])  # fmt: skip
    assert report_in_words(report) == "Added “Title A” and “Title B”."
    assert report.summary().startswith("2 added, 0 updated")  # the command line keeps its counts


def test_a_run_that_added_nothing_is_no_success():
    report = IndexReport(skipped_inputs=[SkippedInput(where="https://example.org/x", reason="HTTP 404")])
    lines = outcome_lines(report)
    assert [kind for kind, _ in lines] == ["error", "error"]
    assert lines == [("error", "Nothing was added."), ("error", "Skipped https://example.org/x: HTTP 404.")]


def test_many_articles_are_counted_after_the_first_ten():
    refs = [ArticleRef(id=f"a{n}", title=f"Story {n}") for n in range(10)]
    ((kind, line),) = outcome_lines(IndexReport(added=250, added_articles=refs))
    assert kind == "success" and line.startswith("Added “Story 0”, “Story 1”,")
    assert line.endswith("“Story 9” and 240 more articles.")


def test_a_bad_line_of_a_file_that_was_indexed_is_a_warning(tmp_path):
    uploads = uploads_in(tmp_path, "news.jsonl")
    where = str(tmp_path / "news.jsonl")
    report = IndexReport(added=1, added_articles=[ArticleRef(id="upload-j1", title="Trams", origin=f"{where}:1")],
                         skipped_inputs=[SkippedInput(where=f"{where}:2", reason="malformed JSON")])  # fmt: skip
    assert outcome_lines(report, uploads) == [("success", "Added “Trams”."),
                                              ("warning", "Skipped news.jsonl, line 2: malformed JSON.")]  # fmt: skip


# --- a real run -------------------------------------------------------------------------------------------------


@pytest.mark.hashed_embedder
def test_a_job_indexes_the_good_upload_names_it_and_removes_the_one_it_skipped(fresh_assistant):
    folder = fresh_assistant.settings.upload_folder
    kept, refused = keep_uploads(folder, [Upload("ferry.md", FERRY), Upload("lines.jsonl", b"{broken\n{worse\n")])
    assert refused == []  # text: its reader decides
    job = AddArticlesJob(fresh_assistant, kept, [], total=2)
    assert job.done.wait(STUCK)
    assert job.error == ""
    lines = job.outcome()
    assert lines[0] == ("success", "Added “Ferry news”.")
    bad_line = "Skipped lines.jsonl, line 1: malformed JSON (Expecting property name enclosed in double quotes)."
    assert ("error", bad_line) in lines
    assert not any(str(folder) in line for _, line in lines)
    assert sorted(p.name for p in folder.iterdir()) == ["ferry.md"]
    assert "upload-ferry" in fresh_assistant.store.article_records()


# --- the page ---------------------------------------------------------------------------------------------------


@pytest.fixture
def page(tmp_path, seed_index, monkeypatch):
    shutil.copytree(seed_index, tmp_path / "index")
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    at = AppTest.from_file(APP, default_timeout=STUCK)
    at.run()
    assert not at.exception
    return at


def add(at, *files: tuple[str, bytes, str]) -> None:
    at.file_uploader[0].set_value(list(files)).run()
    next(b for b in at.button if b.label == "Add to index").click().run()
    assert not at.exception
    job = at.session_state.get("index_job")  # none when every file was refused
    if job is not None:
        wait_until(lambda: job.done.is_set(), "the index job")
        at.run()  # the outcome is stored and shown, the page rerun
        assert not at.exception


def shown(at, kind: str) -> list[str]:
    return [e.value.replace("\\", "") for e in getattr(at, kind)]


@pytest.mark.hashed_embedder
def test_a_binary_txt_upload_is_an_error_naming_the_file_and_leaves_no_file(page, tmp_path):
    add(page, ("notes.txt", BINARY, "text/plain"))
    assert shown(page, "error") == [f"Nothing was added.  \nSkipped notes.txt: {NOT_TEXT}."]  # one box
    assert not page.success
    uploads = tmp_path / "index" / "uploads"
    assert not uploads.exists() or not list(uploads.iterdir())
    assert str(tmp_path) not in " ".join(shown(page, "error") + shown(page, "warning"))


@pytest.mark.hashed_embedder
def test_a_png_that_slips_past_the_browser_gets_a_readable_error(page):
    add(page, ("photo.png", png_bytes(), "image/png"))
    (error,) = shown(page, "error")
    assert error.startswith("Nothing was added.  \nSkipped photo.png: .png files can't be added; the chat reads ")
    assert not page.success


@pytest.mark.hashed_embedder
def test_the_result_names_the_new_article_and_stays_on_the_page(page, tmp_path):
    add(page, ("ferry.md", FERRY, "text/markdown"), ("notes.txt", BINARY, "text/plain"))
    assert shown(page, "success") == ["Added “Ferry news”."]
    assert shown(page, "error") == [f"Skipped notes.txt: {NOT_TEXT}."]
    expander = next(e for e in page.expander if e.label == "Add articles")
    assert expander.proto.expanded
    page.run()  # another rerun (a question, a filter): the result is still there
    assert shown(page, "success") == ["Added “Ferry news”."]
    assert sorted(p.name for p in (tmp_path / "index" / "uploads").iterdir()) == ["ferry.md"]
    assert page.file_uploader[0].value in (None, [])  # the box is empty again for the next files
