"""Conversations that last, in the chat: kept in the conversations file (``qa.history``), restored on reload
(the open conversation's id is in the page's address, ``?c=ID``), listed in the sidebar, renamed, deleted and
downloaded as Markdown.

How the chat page uses it (every function takes the store, or None when the file cannot be used, and then
keeps the conversation in the session only, after saying why in the sidebar):

    store = open_store()                 # cached per file; None (and a one-line message) when it is unusable
    restore(store)                       # at page start, before the messages are drawn
    reserve()                            # in the sidebar, where the panel goes
    record(store, message)               # after a message is appended to st.session_state.messages
    render(store)                        # at the end of the page run: it then lists the conversation just kept

The panel is drawn last, into the place ``reserve`` kept for it, so it shows the answer just given (a new
conversation in the list, the download with every answer) without another run of the page.

Titles come from users: they reach the page only through ``plain`` (Markdown escaped).
"""

from __future__ import annotations

import re
import threading

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from qa import QAError
from qa.errors import ConversationNotFound, ConversationsDamaged
from qa.history import MAX_TITLE_CHARS, ConversationInfo, ConversationStore, title_from
from qa.settings import Settings, load_settings
from qa.ui_text import conversation_markdown, plain

PAGE = 20  # conversations listed at a time
QUERY_KEY = "c"
UNTITLED = "New conversation"
_run = threading.local()  # the panel's reserved place, for this page run (each run has a thread of its own)


@st.cache_resource(show_spinner=False)
def _store(path: str) -> ConversationStore:
    return ConversationStore(path)


def open_store(settings: Settings | None = None) -> ConversationStore | None:
    """The conversation store of the configured file, or None when it cannot be used: ``render`` then says why."""
    try:
        settings = settings or load_settings()
        store = _store(str(settings.conversations_file))
    except QAError as exc:
        path = settings.conversations_file if isinstance(settings, Settings) else None
        _set_problem(exc, path)
        return None
    st.session_state.pop("conversations_problem", None)
    return store


def restore(store: ConversationStore | None) -> None:
    """Open the conversation the page's address names, once per session (and whenever the address names
    another), or start empty."""
    st.session_state.setdefault("messages", [])
    st.session_state.setdefault("conversation_id", None)
    wanted = st.query_params.get(QUERY_KEY)
    current = st.session_state.conversation_id
    if store is None or wanted == current:
        return
    if wanted is None:
        st.query_params[QUERY_KEY] = current  # the address lost it (edited by hand): this session's conversation
        return
    _open(store, wanted)


def record(store: ConversationStore | None, message: dict) -> None:
    """Keep a message the chat has just appended to ``st.session_state.messages``; the first one starts a
    conversation and puts its id in the page's address."""
    if store is None:
        return
    try:
        if st.session_state.get("conversation_id") is None:
            _start(store)
        try:
            store.append(st.session_state.conversation_id, message)
        except ConversationNotFound:  # deleted meanwhile (in another tab): kept anew, nothing is lost
            _start(store)
            for earlier in _messages_up_to(message):
                store.append(st.session_state.conversation_id, earlier)
    except QAError as exc:
        st.session_state.conversations_notice = ("error", str(exc))


def reserve() -> None:
    """Keep the panel's place here (in the sidebar): ``render``, called at the end of the run, draws into it."""
    _run.slot = (get_script_run_ctx(), st.container())


def render(store: ConversationStore | None) -> None:
    """New chat, the earlier conversations (newest first; click to open), rename and delete (with a
    confirmation) of the open one, and its download as Markdown."""
    (reserved_by, slot), _run.slot = getattr(_run, "slot", (None, None)), (None, None)
    with slot if slot is not None and reserved_by is get_script_run_ctx() else st.sidebar:
        st.button("New chat", key="new-chat", type="primary", width="stretch", on_click=_new_chat)
        _notice()
        messages = st.session_state.get("messages", [])
        current = _current_info(store)
        if messages:
            title = current.title if current and current.title else title_from(_first_question(messages))
            st.download_button("Download conversation (Markdown)", conversation_markdown(messages, title),
                               file_name=_file_name(title), mime="text/markdown", on_click="ignore",
                               width="stretch", key="download-conversation")  # fmt: skip
        if store is None:
            _problem()
            return
        _conversation_list(store, current)
        if current:
            _manage(store, current)


# --- the sidebar's parts ---------------------------------------------------------------------------------------


def _conversation_list(store: ConversationStore, current: ConversationInfo | None) -> None:
    page = st.session_state.get("conversations_page", 0)
    try:
        infos = store.list(limit=PAGE + 1, offset=page * PAGE)  # one more: is there an older page?
    except QAError as exc:
        _set_problem(exc, store.path)
        _problem()
        return
    st.markdown("**Conversations**")
    if not infos:
        st.caption("None yet: each conversation is kept here." if page == 0 else "No older conversations.")
    for info in infos[:PAGE]:
        is_open = current is not None and info.id == current.id
        st.button(plain(info.title or UNTITLED), key=f"conversation-{info.id}", on_click=_open, args=(store, info.id),
                  type="secondary" if is_open else "tertiary", width="stretch",
                  help=f"{info.messages} messages · last {info.updated:%Y-%m-%d %H:%M} UTC")  # fmt: skip
    newer, older = st.columns(2)
    if page > 0:
        newer.button("Newer", key="conversations-newer", on_click=_turn_page, args=(-1,), width="stretch")
    if len(infos) > PAGE:
        older.button("Older", key="conversations-older", on_click=_turn_page, args=(1,), width="stretch")


def _manage(store: ConversationStore, current: ConversationInfo) -> None:
    with st.expander("Rename or delete this conversation"):
        st.text_input("New title", value=current.title, max_chars=MAX_TITLE_CHARS, key=f"title-{current.id}")
        st.button("Rename", key="rename-conversation", on_click=_rename, args=(store, current.id))
        if st.session_state.get("confirm_delete") != current.id:
            st.button("Delete conversation", key="delete-conversation", on_click=_ask_to_delete, args=(current.id,))
            return
        st.warning(f"Delete “{plain(current.title or UNTITLED)}” and its {current.messages} messages? "
                   "This cannot be undone.")  # fmt: skip
        yes, no = st.columns(2)
        yes.button("Yes, delete", key="confirm-delete", type="primary", on_click=_delete, args=(store, current.id))
        no.button("Cancel", key="cancel-delete", on_click=_ask_to_delete, args=(None,))


def _notice() -> None:
    kind, text = st.session_state.pop("conversations_notice", (None, ""))
    if kind == "error":
        st.error(plain(text))
    elif kind:
        st.success(plain(text))


def _set_problem(exc: QAError, path: object) -> None:
    """Remember why the store cannot be used; a damaged file's path, to offer setting it aside."""
    st.session_state.conversations_problem = (str(exc), str(path) if isinstance(exc, ConversationsDamaged) else "")


def _problem() -> None:
    """Why conversations are not kept, and for a damaged file the way out: set it aside, keeping it."""
    text, damaged_path = st.session_state.get("conversations_problem", ("", ""))
    if text:
        st.error(plain(text))
    if damaged_path:
        st.button("Set the damaged file aside and start a new one", key="set-aside-conversations",
                  on_click=_set_aside, args=(damaged_path,))  # fmt: skip


def _current_info(store: ConversationStore | None) -> ConversationInfo | None:
    current = st.session_state.get("conversation_id")
    if store is None or current is None:
        return None
    try:
        return store.info(current)
    except QAError:
        return None  # deleted in another tab: the next message keeps the conversation anew


# --- callbacks (run before the page, so the page drawn after them shows their effect) ---------------------------


def _new_chat() -> None:
    st.session_state.messages = []
    st.session_state.conversation_id = None
    st.session_state.confirm_delete = None
    st.query_params.pop(QUERY_KEY, None)


def _open(store: ConversationStore, conversation_id: str) -> None:
    try:
        conversation = store.get(conversation_id)
    except QAError as exc:
        _new_chat()
        st.session_state.conversations_notice = ("error", str(exc))
        return
    st.session_state.messages = conversation.messages
    st.session_state.conversation_id = conversation.id
    st.session_state.confirm_delete = None
    st.query_params[QUERY_KEY] = conversation.id


def _start(store: ConversationStore) -> None:
    conversation = store.create()
    st.session_state.conversation_id = conversation.id
    st.query_params[QUERY_KEY] = conversation.id


def _rename(store: ConversationStore, conversation_id: str) -> None:
    try:
        store.rename(conversation_id, st.session_state.get(f"title-{conversation_id}", ""))
    except QAError as exc:
        st.session_state.conversations_notice = ("error", str(exc))


def _ask_to_delete(conversation_id: str | None) -> None:
    st.session_state.confirm_delete = conversation_id


def _delete(store: ConversationStore, conversation_id: str) -> None:
    try:
        title = store.info(conversation_id).title or UNTITLED
        store.delete(conversation_id)
    except QAError as exc:
        st.session_state.conversations_notice = ("error", str(exc))
        return
    if st.session_state.get("conversation_id") == conversation_id:
        _new_chat()
    st.session_state.conversations_notice = ("done", f"Deleted “{title}”.")


def _turn_page(step: int) -> None:
    st.session_state.conversations_page = max(0, st.session_state.get("conversations_page", 0) + step)


def _set_aside(path: str) -> None:
    try:
        aside = ConversationStore.set_aside(path)
    except OSError as exc:
        why = f"could not move {path} aside ({exc.strerror}); move it yourself, then reload the page"
        st.session_state.conversations_notice = ("error", why)
        return
    _store.clear()
    st.session_state.pop("conversations_problem", None)
    done = f"The damaged file was kept as {aside}; new conversations are kept in a new one."
    st.session_state.conversations_notice = ("done", done)


# --- helpers ---------------------------------------------------------------------------------------------------


def _messages_up_to(message: dict) -> list[dict]:
    """The session's messages up to ``message`` (the one being recorded), which may not be among them yet."""
    messages = st.session_state.get("messages", [])
    for n, m in enumerate(messages):
        if m is message:
            return messages[: n + 1]
    return [*messages, message]


def _first_question(messages: list[dict]) -> str:
    return next((m["content"] for m in messages if m["role"] == "user"), "")


def _file_name(title: str) -> str:
    slug = re.sub(r"[^\w]+", "-", title, flags=re.ASCII).strip("-").lower()[:60].rstrip("-")
    return f"{slug or 'article-qa-conversation'}.md"
