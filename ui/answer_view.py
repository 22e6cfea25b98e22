"""An answer on the page: the text with its short answer highlighted, and a card per citation that opens the article."""

from __future__ import annotations

import streamlit as st
from article_dialog import open_article

from qa import Answer, Assistant, QAError
from qa.ui_text import plain


def show_answer(assistant: Assistant, answer: Answer, key: str) -> None:
    if answer.standalone_question and answer.standalone_question != answer.question:
        st.caption(f"Searched: {plain(answer.standalone_question)}")
    if answer.notice:
        st.warning(plain(answer.notice))
    if answer.abstained:
        st.info(plain(answer.text))
    elif answer.short_answer and answer.mode == "extractive" and answer.citations:
        st.markdown(highlighted_answer(answer))
    else:
        st.markdown(plain(answer.text))
    citations = answer.citations or answer.related
    if not citations:
        return
    st.markdown("**Sources**" if not answer.abstained else "**Related, but not an answer**")
    for c in citations:
        with st.container(border=True):
            labels = [plain(x) for x in c.byline] + (["photo caption"] if c.caption else [])
            meta = " · ".join(labels)
            st.markdown(f"**\\[{c.marker}\\] {plain(c.title)}**  \n{meta}")
            try:
                passage = assistant.lookup(c.id)
            except QAError as exc:
                st.warning(plain(str(exc)))
                continue
            st.markdown(
                f"…{plain(passage.before[-200:])}:orange-background[{plain(c.quote)}]{plain(passage.after[:200])}…"
            )
            if st.button("Open article", key=f"open-{key}-{c.marker}"):
                open_article(assistant, c.article_id, c.start, c.end, c.title)
            st.caption(f"citation id: {plain(c.id)}")


def highlighted_answer(answer: Answer) -> str:
    """The answer's text with the short answer highlighted inside the first quote, and the confidence."""
    short, first, text = answer.short_answer, answer.citations[0], answer.text
    at = text.find(first.quote)
    if at < 0:
        return plain(text)
    a, b = at + short.start - first.start, at + short.end - first.start
    confidence = f"  \n:gray[confidence {answer.confidence:.0%}]" if answer.confidence is not None else ""
    return f"{plain(text[:a])}:green-background[**{plain(text[a:b])}**]{plain(text[b:])}{confidence}"
