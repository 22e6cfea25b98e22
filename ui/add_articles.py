"""Add articles from the chat: uploaded files and web addresses, indexed in a background job with progress, and a
result in words that stays on the page ("Added “Ferry news”. Skipped notes.txt: not readable text.").

A file that cannot be an article (an unsupported type, an empty file, binary data named .txt) is refused before
it is kept, and an upload the run skipped is removed again (or the earlier upload of that name put back): the
uploads folder holds only what is indexed. Only the names the user gave are shown, never a path on the server.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from qa import Assistant
from qa.articles import SUPPORTED_SUFFIXES, UPLOAD_PREFIX
from qa.errors import QAError
from qa.files import looks_binary
from qa.indexing import ArticleRef, IndexReport
from qa.loaders import count_articles
from qa.settings import Settings
from qa.ui_text import Upload, plain, safe_upload_name
from qa.web import is_url

# Read as text: binary data under one of these names is refused at once. Other supported types (PDF, Word) are
# binary by nature and are judged by their own readers during the run.
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".jsonl"})
# Control characters (C0, DEL, C1), line separators and bidirectional controls: never part of a name on the page.
_UNSHOWN_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
NAMED_AT_MOST = 10  # articles named in one line of the result; the rest are counted
Outcome = list[tuple[str, str]]  # (st function: "success", "info", "warning" or "error"; the line, not yet escaped)


def accepted_types() -> list[str]:
    """The uploader's file types (without dots), from what the loaders read."""
    return sorted({suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES})


def upload_problem(name: str, data: bytes) -> str | None:
    """Why an uploaded file cannot be an article, judged before it is kept; None when it may be indexed."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        problem = f"{suffix} files can't be added" if suffix else "a file without a type (its name has no ending)"
        return f"{problem}; the chat reads {_types_in_words()} files"
    if not data or data.isspace():
        return "the file is empty"
    if suffix in TEXT_SUFFIXES and looks_binary(data):
        return "not readable text (it holds binary data, such as an image or a program)"
    return None


def _types_in_words() -> str:
    return in_words([f".{t}" for t in accepted_types()], conjunction="or")


@dataclass
class KeptUpload:
    """An upload written to the uploads folder, with what that file held before (None: it did not exist)."""

    name: str  # as the user named it: what the page shows
    path: Path
    previous: bytes | None


def keep_uploads(folder: Path, files: Sequence[Upload]) -> tuple[list[KeptUpload], Outcome]:
    """Write the usable uploads to ``folder`` under safe names (the same name again updates that article); the
    others are refused, each with an error line naming the file."""
    kept, refused = [], []
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        data = f.getvalue()
        if problem := upload_problem(f.name, data):
            refused.append(("error", f"Skipped {shown_name(f.name)}: {problem}."))
            continue
        path = folder / safe_upload_name(f.name)
        previous = path.read_bytes() if path.is_file() else None
        path.write_bytes(data)
        kept.append(KeptUpload(shown_name(f.name), path, previous))
    return kept, refused


def shown_name(name: str) -> str:
    """An upload's name as the page shows it: on one line, without control or bidirectional characters."""
    return " ".join(_UNSHOWN_CHARS.sub(" ", name).split()) or "(a file without a name)"


def indexed_from(report: IndexReport, path: Path) -> bool:
    """Whether the run indexed (added, updated or found unchanged) an article from this file. A report that names
    only some of its articles (a very large run) is taken to have indexed every file it did not skip whole."""
    refs = [*report.added_articles, *report.updated_articles, *report.unchanged_articles]
    where = str(path)
    if any(r.origin == where or r.origin.startswith(where + ":") for r in refs):
        return True
    named_all = len(refs) == report.added + report.updated + report.unchanged
    return not named_all and not any(s.where == where for s in report.skipped_inputs)


def discard_rejected(uploads: Sequence[KeptUpload], report: IndexReport | None) -> None:
    """Remove each kept upload from which the run indexed nothing, or put back the file it replaced. After an
    error or a cancel (no report) the uploads stay: some may be indexed."""
    if report is None:
        return
    for upload in uploads:
        if indexed_from(report, upload.path):
            continue
        if upload.previous is None:
            upload.path.unlink(missing_ok=True)
        else:
            upload.path.write_bytes(upload.previous)


# --- the result, in words -----------------------------------------------------------------------------------


def in_words(items: Sequence[str], conjunction: str = "and") -> str:
    """ "A", "A and B", "A, B and C"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def shown_where(where: str, uploads: Sequence[KeptUpload]) -> str:
    """An input as the user knows it: an upload's own name (and line), never its path on the server."""
    for upload in uploads:
        path = str(upload.path)
        if where == path:
            return upload.name
        if where.startswith(path + ":"):
            return f"{upload.name}, line {where[len(path) + 1 :]}"
    return where


def _article_name(ref: ArticleRef, uploads: Sequence[KeptUpload]) -> str:
    """Its title; else (the title is only its id: the loader found none) the file or address it came from."""
    if ref.title and ref.title not in (ref.id, ref.id.removeprefix(UPLOAD_PREFIX)):
        return f"“{ref.title}”"
    return shown_where(ref.origin, uploads) or ref.id.removeprefix(UPLOAD_PREFIX)


def _article_names(refs: Sequence[ArticleRef], total: int, uploads: Sequence[KeptUpload]) -> str:
    names = [_article_name(r, uploads) for r in refs[:NAMED_AT_MOST]]
    more = total - len(names)
    if more > 0:
        names.append(f"{more:,} more article{'s' if more > 1 else ''}")
    return in_words(names)


def outcome_lines(report: IndexReport, uploads: Sequence[KeptUpload] = ()) -> Outcome:
    """What a run did, in words: a success only when it added or updated an article; an error for each input it
    skipped whole (a warning for a skipped line of a file whose other lines were indexed)."""
    lines: Outcome = []
    done = []
    if report.added:
        done.append(f"Added {_article_names(report.added_articles, report.added, uploads)}.")
    if report.updated:
        done.append(f"Updated {_article_names(report.updated_articles, report.updated, uploads)} with the new text.")
    if done:
        lines.append(("success", " ".join(done)))
    if report.unchanged:
        names = _article_names(report.unchanged_articles, report.unchanged, uploads)
        lines.append(("info", f"Already indexed, unchanged: {names}."))
    if not (report.added or report.updated or report.unchanged):
        lines.append(("error", "Nothing was added."))
    for skipped in report.skipped_inputs:
        file = next((u for u in uploads if skipped.where.startswith(f"{u.path}:")), None)
        kind = "warning" if file and indexed_from(report, file.path) else "error"
        lines.append((kind, f"Skipped {shown_where(skipped.where, uploads)}: {skipped.reason}."))
    return lines


def report_in_words(report: IndexReport) -> str:
    """A run's result as one line (a toast after the index is built): the articles by title, no counts of
    sentences or seconds."""
    return " ".join(line for _, line in outcome_lines(report))


def grouped(outcome: Outcome) -> list[tuple[str, list[str]]]:
    """Lines of the same kind in a row, together: one box each ("Nothing was added." with the files skipped)."""
    groups: list[tuple[str, list[str]]] = []
    for kind, line in outcome:
        if groups and groups[-1][0] == kind:
            groups[-1][1].append(line)
        else:
            groups.append((kind, [line]))
    return groups


def without_paths(message: str, uploads: Sequence[KeptUpload], settings: Settings) -> str:
    """An error message with upload paths replaced by the uploads' names, and no folder of the server in it."""
    for upload in uploads:
        message = message.replace(str(upload.path), upload.name)
    message = message.replace(str(settings.upload_folder), "the uploads folder")
    return message.replace(str(settings.index_dir), "the index folder")


# --- the job ------------------------------------------------------------------------------------------------


class AddArticlesJob:
    """``Assistant.index`` of the uploads and addresses in a thread of its own, so the chat stays usable meanwhile:
    it reports progress, can be cancelled between articles (what was written stays), and removes the uploads the
    run skipped before it says it is done.

    >>> job = AddArticlesJob(Assistant(), uploads, ["https://example.org/feed.xml"], total=12)  # doctest: +SKIP
    >>> job.articles, job.current; job.cancel.set(); job.done.wait()  # doctest: +SKIP
    """

    def __init__(self, assistant: Assistant, uploads: Sequence[KeptUpload], urls: Sequence[str], total: int) -> None:
        self.uploads, self.total = list(uploads), total
        self.done, self.cancel = threading.Event(), threading.Event()
        self.articles, self.current = 0, ""
        self.report: IndexReport | None = None
        self.error = ""
        inputs = [*(u.path for u in self.uploads), *urls]
        threading.Thread(target=self._run, args=(assistant, inputs), daemon=True).start()

    def _run(self, assistant: Assistant, inputs: list) -> None:
        try:
            # uploads get ids of their own: a file cannot replace an article that came from elsewhere
            self.report = assistant.index(inputs, on_progress=self._progress, cancel=self.cancel,
                                          id_prefix=UPLOAD_PREFIX)  # fmt: skip
        except QAError as exc:
            self.error = without_paths(str(exc), self.uploads, assistant.settings)
        finally:
            try:
                discard_rejected(self.uploads, self.report)
            finally:
                self.done.set()

    def _progress(self, articles: int, article_id: str) -> None:
        self.articles, self.current = articles, article_id.removeprefix(UPLOAD_PREFIX)

    def outcome(self, refused: Outcome = ()) -> Outcome:
        if self.error:
            return [("error", self.error), *refused]
        lines = outcome_lines(self.report, self.uploads) if self.report else [("error", "Nothing was added.")]
        return [*lines, *refused]


# --- the page -----------------------------------------------------------------------------------------------


def upload_box(assistant: Assistant) -> None:
    job = st.session_state.get("index_job")
    outcome = st.session_state.get("index_outcome", [])
    # Open while a run goes on and while its result is shown: the result is what the user waits for.
    with st.expander("Add articles", expanded=bool(job or outcome)):
        index_job_status()
        if st.session_state.get("index_job"):
            return
        upload_form(assistant)


def upload_form(assistant: Assistant) -> None:
    limit = assistant.settings.max_upload_mb
    form = st.session_state.get("upload_form", 0)  # a new key after each run: the boxes start empty again
    # No type= list: Streamlit would refuse other files with only a red mark in the browser (and an exception on
    # the server for one that slips past it); each is named here instead, with the reason, as soon as it is chosen.
    files = st.file_uploader(f"Files: {_types_in_words()} (up to {limit:g} MB each)", accept_multiple_files=True,
                             max_upload_size=max(1, math.ceil(limit)), key=f"files-{form}")  # fmt: skip
    for f in files or []:
        if f.size <= limit * 1e6 and (problem := upload_problem(f.name, f.getvalue())):
            st.error(plain(f"{shown_name(f.name)}: {problem}."))
    addresses = st.text_area("Or web addresses", key=f"addresses-{form}", placeholder="https://... (an article, an "
                             "RSS/Atom feed or a sitemap), one per line")  # fmt: skip
    urls = [line.strip() for line in addresses.splitlines() if line.strip()]
    if not ((files or urls) and st.button("Add to index")):
        return
    not_urls = [u for u in urls if not is_url(u)]
    too_big = [f for f in files if f.size > limit * 1e6]
    if not_urls:
        st.error(plain(f"not a web address (http:// or https://): {not_urls[0]}"))
    elif too_big:
        st.error(plain(f"{too_big[0].name} is {too_big[0].size / 1e6:.1f} MB; the chat takes files up to {limit:g} MB "
                       "(QA_MAX_UPLOAD_MB); index bigger ones with `qa index`"))  # fmt: skip
    else:
        start(assistant, files, urls)


def start(assistant: Assistant, files: Sequence[Upload], urls: list[str]) -> None:
    folder = assistant.settings.upload_folder
    try:
        uploads, refused = keep_uploads(folder, files)
    except OSError as exc:
        st.error(plain(f"the uploads could not be kept ({exc.strerror or exc.__class__.__name__}); nothing was added"))
        return
    st.session_state.upload_form = st.session_state.get("upload_form", 0) + 1
    st.session_state.index_refused = refused
    if uploads or urls:
        total = count_articles([u.path for u in uploads]) + len(urls)
        st.session_state.index_job = AddArticlesJob(assistant, uploads, urls, total)
        st.session_state.index_outcome = []
    else:
        st.session_state.index_outcome = [("error", "Nothing was added."), *refused]
    st.rerun()


def index_job_status() -> None:
    """The last run's result, shown until the next run starts; or the running job's progress."""
    if st.session_state.get("index_job") is None:
        for kind, lines in grouped(st.session_state.get("index_outcome", [])):
            getattr(st, kind)(plain("\n".join(lines)))
    else:
        index_job_progress()


@st.fragment(run_every=1.0)
def index_job_progress() -> None:
    """The running job's progress and Cancel button, redrawn every second (only while a job runs: an idle page is
    not redrawn); once the job ends, its result is stored and the whole page drawn again."""
    job: AddArticlesJob | None = st.session_state.get("index_job")
    if job is None:
        return
    if not job.done.is_set():
        st.progress(min(1.0, job.articles / max(job.total, job.articles, 1)),
                    text=plain(f"Reading {job.current or '...'} ({job.articles} of about {job.total} articles)"))  # fmt: skip
        if st.button("Cancel", disabled=job.cancel.is_set()):
            job.cancel.set()
        return
    st.session_state.index_outcome = job.outcome(st.session_state.get("index_refused", []))
    st.session_state.index_job = None
    st.session_state.index_version = st.session_state.get("index_version", 0) + 1
    st.rerun()  # the whole page: its article counts, filters and examples
