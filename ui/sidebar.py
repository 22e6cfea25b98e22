"""The chat's sidebar, written for readers: conversations, filters, adding articles, looking up citations; the
passages per answer and the answer mode under "Advanced", the model and index folder under "About this index".

Article strings reach the page only through ``plain`` (Markdown escaped).
"""

from __future__ import annotations

from datetime import date

import streamlit as st
from add_articles import upload_box
from conversations_panel import reserve

from qa import Assistant, Filters, QAError
from qa.api import IndexStatus
from qa.articles import UPLOAD_PREFIX
from qa.citations import is_passage_id
from qa.ui_text import plain


def sidebar(assistant: Assistant) -> tuple[Filters, int]:
    with st.sidebar:
        st.title("article-qa")
        reserve()  # the conversations panel (ui/conversations_panel.py), drawn at the end of the page run
        status = assistant.status()
        st.caption(f"{status.articles:,} article{'' if status.articles == 1 else 's'} to ask about")
        filters = filter_box(assistant)
        top_k = advanced_box(assistant)
        upload_box(assistant)
        lookup_box(assistant)
        about_box(status)
    return filters, top_k


def filter_box(assistant: Assistant) -> Filters:
    """Which articles answers come from: by publisher, publication date or the articles themselves (full titles)."""
    with st.expander("Filters", expanded=False):
        articles = _article_records(assistant, cache_key(assistant))
        sources = sorted({m["source"] for m in articles.values() if m.get("source")})
        chosen_sources = st.multiselect("Publishers", sources, placeholder="Any publisher")
        since, until = (None, None)
        if st.checkbox("Published between"):
            first, last = date_range(articles)
            since = st.date_input("From", value=first)
            until = st.date_input("To", value=last)
        chosen = st.multiselect("Articles", list(articles), format_func=lambda i: article_label(articles.get(i, {}), i),
                                placeholder="Any article")  # fmt: skip
    if since and until and since > until:
        since, until = until, since  # a range entered backwards means the same days
    return Filters(article_ids=chosen, sources=chosen_sources, published_from=since, published_to=until)


def article_label(record: dict, article_id: str) -> str:
    """An article as the filter lists it: its whole title and its publisher (its id when it has no title)."""
    title = record.get("title") or article_id.removeprefix(UPLOAD_PREFIX)
    return f"{title} ({record['source']})" if record.get("source") else title


def date_range(articles: dict[str, dict]) -> tuple[date, date]:
    """The first and last publication dates of the articles (missing month or day: the first), else 2000 to today."""
    known = sorted(d for m in articles.values() if (d := _date_of(m.get("published", ""))))
    return (known[0], max(known[-1], date.today())) if known else (date(2000, 1, 1), date.today())


def _date_of(value: str) -> date | None:
    parts = [int(p) for p in value.split("-")[:3] if p.isdigit()]
    if not parts:
        return None
    year, month, day = (parts + [1, 1])[:3]
    try:
        return date(year, month or 1, day or 1)
    except ValueError:
        return None


def advanced_box(assistant: Assistant) -> int:
    """Settings few readers need, folded away: how many passages an answer reads, and the answer mode when a chat
    model is configured."""
    with st.expander("Advanced", expanded=False):
        top_k = st.slider("Passages per answer", 1, 10, assistant.settings.top_k,
                          help="How many passages are read for each answer: more can find more, a little slower.")  # fmt: skip
        modes = (["generative"] if assistant.settings.llm_provider else []) + ["extractive"]
        mode = modes[0]
        if len(modes) > 1:
            mode = st.radio("Answer mode", modes, help="Generative words the answer with the configured chat model "
                            "(QA_LLM_PROVIDER), checked against the passages; extractive quotes them.")  # fmt: skip
        st.session_state.generative = mode == "generative"
    return top_k


def about_box(status: IndexStatus) -> None:
    with st.expander("About this index", expanded=False):
        st.caption(f"{status.articles:,} articles · {status.chunks:,} passages · embedding model "
                   f"{plain(status.embedding_model)} · stored at {plain(status.location)}")  # fmt: skip


def cache_key(assistant: Assistant) -> tuple[str, int, int | None]:
    """Cached lists depend on the configuration and on the index: how often this session added articles, and the
    store's generation (it changes when any process writes to the index, e.g. `qa index`)."""
    where = assistant.settings.store_location + assistant.settings.collection
    return where, st.session_state.get("index_version", 0), assistant.store.generation


@st.cache_data(show_spinner=False, ttl=30)
def _article_records(_assistant: Assistant, key: tuple) -> dict[str, dict]:
    """Titles and sources for the filters (the first 500 articles), read in one pass over the records."""
    return dict(sorted(_assistant.store.article_records().items())[:500])


@st.cache_data(show_spinner=False)
def examples(_assistant: Assistant, key: tuple) -> list[str]:
    """Questions drawn from the indexed articles (Assistant.example_questions), drawn anew when the index changes."""
    return _assistant.example_questions()


def lookup_box(assistant: Assistant) -> None:
    with st.expander("Look up a citation or quote"):
        query = st.text_input("Citation id or quote", key="lookup")
        if not query.strip():
            return
        try:
            passages = [assistant.lookup(query)] if is_passage_id(query) else assistant.find(query, k=3)
        except QAError as exc:
            st.error(plain(str(exc)))
            return
        if not passages:
            st.info("No passage says that.")
        for p in passages:
            if p.changed:
                st.warning("This article changed since the citation; its offsets now hold this passage.")
            meta = " · ".join(plain(x) for x in p.byline)
            st.markdown(f"**{plain(p.title)}** · {meta}  \n"
                        f"…{plain(p.before[-120:])}:orange-background[{plain(p.quote)}]{plain(p.after[:120])}…")  # fmt: skip
            st.caption(plain(p.id))
