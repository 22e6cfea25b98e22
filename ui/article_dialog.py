"""The article reader: a whole article in a dialog, its cited passages marked, scrolled to the first of them.

Article text is escaped before it reaches the page (qa.ui_text.marked_article_html): an article cannot inject
HTML. The text sits in an ``st.iframe`` of its own, with a script of ours that scrolls only the article's own
box: ``scrollIntoView`` would scroll every box around it as well, the dialog included, which on a phone took
the dialog's title and close button off the screen.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from qa import Assistant, ui_text

ARTICLE_HEIGHT_PX = 420  # fits a phone's screen (844 px high) under the dialog's title and the article's byline

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
html, body {{ margin: 0; }}
#article {{ position: relative; box-sizing: border-box; height: 100vh; overflow-y: auto; padding: 0 8px;
  white-space: pre-wrap; overflow-wrap: break-word; font-family: "Source Sans Pro", sans-serif; font-size: 15px;
  line-height: 1.5; color: #31333f; }}
mark.quote {{ background: #fff3b0; color: inherit; }}
</style></head><body><div id="article">{body}</div>
<script>
const box = document.getElementById("article"), cited = document.getElementById("cited");
// The mark's top a little below the box's top, or centred when it is short: only this box scrolls.
if (cited) box.scrollTop = Math.max(0, cited.offsetTop - Math.max(24, (box.clientHeight - cited.offsetHeight) / 2));
</script></body></html>"""


@st.dialog("Article", width="large")
def open_article(assistant: Assistant, article_id: str, start: int | None = None, end: int | None = None,
                 title: str = "", also: Sequence[tuple[int, int]] = ()) -> None:  # fmt: skip
    """The article, with ``start:end`` marked and scrolled into view (none: from its top) and the spans in
    ``also`` (the other quotes from it) marked too. ``title`` is shown while the article has none."""
    article = assistant.article(article_id)
    meta = " · ".join(x for x in (article.source, article.author, article.published, article.url) if x)
    st.markdown(f"#### {ui_text.plain(article.title or title or article_id)}")
    if meta:
        st.caption(ui_text.plain(meta))
    spans = ([(start, end)] if start is not None and end is not None else []) + list(also)
    page = _PAGE.format(body=ui_text.marked_article_html(article.text, spans))
    st.iframe(page, height=ARTICLE_HEIGHT_PX, alt=f"The article {article.title or article_id}")
