"""The conversation store (qa.history) and a conversation's Markdown export (qa.ui_text.conversation_markdown)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from qa.citations import Answer, Citation, ShortAnswer
from qa.errors import ConversationNotFound, ConversationsDamaged, QAError, UsageError
from qa.history import MAX_PAGE, ConversationStore, title_from
from qa.settings import Settings
from qa.ui_text import conversation_markdown

from .conftest import APP, ROOT, STUCK


def question(text: str) -> dict:
    return {"role": "user", "content": text}


def reply(text: str, **answer) -> dict:
    return {"role": "assistant", "content": text, "answer": Answer(question="q", text=text, **answer).model_dump()}


@pytest.fixture
def store(tmp_path) -> ConversationStore:
    return ConversationStore(tmp_path / "index" / "conversations.sqlite3")


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and message, message
    return message


# --- the store ---------------------------------------------------------------------------------------------------


def test_create_append_get_rename_and_delete(store):
    chat = store.create()
    assert chat.title == "" and chat.messages == [] and chat.info.messages == 0
    store.append(chat.id, question("Who opposes the Tokyo liaison office?"))
    store.append(chat.id, reply("Macron does. [1]"))
    kept = store.get(chat.id)
    assert kept.title == "Who opposes the Tokyo liaison office?" and kept.info.messages == 2
    assert [m["role"] for m in kept.messages] == ["user", "assistant"]
    assert Answer.model_validate(kept.messages[1]["answer"]).text == "Macron does. [1]"
    assert kept.info.created <= kept.info.updated
    store.append(chat.id, question("Why?"))
    assert store.get(chat.id).title == "Who opposes the Tokyo liaison office?"  # the first question names it
    store.rename(chat.id, "  Macron and\nthe office  ")
    assert store.info(chat.id).title == "Macron and the office"
    store.delete(chat.id)
    assert store.list() == [] and store.count() == 0
    with pytest.raises(ConversationNotFound):
        store.get(chat.id)


def test_an_explicit_title_is_kept_and_a_long_question_is_shortened_at_a_word(store):
    named = store.create("Rockets")
    store.append(named.id, question("How long was the North Korean rocket in the air?"))
    assert store.info(named.id).title == "Rockets"
    long = store.create()
    store.append(long.id, question("What do the articles say about " + "the liaison office in Tokyo " * 5))
    title = store.info(long.id).title
    assert len(title) <= 61 and title.endswith("…") and not title.endswith(" …")
    assert title_from("a\u202eb\tc\u2028d") == "a b c d"  # one line, no reordering controls


def test_the_list_is_newest_first_and_paged(store):
    chats = [store.create(f"chat {n}") for n in range(5)]
    assert [c.title for c in store.list()] == [f"chat {n}" for n in reversed(range(5))]
    store.append(chats[1].id, question("Anything new?"))  # written to last: first in the list
    listed = store.list(limit=2)
    assert [c.title for c in listed] == ["chat 1", "chat 4"] and listed[0].messages == 1
    assert [c.title for c in store.list(limit=2, offset=2)] == ["chat 3", "chat 2"]
    assert [c.title for c in store.list(limit=2, offset=4)] == ["chat 0"]
    assert store.list(limit=MAX_PAGE, offset=5) == []


def test_conversations_persist_across_store_objects(tmp_path):
    path = tmp_path / "conversations.sqlite3"
    chat = ConversationStore(path).create()
    ConversationStore(path).append(chat.id, question("Who is Koji Tomita?"))
    again = ConversationStore(path)
    assert again.get(chat.id).messages == [question("Who is Koji Tomita?")]
    assert [c.id for c in again.list()] == [chat.id]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_moved_away_under_a_store_is_kept_and_a_new_one_started(store, tmp_path):
    """What `qa index --rebuild` does to the index folder, and so to the file in it, while the chat runs."""
    old = store.create("before the move")
    moved = tmp_path / "index.damaged"
    store.path.parent.rename(moved)
    assert store.list() == []  # a new, working file where the old one was
    new = store.create("after the move")
    store.append(new.id, question("Still kept?"))
    assert [c.title for c in store.list()] == ["after the move"]
    assert ConversationStore(moved / "conversations.sqlite3").info(old.id).title == "before the move"


def test_the_default_file_is_beside_the_index_also_with_a_chroma_server(tmp_path, monkeypatch):
    monkeypatch.delenv("QA_CONVERSATIONS_PATH", raising=False)
    assert Settings(index_dir=tmp_path / "ix").conversations_file == tmp_path / "ix" / "conversations.sqlite3"
    server = Settings(index_dir=tmp_path / "ix", chroma_url="http://127.0.0.1:9")
    assert server.conversations_file == tmp_path / "ix" / "conversations.sqlite3"
    monkeypatch.setenv("QA_CONVERSATIONS_PATH", str(tmp_path / "mine.sqlite3"))
    assert Settings(index_dir=tmp_path / "ix").conversations_file == tmp_path / "mine.sqlite3"


def test_two_threads_appending_to_one_conversation_lose_nothing(store):
    chat = store.create()
    errors = []

    def append(name: str) -> None:
        try:
            for n in range(40):
                store.append(chat.id, question(f"{name} {n}"))
        except QAError as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(STUCK)
    assert not errors and not any(t.is_alive() for t in threads)
    kept = [m["content"] for m in store.get(chat.id).messages]
    assert len(kept) == 80 and store.info(chat.id).messages == 80
    for name in ("a", "b"):  # each thread's messages in its order
        assert [m for m in kept if m.startswith(name)] == [f"{name} {n}" for n in range(40)]


APPENDER = """
import sys
from qa.history import ConversationStore
store = ConversationStore(sys.argv[1])
for n in range(40):
    store.append(sys.argv[2], {"role": "user", "content": f"{sys.argv[3]} {n}"})
store.create(f"made by {sys.argv[3]}")
"""


@pytest.mark.slow
def test_two_processes_appending_and_creating_at_once_lose_nothing(store):
    chat = store.create()
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    writers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(store.path), chat.id, name], env=env,
                                stderr=subprocess.PIPE, text=True) for name in ("p", "q")]  # fmt: skip
    for w in writers:
        assert w.wait(STUCK) == 0, w.stderr.read()
    kept = [m["content"] for m in store.get(chat.id).messages]
    assert sorted(kept) == sorted(f"{name} {n}" for name in "pq" for n in range(40))
    for name in "pq":
        assert [m for m in kept if m.startswith(name)] == [f"{name} {n}" for n in range(40)]
    assert {c.title for c in store.list()} == {"made by p", "made by q", kept[0]}  # titled by its first question


def test_a_damaged_file_is_one_line_and_kept_as_it_is(tmp_path):
    path = tmp_path / "conversations.sqlite3"
    junk = b"this is no database, and not ours to throw away\n" * 200
    path.write_bytes(junk)
    with pytest.raises(ConversationsDamaged) as exc:
        ConversationStore(path)
    assert "damaged" in one_line(exc) and str(path) in str(exc.value) and "QA_CONVERSATIONS_PATH" in str(exc.value)
    assert path.read_bytes() == junk
    aside = ConversationStore.set_aside(path)
    assert aside.read_bytes() == junk and not path.exists()
    assert ConversationStore(path).list() == []  # a new file where the damaged one was


def test_a_damaged_page_is_found_and_nothing_is_overwritten(tmp_path):
    path = tmp_path / "conversations.sqlite3"
    store = ConversationStore(path)
    for n in range(30):
        chat = store.create(f"chat {n}")
        store.append(chat.id, question("x" * 3000))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096 * 3 : 4096 * 5] = b"\xff" * 8192  # two pages of the messages' table
    path.write_bytes(bytes(data))
    with pytest.raises(ConversationsDamaged) as exc:
        ConversationStore(path)
    assert "damaged" in one_line(exc)
    assert path.read_bytes() == bytes(data)


def test_another_sqlite_file_is_refused_and_left_alone(tmp_path):
    other = tmp_path / "chroma.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE embeddings (id INTEGER)")
    before = other.read_bytes()
    with pytest.raises(ConversationsDamaged) as exc:
        ConversationStore(other)
    assert "not an article-qa conversations file" in one_line(exc)
    assert other.read_bytes() == before


def test_a_folder_as_the_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as exc:
        ConversationStore(tmp_path)
    assert "is a folder" in one_line(exc)


def test_unknown_ids_are_one_line_errors(store):
    chat = store.create()
    store.delete(chat.id)
    for call in (store.get, store.info, store.delete, lambda i: store.append(i, question("?")),
                 lambda i: store.rename(i, "t")):  # fmt: skip
        for unknown in (chat.id, "0" * 16, "../../etc/passwd", "x" * 10_000, ""):
            with pytest.raises(ConversationNotFound) as exc:
                call(unknown)
            assert "no conversation" in one_line(exc) and len(str(exc.value)) < 200


def test_sizes_are_bounded(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite3", max_message_bytes=10_000, max_messages=3)
    chat = store.create()
    with pytest.raises(UsageError) as exc:
        store.append(chat.id, question("x" * 20_000))
    assert "not saved" in one_line(exc)
    for n in range(3):
        store.append(chat.id, question(f"q{n}"))
    with pytest.raises(UsageError) as exc:
        store.append(chat.id, question("one too many"))
    assert "start a new chat" in one_line(exc)
    assert [m["content"] for m in store.get(chat.id).messages] == ["q0", "q1", "q2"]
    for limit, offset in ((0, 0), (MAX_PAGE + 1, 0), (10, -1)):
        with pytest.raises(UsageError):
            store.list(limit=limit, offset=offset)
    for title in ("", " \n ", "t" * 201):
        with pytest.raises(UsageError):
            store.rename(chat.id, title)


def test_only_chat_messages_are_kept(store):
    chat = store.create()
    bad = [None, "text", {"role": "system", "content": "x"}, {"role": "user", "content": 3},
           {"role": "assistant", "content": "no answer"}, {"role": "user", "content": "\ud800"},
           {"role": "user", "content": "x", "extra": object()}]  # fmt: skip
    for message in bad:
        with pytest.raises(UsageError) as exc:
            store.append(chat.id, message)
        one_line(exc)
    assert store.info(chat.id).messages == 0


def test_a_file_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "not-a-folder").write_text("a file where a folder should be")
    with pytest.raises(QAError) as exc:
        ConversationStore(tmp_path / "not-a-folder" / "conversations.sqlite3")
    assert "cannot use the conversations file" in one_line(exc) and "QA_CONVERSATIONS_PATH" in str(exc.value)
    assert (tmp_path / "not-a-folder").read_text() == "a file where a folder should be"


# --- the Markdown export -----------------------------------------------------------------------------------------

EVIL = '<img src=x onerror="alert(1)"> [click](javascript:alert(1)) ![t](http://127.0.0.1:9/p.png) <b>b</b> *x*'


def cited(marker: int, quote: str, **fields) -> Citation:
    fields = {"title": f"Title {marker}", "source": f"Publisher {marker}", "published": "2023-07-12", **fields}
    return Citation(marker=marker, id=f"art{marker}:0-{len(quote)}@abcd1234", article_id=f"art{marker}", quote=quote,
                    start=0, end=len(quote), **fields)  # fmt: skip


def test_the_export_has_every_question_search_answer_and_citation():
    first = cited(1, "the rocket flew for over 70 minutes", url="https://example.org/rocket", page=3)
    second = cited(2, "Japan said so in a statement", caption=True, author="A. Writer")
    messages = [
        question("How long did it fly?"),
        reply("the rocket flew for over 70 minutes [1] Japan said so in a statement [2]",
              standalone_question="How long did the North Korean rocket fly?", citations=[first, second],
              short_answer=ShortAnswer(text="over 70 minutes", article_id="art1", start=20, end=35)),
        question("Who won the World Cup?"),
        reply("The articles don't say.", abstained=True, related=[cited(3, "a football match")]),
    ]  # fmt: skip
    markdown = conversation_markdown(messages, title="Rockets & World Cups")
    assert markdown.startswith("# Rockets \\& World Cups\n")
    assert "**You:** How long did it fly?" in markdown and "**You:** Who won the World Cup?" in markdown
    assert "*Searched:* How long did the North Korean rocket fly?" in markdown
    assert markdown.count("*Searched:*") == 1  # only where it differs from the question
    assert "**article-qa:** the rocket flew for over 70 minutes \\[1\\]" in markdown
    assert "*Short answer:* over 70 minutes" in markdown
    for c in (first, second):
        assert f'\\[{c.marker}\\] "{c.quote}"' in markdown
        for text in (c.title, c.source, "2023\\-07\\-12", c.id.replace(":", "\\:").replace("-", "\\-")):
            assert text in markdown, text
    assert "page 3" in markdown and "https\\://example\\.org/rocket" in markdown
    assert "A\\. Writer" in markdown and "\\(photo caption\\)" in markdown
    assert "Closest passages (not an answer)" in markdown and "a football match" in markdown


def test_the_export_escapes_markdown_and_html_from_articles_and_users():
    c = cited(1, EVIL, title=f"Title {EVIL}", source=EVIL, author=EVIL, url=f"javascript:alert(1)//{EVIL}")
    messages = [question(f"Who? {EVIL}"), reply(f"They did [1]. {EVIL}", standalone_question=EVIL, citations=[c])]
    markdown = conversation_markdown(messages, title=EVIL)
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<a " not in html and "<img" not in html and "<b>" not in html and "<em>x</em>" not in html
    assert "onerror=" not in html.replace("onerror=&quot;", "")
    assert html.count("javascript") >= 5 and "alert" in html  # shown as text
    heading = html.split("\n")[0]
    assert heading.startswith("<h1>") and "&lt;img" in heading


def test_the_export_of_kept_messages_reads_back_from_the_store(store):
    chat = store.create()
    store.append(chat.id, question("How long did it fly?"))
    store.append(chat.id, reply("It flew [1]", citations=[cited(1, "over 70 minutes")]))
    kept = store.get(chat.id)
    markdown = conversation_markdown(kept.messages, kept.title)
    assert markdown.startswith("# How long did it fly?") and '\\[1\\] "over 70 minutes"' in markdown


def test_a_page_of_a_thousand_conversations(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite3")
    with sqlite3.connect(store.path) as db:
        now = time.time()
        db.executemany("INSERT INTO conversations (id, title, created, updated) VALUES (?, ?, ?, ?)",
                       [(f"{n:016x}", f"chat {n}", now + n, now + n) for n in range(1000)])  # fmt: skip
    page = store.list(limit=20, offset=40)
    assert [c.title for c in page] == [f"chat {n}" for n in range(959, 939, -1)] and store.count() == 1000


# --- the chat page: restore and record (streamlit.testing's AppTest: the real app, models and index) -------------


def sidebar_buttons(at) -> dict[str, object]:
    return {b.label: b for b in at.sidebar.button}


def page_store(at_index: Path) -> ConversationStore:
    return ConversationStore(at_index / "conversations.sqlite3")


@pytest.mark.slow
def test_the_page_keeps_restores_lists_renames_and_deletes_a_conversation(app, tmp_path):

    app.chat_input[0].set_value("How long was the North Korean rocket in the air?").run()
    # listed, and downloadable, at once: the panel is drawn after the answer
    assert "How long was the North Korean rocket in the air?" in sidebar_buttons(app)
    assert [b.label for b in app.get("download_button")] == ["Download conversation (Markdown)"]
    app.chat_input[0].set_value("Who is Koji Tomita?").run()
    assert not app.exception
    kept_id = app.query_params["c"]
    kept = page_store(tmp_path / "index").get(kept_id)
    assert [m["role"] for m in kept.messages] == ["user", "assistant"] * 2
    assert kept.messages == app.session_state["messages"]
    assert kept.title == "How long was the North Korean rocket in the air?"

    reloaded = AppTest.from_file(APP, default_timeout=STUCK)  # a new session, as after a reload
    reloaded.query_params["c"] = kept_id
    reloaded.run()
    assert not reloaded.exception and reloaded.session_state["messages"] == kept.messages
    assert any("70 minutes" in m.value for m in reloaded.markdown)

    sidebar_buttons(reloaded)["New chat"].click().run()
    assert reloaded.session_state["messages"] == [] and "c" not in reloaded.query_params
    sidebar_buttons(reloaded)[kept.title].click().run()  # the earlier conversation, opened again
    assert reloaded.session_state["messages"] == kept.messages and reloaded.query_params["c"] == kept_id

    title = next(t for t in reloaded.sidebar.text_input if t.label == "New title")
    title.set_value("North Korea's rocket <b>").run()
    sidebar_buttons(reloaded)["Rename"].click().run()
    assert page_store(tmp_path / "index").info(kept_id).title == "North Korea's rocket <b>"
    assert "North Korea's rocket \\<b\\>" in sidebar_buttons(reloaded)  # escaped in its label

    sidebar_buttons(reloaded)["Delete conversation"].click().run()
    assert page_store(tmp_path / "index").count() == 1  # not before it is confirmed
    assert any("cannot be undone" in w.value for w in reloaded.sidebar.warning)
    sidebar_buttons(reloaded)["Yes, delete"].click().run()
    assert page_store(tmp_path / "index").count() == 0
    assert reloaded.session_state["messages"] == [] and "c" not in reloaded.query_params


@pytest.mark.slow
def test_an_unknown_conversation_in_the_address_starts_an_empty_chat(app):
    app.query_params["c"] = "0123456789abcdef"
    app.run()
    assert not app.exception and app.session_state["messages"] == []
    assert any("no conversation '0123456789abcdef'" in e.value for e in app.sidebar.error)


@pytest.mark.slow
def test_a_damaged_file_is_said_the_chat_still_answers_and_the_file_can_be_set_aside(tmp_path, seed_index, monkeypatch):

    shutil.copytree(seed_index, tmp_path / "index")
    damaged = tmp_path / "index" / "conversations.sqlite3"
    damaged.write_bytes(b"not a database " * 100)
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    at = AppTest.from_file(APP, default_timeout=STUCK).run()
    assert any("is damaged" in e.value for e in at.sidebar.error)
    at.chat_input[0].set_value("How long was the North Korean rocket in the air?").run()
    assert not at.exception and len(at.session_state["messages"]) == 2  # the chat goes on, in the session
    assert damaged.read_bytes() == b"not a database " * 100
    sidebar_buttons(at)["Set the damaged file aside and start a new one"].click().run()
    assert [p.read_bytes() for p in tmp_path.joinpath("index").glob("conversations.sqlite3.damaged-*")] == [
        b"not a database " * 100
    ]
    at.chat_input[0].set_value("Who is Koji Tomita?").run()
    assert page_store(tmp_path / "index").list()[0].messages == 2


@pytest.mark.slow
def test_a_conversation_deleted_in_another_tab_is_kept_anew_with_every_message(app, tmp_path):
    app.chat_input[0].set_value("How long was the North Korean rocket in the air?").run()
    first_id = app.query_params["c"]
    page_store(tmp_path / "index").delete(first_id)  # as another tab would
    app.chat_input[0].set_value("Who is Koji Tomita?").run()
    assert not app.exception and app.query_params["c"] != first_id
    kept = page_store(tmp_path / "index").get(app.query_params["c"])
    assert kept.messages == app.session_state["messages"] and len(kept.messages) == 4
