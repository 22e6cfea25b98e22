"""The chat's sidebar: conversations, filters, passages per question, adding articles and looking up citations.

Article strings reach the page only through ``plain`` (Markdown escaped).
"""

from __future__ import annotations

from datetime import date

import streamlit as st
from add_articles import upload_box
from conversations_panel import reserve

from qa import Assistant, Filters, QAError
from qa.citations import is_passage_id
from qa.ui_text import plain


def sidebar(assistant: Assistant) -> tuple[Filters, int]:
    with st.sidebar:
        st.title("article-qa")
        reserve()  # the conversations panel (ui/conversations_panel.py), drawn at the end of the page run
        status = assistant.status()
        st.caption(
            f"{status.articles} articles · {status.chunks} passages · model {plain(status.embedding_model)} · "
            f"index at {plain(status.location)}"
        )
        with st.expander("Filters", expanded=False):
            articles = _article_records(assistant, cache_key(assistant))
            chosen = st.multiselect("Articles", list(articles),
                                    format_func=lambda i: articles[i].get("title", "")[:80] or i)  # fmt: skip
            sources = sorted({m["source"] for m in articles.values() if m.get("source")})
            chosen_sources = st.multiselect("Sources", sources)
            use_dates = st.checkbox("Filter by publication date")
            since, until = (None, None)
            if use_dates:
                since = st.date_input("From", value=date(2000, 1, 1))
                until = st.date_input("To", value=date.today())
        top_k = st.slider("Passages per question (top-k)", 1, 10, assistant.settings.top_k)
        modes = (["generative"] if assistant.settings.llm_provider else []) + ["extractive"]
        mode = st.radio(
            "Answer mode", modes, help="Generative appears when a chat model is configured (QA_LLM_PROVIDER)."
        )
        st.session_state.generative = mode == "generative"
        upload_box(assistant)
        lookup_box(assistant)
    filters = Filters(article_ids=chosen, sources=chosen_sources, published_from=since, published_to=until)
    return filters, top_k


def cache_key(assistant: Assistant) -> tuple[str, int]:
    """Cached lists depend on the configuration and on how often this session added articles."""
    return assistant.settings.store_location + assistant.settings.collection, st.session_state.get("index_version", 0)


@st.cache_data(show_spinner=False, ttl=30)
def _article_records(_assistant: Assistant, key: tuple[str, int]) -> dict[str, dict]:
    """Titles and sources for the filters (the first 500 articles), read in one pass over the records."""
    return dict(sorted(_assistant.store.article_records().items())[:500])


@st.cache_data(show_spinner=False)
def examples(_assistant: Assistant, key: tuple[str, int]) -> list[str]:
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
