"""The article-qa chat in the browser. Run with `qa ui` (binds 127.0.0.1).

Article text and questions are shown as plain text only: every string from an article or a user goes
through ``plain`` (Markdown escaped) or ``html.escape`` before it reaches the page.
"""

from __future__ import annotations

import streamlit as st

# ui/'s own modules, beside this script: streamlit puts the script's folder on sys.path
from add_articles import report_in_words
from answer_view import show_answer
from conversations_panel import open_store, record, render, restore
from library_page import render as render_library
from sidebar import cache_key, examples, sidebar

from qa import Answer, Assistant, Filters, QAError
from qa.settings import load_settings
from qa.ui_text import plain

st.set_page_config(page_title="article-qa", page_icon="📰", layout="wide")
# Users see no developer menu ("Deploy", "Rerun", "Clear cache"); `qa ui` also starts the server that way.
st.set_option("client.toolbarMode", "viewer")


@st.cache_resource(show_spinner=False)
def get_assistant(config_key: str) -> Assistant:
    """Models load once per server process and configuration (the key; secrets are read from the environment)."""
    return Assistant(load_settings())


def ready_assistant() -> Assistant:
    assistant = get_assistant(load_settings().model_dump_json(exclude={"llm_api_key"}))
    if not st.session_state.get("index_checked"):
        with st.spinner("Preparing the index (building it from the seeds on the first run)..."):
            report = assistant.ensure_index()
            _ = assistant.lexical  # bring the search index up to date now, not on the first question
        if report:
            st.toast(plain(f"Index built. {report_in_words(report)}"))
        st.session_state.index_checked = True
    return assistant


def init_state() -> None:
    st.session_state.setdefault("messages", [])  # {"role": "user"|"assistant", "content": str, "answer": dict}
    st.session_state.setdefault("pending", None)
    restore(open_store())  # the conversation the page's address names (?c=ID), so a reload brings it back


# --- conversation ---------------------------------------------------------------------------------------


def add_message(message: dict) -> None:
    """Every message of the conversation enters it here: {"role": "user"|"assistant", "content": str, and for an
    answer "answer": Answer.model_dump()}. It is kept on disk at once (ui/conversations_panel.py)."""
    st.session_state.messages.append(message)
    record(open_store(), message)


def ask(assistant: Assistant, question: str, filters: Filters, top_k: int) -> None:
    history = [Answer.model_validate(m["answer"]) for m in st.session_state.messages if m["role"] == "assistant"]
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
        except QAError as exc:  # the question is not kept: the conversation holds answered questions only
            st.error(plain(str(exc)))
            return
        answer = final[-1]
        show_answer(assistant, answer, key=str(len(st.session_state.messages) + 1))
    add_message({"role": "user", "content": question})
    add_message({"role": "assistant", "content": answer.text, "answer": answer.model_dump()})


def show_conversation(assistant: Assistant) -> None:
    for n, m in enumerate(st.session_state.messages):
        with st.chat_message(m["role"]):
            if m["role"] == "user":
                st.text(m["content"])
            else:
                show_answer(assistant, Answer.model_validate(m["answer"]), key=str(n))


def chat_page() -> None:
    """The chat: examples while it is empty, the conversation, and the answer to a new question."""
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
    show_conversation(assistant)
    if not st.session_state.messages and not question:
        st.caption("Try one of these:")
        for n, example in enumerate(examples(assistant, cache_key(assistant))):
            if st.button(example, key=f"example-{n}"):
                question = example
    if question:
        ask(assistant, question, filters, top_k)
    render(open_store())


def main() -> None:
    init_state()
    chat_page()


def library() -> None:
    try:
        render_library(ready_assistant())
    except QAError as exc:
        st.error(plain(str(exc)))


st.navigation([st.Page(main, title="Chat", default=True), st.Page(library, title="Library")]).run()
