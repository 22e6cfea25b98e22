"""The article-qa chat in the browser. Run with `qa ui` (binds 127.0.0.1).

Article text and questions are shown as plain text only: every string from an article or a user goes
through ``plain`` (Markdown escaped) or ``html.escape`` before it reaches the page.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import streamlit as st
from article_dialog import open_article  # ui/, beside this script (streamlit puts its folder on sys.path)

from qa import Answer, Assistant, Filters, QAError, ui_text
from qa.api import IndexJob
from qa.articles import UPLOAD_PREFIX, count_articles
from qa.citations import is_passage_id
from qa.settings import load_settings
from qa.web import is_url

st.set_page_config(page_title="article-qa", page_icon="📰", layout="wide")
# Users see no developer menu ("Deploy", "Rerun", "Clear cache"); `qa ui` also starts the server that way.
st.set_option("client.toolbarMode", "viewer")


def plain(text: str) -> str:
    """Escape Markdown (and so links, images, HTML and entities) so text from articles shows exactly as written;
    bidirectional controls are dropped (qa.ui_text.plain)."""
    return ui_text.plain(text)


@st.cache_resource(show_spinner=False)
def get_assistant(config_key: str) -> Assistant:
    """Models load once per server process and configuration (the key; secrets are read from the environment)."""
    return Assistant(load_settings())


def ready_assistant() -> Assistant:
    assistant = get_assistant(load_settings().model_dump_json(exclude={"llm_api_key"}))
    if not st.session_state.get("index_checked"):
        with st.spinner("Preparing the index (building it from the seeds on the first run)..."):
            report = assistant.ensure_index()
            _ = assistant.lexical  # build the BM25 index now, not on the first question
        if report:
            st.toast(plain(f"Index built: {report.summary()}"))
        st.session_state.index_checked = True
    return assistant


def init_state() -> None:
    st.session_state.setdefault("messages", [])  # {"role": "user"|"assistant", "content": str, "answer": dict}
    st.session_state.setdefault("pending", None)


# --- sidebar -------------------------------------------------------------------------------------------


def sidebar(assistant: Assistant) -> tuple[Filters, int]:
    with st.sidebar:
        st.title("article-qa")
        if st.button("New chat", use_container_width=True, type="primary"):
            st.session_state.messages = []
            st.rerun()
        status = assistant.status()
        st.caption(
            f"{status.articles} articles · {status.chunks} passages · model {plain(status.embedding_model)} · "
            f"index at {plain(status.location)}"
        )
        with st.expander("Filters", expanded=False):
            articles = _article_records(assistant, _cache_key(assistant))
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
        mode = st.radio("Answer mode", modes, help="Generative appears when a chat model is configured (QA_LLM_PROVIDER).")
        st.session_state.generative = mode == "generative"
        upload_box(assistant)
        lookup_box(assistant)
        if st.session_state.messages:
            st.download_button("Download conversation (Markdown)", conversation_markdown(),
                               file_name="article-qa-conversation.md", mime="text/markdown")  # fmt: skip
    filters = Filters(article_ids=chosen, sources=chosen_sources, published_from=since, published_to=until)
    return filters, top_k


def _cache_key(assistant: Assistant) -> tuple[str, int]:
    """Cached lists depend on the configuration and on how often this session added articles."""
    return assistant.settings.store_location + assistant.settings.collection, st.session_state.get("index_version", 0)


@st.cache_data(show_spinner=False, ttl=30)
def _article_records(_assistant: Assistant, key: tuple[str, int]) -> dict[str, dict]:
    """Titles and sources for the filters (the first 500 articles), read in one pass over the records."""
    return dict(sorted(_assistant.store.article_records().items())[:500])


@st.cache_data(show_spinner=False)
def _examples(_assistant: Assistant, key: tuple[str, int]) -> list[str]:
    return _assistant.example_questions()


def upload_box(assistant: Assistant) -> None:
    with st.expander("Add articles", expanded=bool(st.session_state.get("index_job"))):
        index_job_status()
        if st.session_state.get("index_job"):
            return
        limit = assistant.settings.max_upload_mb
        files = st.file_uploader(f"Files (up to {limit:g} MB each)", type=["txt", "md", "html", "htm", "jsonl"],
                                 accept_multiple_files=True)  # fmt: skip
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


# --- conversation --------------------------------------------------------------------------------------


def conversation_markdown() -> str:
    """The conversation as Markdown, every question and article string escaped (qa.ui_text.conversation_markdown)."""
    return ui_text.conversation_markdown(st.session_state.messages)


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
            st.markdown(f"…{plain(passage.before[-200:])}:orange-background[{plain(c.quote)}]{plain(passage.after[:200])}…")
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


def ask(assistant: Assistant, question: str, filters: Filters, top_k: int) -> None:
    history = [Answer.model_validate(m["answer"]) for m in st.session_state.messages if m["role"] == "assistant"]
    st.session_state.messages.append({"role": "user", "content": question})
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        events = assistant.ask_stream(question, history=history, filters=filters, top_k=top_k,
                                     generative=st.session_state.get("generative", False))  # fmt: skip
        final: list[Answer] = []

        def drafts():
            for event in events:
                if isinstance(event, str):
                    yield plain(event)
                else:
                    final.append(event)

        try:
            with st.spinner("Searching the articles..."):
                draft = st.empty()
                with draft.container():
                    if st.session_state.get("generative"):
                        st.caption("Draft (being checked against the passages):")
                    st.write_stream(drafts())
                draft.empty()
        except QAError as exc:
            st.error(plain(str(exc)))
            st.session_state.messages.pop()
            return
        answer = final[-1]
        show_answer(assistant, answer, key=str(len(st.session_state.messages)))
    st.session_state.messages.append({"role": "assistant", "content": answer.text, "answer": answer.model_dump()})


def main() -> None:
    init_state()
    st.header("Ask the articles")
    # The input is drawn before the models load, so the page is usable at once; a question typed meanwhile
    # is answered as soon as they are ready.
    question = st.chat_input("Ask about the articles")
    try:
        assistant = ready_assistant()
    except QAError as exc:
        st.error(plain(str(exc)))
        st.stop()
    filters, top_k = sidebar(assistant)
    for n, m in enumerate(st.session_state.messages):
        with st.chat_message(m["role"]):
            if m["role"] == "user":
                st.text(m["content"])
            else:
                show_answer(assistant, Answer.model_validate(m["answer"]), key=str(n))
    if not st.session_state.messages and not question:
        st.caption("Try one of these:")
        for n, example in enumerate(_examples(assistant, _cache_key(assistant))):
            if st.button(example, key=f"example-{n}"):
                question = example
    if question:
        ask(assistant, question, filters, top_k)


main()
