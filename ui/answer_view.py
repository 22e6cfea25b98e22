"""An answer on the page: a lead line (the short answer or the verdict), the quoted text with the short answer
highlighted, and one compact card per cited article with its quotes, which opens the article.

Text logic (context cut at word boundaries, grouping by article) lives in qa.ui_text; this module only lays it out.
"""

from __future__ import annotations

import streamlit as st
from article_dialog import open_article

from qa import Answer, Assistant, QAError
from qa.citations import QuotedSpan
from qa.ui_text import (
    ArticleSources,
    answer_body,
    answer_lead,
    confidence_text,
    plain,
    quote_markdown,
    sources_by_article,
)


def show_answer(assistant: Assistant, answer: Answer, key: str) -> None:
    if answer.standalone_question and answer.standalone_question != answer.question:
        st.caption(f"Searched: {plain(answer.standalone_question)}")
    if answer.notice:
        st.warning(plain(answer.notice))
    if answer.abstained:
        st.info(plain(answer.text))
        if answer.related:
            with st.expander("Closest passages"):
                st.caption("Related to the question, but none of them answers it.")
                show_sources(assistant, answer.related, key=f"{key}-related")
        return
    lead = answer_lead(answer)
    st.markdown((f"**{plain(lead)}**\n\n" if lead else "") + answer_body(answer))
    if confidence := confidence_text(answer):
        st.caption(confidence)
    if answer.citations:
        show_sources(assistant, answer.citations, key=key)


def show_sources(assistant: Assistant, quotes: list[QuotedSpan], key: str) -> None:
    for n, article in enumerate(sources_by_article(quotes)):
        with st.container(border=True):
            source_card(assistant, article, key=f"{key}-{n}")


def source_card(assistant: Assistant, sources: ArticleSources, key: str) -> None:
    """Title, byline, each quote with a little context, and the buttons: open the article, copy a citation."""
    st.markdown(f"**{plain(sources.title or sources.article_id)}**")
    if sources.byline:
        st.caption(" · ".join(plain(x) for x in sources.byline))
    try:
        text = assistant.article(sources.article_id).text
    except QAError as exc:  # removed from the index since the answer was given
        st.warning(plain(str(exc)))
        return
    for quote in sources.quotes:
        if text[quote.start : quote.end] == quote.quote:
            st.markdown(quote_markdown(quote, text))
        else:
            st.markdown(plain(quote.quote))
            st.caption("The article has changed since: this quote is no longer at its place.")
    with st.container(horizontal=True):
        first = sources.quotes[0]
        if st.button("Open article", key=f"open-{key}", type="secondary"):
            open_article(assistant, sources.article_id, first.start, first.end, sources.title,
                         also=[(q.start, q.end) for q in sources.quotes[1:]])  # fmt: skip
        with st.popover("Copy citation", type="tertiary", icon=":material/content_copy:"):
            for quote in sources.quotes:
                marker = getattr(quote, "marker", None)
                st.caption(f"\\[{marker}\\] citation id" if marker else "citation id")
                st.code(quote.id, language=None, wrap_lines=True)
