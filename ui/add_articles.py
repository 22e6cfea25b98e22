"""Add articles from the chat: uploaded files and web addresses, indexed in a background job with progress."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from qa import Assistant, ui_text
from qa.api import IndexJob
from qa.articles import SUPPORTED_SUFFIXES, UPLOAD_PREFIX, count_articles
from qa.ui_text import plain
from qa.web import is_url


def upload_box(assistant: Assistant) -> None:
    with st.expander("Add articles", expanded=bool(st.session_state.get("index_job"))):
        index_job_status()
        if st.session_state.get("index_job"):
            return
        limit = assistant.settings.max_upload_mb
        types = [suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES]  # every type that `qa index` reads
        files = st.file_uploader(f"Files (up to {limit:g} MB each)", type=types, accept_multiple_files=True)
        addresses = st.text_area("Or web addresses", placeholder="https://... (an article, an RSS/Atom feed or a "
                                 "sitemap), one per line")  # fmt: skip
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
            inputs = [*save_uploads(assistant, files), *urls]
            total = count_articles([i for i in inputs if isinstance(i, Path)]) + len(urls)
            # uploads get ids of their own: a file cannot replace an article that came from elsewhere
            st.session_state.index_job = IndexJob(assistant, inputs, total, id_prefix=UPLOAD_PREFIX)
            st.session_state.index_outcome = []
            st.rerun()


def save_uploads(assistant: Assistant, files) -> list[Path]:
    """Keep the uploaded files in the uploads folder under safe names (qa.ui_text.safe_upload_name): the same name
    again is the same article, updated."""
    return ui_text.save_uploads(assistant.settings.upload_folder, files)


@st.fragment(run_every=1.0)
def index_job_status() -> None:
    """The running index job's progress and Cancel button, redrawn every second; its outcome once it ends."""
    job: IndexJob | None = st.session_state.get("index_job")
    if job is None:
        for kind, line in st.session_state.get("index_outcome", []):  # shown until the next run starts
            getattr(st, kind)(plain(line))
        return
    if not job.done.is_set():
        st.progress(min(1.0, job.articles / max(job.total, job.articles, 1)),
                    text=plain(f"Indexing {job.current or '...'} ({job.articles} of about {job.total} articles)"))  # fmt: skip
        if st.button("Cancel", disabled=job.cancel.is_set()):
            job.cancel.set()
        return
    outcome = [("error", job.error)] if job.error else [("success", job.report.summary())]
    outcome += [("warning", line) for line in (job.report.skipped if job.report else [])]
    st.session_state.index_outcome = outcome
    st.session_state.index_job = None
    st.session_state.index_version = st.session_state.get("index_version", 0) + 1
    st.rerun()  # the whole page: its article counts, filters and examples
