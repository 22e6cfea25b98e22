"""The library page of the chat: which articles are indexed, searched and filtered, a page at a time; open one,
delete one or several (after a confirmation), re-read some from their files or web addresses.

Every string from an article reaches the page through ``plain`` (Markdown escaped); a file is shown by its name
only, never by the server's folders.
"""

from __future__ import annotations

from datetime import date

import streamlit as st
from article_dialog import open_article

from qa import Assistant, QAError
from qa.articles import UPLOAD_PREFIX
from qa.library import ArticleSummary, reindex_inputs
from qa.ui_text import plain

PAGE_SIZE = 25
CONFIRM = "library-confirm"  # the ids waiting for "Delete for good"
OUTCOME = "library-outcome"  # (kind, line) pairs from the last delete or re-read, shown until the next


def render(assistant: Assistant) -> None:
    st.header("Library")
    search, sources, since, until = _filters(assistant)
    try:
        first = assistant.list_articles(search, sources, since, until, limit=1)
    except QAError as exc:
        st.error(plain(str(exc)))
        return
    pages = max(1, -(-first.total // PAGE_SIZE))
    if st.session_state.get("library-page", 1) > pages:  # fewer pages since (a search, a deletion)
        st.session_state["library-page"] = pages
    page_number = st.number_input(f"Page (of {pages})", 1, pages, 1, key="library-page") if pages > 1 else 1
    listed = assistant.list_articles(search, sources, since, until, offset=(page_number - 1) * PAGE_SIZE,
                                     limit=PAGE_SIZE)  # fmt: skip
    shown = listed.items
    first_shown = (page_number - 1) * PAGE_SIZE + 1
    st.caption(
        f"{listed.total:,} article{'s' * (listed.total != 1)}"
        + (f", {first_shown:,}-{first_shown + len(shown) - 1:,} shown" if shown else "")
        + ". Newest first."
    )
    if not shown:
        st.info("No article matches." if search or sources or since or until else "No article is indexed yet.")
    for kind, line in st.session_state.pop(OUTCOME, []):
        getattr(st, kind)(plain(line))
    if st.session_state.get(CONFIRM):
        _confirm_delete(assistant)
    chosen = [a for a in shown if _row(assistant, a)]
    _actions(assistant, chosen)


def _filters(assistant: Assistant) -> tuple[str, list[str], date | None, date | None]:
    search_column, source_column = st.columns([3, 2])
    search = search_column.text_input("Search titles, publishers, ids, addresses and file names", key="library-search")
    sources = source_column.multiselect("Publishers", assistant.catalogue.sources(), key="library-sources")
    since = until = None
    if st.checkbox("Filter by publication date", key="library-dates"):
        from_column, to_column = st.columns(2)
        since = from_column.date_input("From", value=date(2000, 1, 1), key="library-from")
        until = to_column.date_input("To", value=date.today(), key="library-to")
    return search, sources, since, until


def _row(assistant: Assistant, article: ArticleSummary) -> bool:
    """One article: a checkbox with its full title, what it is and where from, and Open; True when ticked."""
    pick, open_column = st.columns([8, 1], vertical_alignment="center")
    ticked = pick.checkbox(plain(article.title or article.id), key=f"library-pick-{article.id}")
    where = article.url or article.file_name
    details = [article.source, article.published, where, f"{article.chunks} passage{'s' * (article.chunks != 1)}"]
    pick.caption(" · ".join(plain(x) for x in details if x))
    if open_column.button("Open", key=f"library-open-{article.id}"):
        try:
            open_article(assistant, article.id, 0, 0, article.title)
        except QAError as exc:  # removed meanwhile by another user
            st.error(plain(str(exc)))
    return ticked


def _actions(assistant: Assistant, chosen: list[ArticleSummary]) -> None:
    delete_column, reread_column, _ = st.columns([2, 2, 4])
    if delete_column.button(f"Delete selected ({len(chosen)})", disabled=not chosen, key="library-delete"):
        st.session_state[CONFIRM] = [(a.id, a.title) for a in chosen]
        st.rerun()
    if reread_column.button(f"Re-index selected ({len(chosen)})", disabled=not chosen, key="library-reindex",
                            help="Read the articles again from their files or web addresses; "
                                 "unchanged ones are kept as they are."):  # fmt: skip
        _reindex(assistant, chosen)


def _confirm_delete(assistant: Assistant) -> None:
    doomed = st.session_state[CONFIRM]
    with st.container(border=True):
        st.warning(f"Delete {len(doomed)} article{'s' * (len(doomed) != 1)} from the index for good? Answers will "
                   "no longer quote them; uploaded files are deleted too.")  # fmt: skip
        st.markdown("\n".join(f"- {plain(title or article_id)}" for article_id, title in doomed))
        yes, no, _ = st.columns([2, 1, 5])
        if yes.button("Delete for good", type="primary", key="library-delete-yes"):
            _delete(assistant, [article_id for article_id, _ in doomed])
        if no.button("Cancel", key="library-delete-no"):
            st.session_state.pop(CONFIRM, None)
            st.rerun()


def _delete(assistant: Assistant, ids: list[str]) -> None:
    st.session_state.pop(CONFIRM, None)
    try:
        with st.spinner("Deleting..."):
            report = assistant.remove(ids)
    except QAError as exc:
        st.session_state[OUTCOME] = [("error", str(exc))]
    else:
        titles = ", ".join(f"“{a.title or a.id}”" for a in report.removed)
        outcome = [("success", f"Deleted {titles}.")] if report.removed else []
        st.session_state[OUTCOME] = outcome + [("warning", m.reason) for m in report.missing]
    for article_id in ids:
        st.session_state.pop(f"library-pick-{article_id}", None)
    _changed()


def _reindex(assistant: Assistant, chosen: list[ArticleSummary]) -> None:
    uploads, others, lines = reindex_inputs(chosen, assistant.settings.upload_folder)
    outcome = [("warning", line) for line in lines]
    try:
        with st.spinner("Reading the articles again..."):
            for inputs, prefix in ((uploads, UPLOAD_PREFIX), (others, "")):
                if inputs:
                    report = assistant.index(inputs, id_prefix=prefix)
                    read = f"Read {len(inputs)} again: {report.updated} updated, {report.unchanged} unchanged."
                    outcome.insert(0, ("success", read))
                    outcome += [("warning", line) for line in report.skipped]
    except QAError as exc:
        outcome.append(("error", str(exc)))
    st.session_state[OUTCOME] = outcome
    _changed()


def _changed() -> None:
    """The index changed: the chat's cached lists (filters, examples) are read again, and the page redrawn."""
    st.session_state.index_version = st.session_state.get("index_version", 0) + 1
    st.rerun()
