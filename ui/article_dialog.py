"""The article reader: a whole article in a dialog, scrolled to the cited passage, which is marked.

Article text is escaped before it reaches the page: an article cannot inject HTML.
"""

from __future__ import annotations

import html

import streamlit as st
import streamlit.components.v1 as components

from qa import Assistant, ui_text


@st.dialog("Article", width="large")
def open_article(assistant: Assistant, article_id: str, start: int, end: int, title: str) -> None:
    article = assistant.article(article_id)
    meta = " · ".join(x for x in (article.source, article.author, article.published, article.url) if x)
    st.markdown(f"### {ui_text.plain(article.title)}\n{ui_text.plain(meta)}")
    text = article.text
    # Escaped text inside our own markup: the article cannot inject HTML; the script only scrolls to the mark.
    body = (html.escape(text[:start]) + '<mark id="cited">' + html.escape(text[start:end]) + "</mark>"
            + html.escape(text[end:]))  # fmt: skip
    components.html(
        f"""<div id="article" style="white-space:pre-wrap;font-family:sans-serif;font-size:15px;line-height:1.5;
        height:480px;overflow-y:auto;padding:0 8px">{body}</div>
        <script>document.getElementById("cited").scrollIntoView({{block: "center"}});</script>""",
        height=500,
    )
