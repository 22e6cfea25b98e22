"""Conversations that last: the chat's messages kept in one SQLite file beside the index.

Every chat session (a thread of the chat server) and every process (``qa chat`` too) may read and write the
same file at once: SQLite's write-ahead log lets readers go on while one writer commits, and each write is one
short ``BEGIN IMMEDIATE`` transaction, so two appends to one conversation never take the same place. Each call
opens its own connection (SQLite connections are not shared between threads), which costs well under a
millisecond next to a question's answer.

Sizes are bounded: a message (a question, or an answer with its citations) is at most ``MAX_MESSAGE_BYTES``, a
conversation at most ``MAX_MESSAGES`` messages, a title ``MAX_TITLE_CHARS``, a listed page ``MAX_PAGE``
conversations. A file that is damaged, or is not ours, raises ``ConversationsDamaged`` with what to do, and is
never changed or deleted: ``set_aside`` moves it away (it and its log keep their data) so a new one can start.

>>> import tempfile; from pathlib import Path
>>> store = ConversationStore(Path(tempfile.mkdtemp()) / "conversations.sqlite3")
>>> chat = store.create()
>>> store.append(chat.id, {"role": "user", "content": "Who opposes the Tokyo liaison office?"})
>>> [(c.title, c.messages) for c in store.list()]
[('Who opposes the Tokyo liaison office?', 1)]
"""

from __future__ import annotations

import errno
import json
import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from qa.citations import Answer, clipped
from qa.errors import (
    ConversationNotFound,
    ConversationsDamaged,
    DiskFull,
    IndexBusy,
    IndexWriteError,
    QAError,
    UsageError,
)

log = logging.getLogger("qa")
SCHEMA_VERSION = 1
# "aqc1" in the file's header: a path that names some other SQLite file (chroma.sqlite3) is refused, never written.
APPLICATION_ID = 0x61716331
MAX_MESSAGE_BYTES = 2**20  # an answer with five long quotes and its closest passages is some 20 KB
MAX_MESSAGES = 1000
MAX_PAGE = 100
MAX_TITLE_CHARS = 200
TITLE_FROM_QUESTION_CHARS = 60
PAGE_BYTES = 16384
BUSY_TIMEOUT_S = 30.0  # a write waits this long for another one: each takes milliseconds
_ID = re.compile(r"^[0-9a-f]{16}$")
# Control characters, line separators and bidirectional controls: a title is one line that shows as written.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    messages INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS conversations_by_update ON conversations (updated DESC);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (conversation, seq)
);
"""
# A rowid table: in a WITHOUT ROWID table, rows of kilobytes would fill its b-tree's inner pages too.


@dataclass(frozen=True)
class ConversationInfo:
    """What the list of conversations shows: no messages, only how many there are."""

    id: str
    title: str
    created: datetime
    updated: datetime
    messages: int


@dataclass(frozen=True)
class Conversation:
    """A conversation and its messages, the chat's dicts: ``{"role", "content", "answer": Answer.model_dump()}``."""

    info: ConversationInfo
    messages: list[dict] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def title(self) -> str:
        return self.info.title


def title_from(text: str, limit: int = TITLE_FROM_QUESTION_CHARS) -> str:
    """``text`` as a one-line title of at most ``limit`` characters, cut at a word boundary.

    >>> title_from("What do the articles say about   NATO's liaison office in Tokyo and Japan's partnership?")
    "What do the articles say about NATO's liaison office in…"
    """
    line = " ".join(_UNPRINTABLE.sub(" ", text).split())
    if len(line) <= limit:
        return line
    cut = line[:limit]
    if line[limit] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _info(row: tuple) -> ConversationInfo:
    id_, title, created, updated, messages = row
    return ConversationInfo(id_, title, _time(created), _time(updated), messages)


def stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


class ConversationStore:
    """The conversations in one SQLite file (created with its folder when missing); see the module's docstring."""

    def __init__(self, path: Path | str, *, max_message_bytes: int = MAX_MESSAGE_BYTES,
                 max_messages: int = MAX_MESSAGES, busy_timeout: float = BUSY_TIMEOUT_S) -> None:  # fmt: skip
        self.path = Path(path).expanduser()
        self.max_message_bytes, self.max_messages, self.busy_timeout = max_message_bytes, max_messages, busy_timeout
        if self.path.is_dir():
            raise UsageError(f"the conversations file {self.path} is a folder; name a file, such as "
                             f"{self.path / 'conversations.sqlite3'} (QA_CONVERSATIONS_PATH)")  # fmt: skip
        self._open()

    # --- the file ----------------------------------------------------------------------------------------------

    def _open(self) -> None:
        """Check that the file is a sound conversations file (or new), and give it the tables it lacks."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(exc) from None
        with self._connect(create=True) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            application, version = (db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("application_id", "user_version"))
            if tables and application != APPLICATION_ID:
                raise ConversationsDamaged(f"{self.path} is not an article-qa conversations file (it holds other "
                                           "tables); set QA_CONVERSATIONS_PATH to another file")  # fmt: skip
            if version > SCHEMA_VERSION:
                raise ConversationsDamaged(f"the conversations file {self.path} was written by a newer article-qa "
                                           f"(version {version}); update article-qa, or set QA_CONVERSATIONS_PATH "
                                           "to another file")  # fmt: skip
            if tables and (check := db.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
                raise self._damaged(check)
            if not tables:
                # Before the first write, which fixes it: a message of a few KB fills most of a 4 KB page alone.
                db.execute(f"PRAGMA page_size = {PAGE_BYTES}")
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")  # kept in the file: once set, every connection uses the log
            if version < SCHEMA_VERSION:
                db.execute("BEGIN IMMEDIATE")
                for statement in filter(str.strip, _SCHEMA.split(";")):  # not executescript: it would commit first
                    db.execute(statement)  # IF NOT EXISTS: another process may have made them meanwhile
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")

    @contextmanager
    def _connect(self, transaction: str = "", create: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection of its own for one call; ``transaction`` ("DEFERRED" to read a consistent snapshot,
        "IMMEDIATE" to write) wraps the call in one transaction. SQLite's errors come out as typed ones.

        Only ``_open`` creates the file: a file that went away meanwhile (set aside, or moved with its folder by
        ``qa index --rebuild``) is made anew with its tables, never left as an empty file without them."""
        try:
            if not create and not self.path.exists():
                log.warning("%s is gone (moved away?); keeping conversations in a new file there", self.path)
                self._open()
            uri = f"{self.path.absolute().as_uri()}?mode={'rwc' if create else 'rw'}"
            db = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise self._error(exc) from None
        try:
            db.execute("PRAGMA foreign_keys = ON")
            if transaction:
                db.execute(f"BEGIN {transaction}")
            yield db
            if transaction:
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(db)
            raise self._error(exc) from None
        finally:
            self._rollback(db)  # whatever stopped the transaction (nothing once committed)
            db.close()

    @staticmethod
    def _rollback(db: sqlite3.Connection) -> None:
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # closing the connection rolls back as well

    def _damaged(self, detail: str) -> ConversationsDamaged:
        return ConversationsDamaged(
            f"the conversations file {self.path} is damaged ({clipped(detail, 80)}); set it aside (the chat offers "
            "to) or set QA_CONVERSATIONS_PATH to a new file: it was left as it is"
        )

    def _error(self, exc: sqlite3.Error | OSError) -> QAError:
        """What a failed call means for its user, with what to do: damage, a full disk, no permission, busy."""
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # the primary code of an extended one
        os_code = exc.errno if isinstance(exc, OSError) else None
        detail = clipped(" ".join(str(exc).split()) or exc.__class__.__name__, 80)
        if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return self._damaged(detail)
        if code == sqlite3.SQLITE_FULL or os_code in (errno.ENOSPC, errno.EDQUOT):
            return DiskFull(f"the disk holding {self.path} is full; free some space and retry: no conversation "
                            "was lost")  # fmt: skip
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return IndexBusy(f"the conversations file {self.path} is busy: another process holds it; retry in a "
                             "moment")  # fmt: skip
        return IndexWriteError(f"cannot use the conversations file {self.path} ({detail}); make it and its folder "
                               "readable and writable, or set QA_CONVERSATIONS_PATH: no conversation was lost")  # fmt: skip

    @staticmethod
    def set_aside(path: Path | str) -> Path:
        """Move a damaged conversations file (and its log) to ``<path>.damaged-<time>``, keeping every byte, so a
        new store at ``path`` starts empty. Returns where it went."""
        path = Path(path).expanduser()
        aside = path.with_name(f"{path.name}.damaged-{stamp()}")
        for suffix in ("", "-wal", "-shm", "-journal"):
            part = path.with_name(path.name + suffix)
            if part.exists():
                part.rename(aside.with_name(aside.name + suffix))
        return aside

    # --- conversations -----------------------------------------------------------------------------------------

    def create(self, title: str = "") -> Conversation:
        """A new, empty conversation. Without a title it takes its first question's (shortened)."""
        title = self._clean_title(title) if title.strip() else ""
        now = time.time()
        id_ = secrets.token_hex(8)
        with self._connect("IMMEDIATE") as db:
            db.execute("INSERT INTO conversations (id, title, created, updated) VALUES (?, ?, ?, ?)",
                       (id_, title, now, now))  # fmt: skip
        return Conversation(ConversationInfo(id_, title, _time(now), _time(now), 0))

    def list(self, limit: int = 20, offset: int = 0) -> list[ConversationInfo]:
        """A page of conversations, the last one written to first."""
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise UsageError(f"conversations are listed 1 to {MAX_PAGE} a page from an offset of 0 or more "
                             f"(asked for {limit} from {offset})")  # fmt: skip
        with self._connect() as db:
            rows = db.execute("SELECT id, title, created, updated, messages FROM conversations "
                              "ORDER BY updated DESC, rowid DESC LIMIT ? OFFSET ?", (limit, offset)).fetchall()  # fmt: skip
        return [_info(row) for row in rows]

    def count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT count(*) FROM conversations").fetchone()[0]

    def info(self, conversation_id: str) -> ConversationInfo:
        """A conversation's title, times and message count, without its messages."""
        with self._connect() as db:
            row = db.execute("SELECT id, title, created, updated, messages FROM conversations WHERE id = ?",
                             (self._checked_id(conversation_id),)).fetchone()  # fmt: skip
        if row is None:
            raise self._not_found(conversation_id)
        return _info(row)

    def get(self, conversation_id: str) -> Conversation:
        with self._connect("DEFERRED") as db:  # one snapshot: the count and the messages agree
            row = db.execute("SELECT id, title, created, updated, messages FROM conversations WHERE id = ?",
                             (self._checked_id(conversation_id),)).fetchone()  # fmt: skip
            if row is None:
                raise self._not_found(conversation_id)
            bodies = db.execute("SELECT body FROM messages WHERE conversation = ? ORDER BY seq", (row[0],)).fetchall()
        try:
            return Conversation(_info(row), [json.loads(body) for (body,) in bodies])
        except ValueError as exc:
            raise self._damaged(f"a message of conversation {row[0]} is not JSON: {exc}") from None

    def append(self, conversation_id: str, message: dict) -> None:
        """Add a message at the end; the first question becomes the title of an untitled conversation."""
        body = self._encoded(message)
        with self._connect("IMMEDIATE") as db:  # the count is read and moved on in one transaction
            row = db.execute("SELECT messages, title FROM conversations WHERE id = ?",
                             (self._checked_id(conversation_id),)).fetchone()  # fmt: skip
            if row is None:
                raise self._not_found(conversation_id)
            count, title = row
            if count >= self.max_messages:
                raise UsageError(f"this conversation holds {self.max_messages:,} messages, as many as one may; "
                                 "start a new chat (the message was not saved)")  # fmt: skip
            if not title and message["role"] == "user":
                title = title_from(message["content"])
            db.execute(
                "INSERT INTO messages (conversation, seq, body) VALUES (?, ?, ?)", (conversation_id, count, body)
            )
            db.execute("UPDATE conversations SET messages = ?, updated = max(updated, ?), title = ? WHERE id = ?",
                       (count + 1, time.time(), title, conversation_id))  # fmt: skip

    def rename(self, conversation_id: str, title: str) -> None:
        title = self._clean_title(title)
        with self._connect("IMMEDIATE") as db:
            changed = db.execute("UPDATE conversations SET title = ? WHERE id = ?",
                                 (title, self._checked_id(conversation_id))).rowcount  # fmt: skip
        if not changed:
            raise self._not_found(conversation_id)

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation and its messages."""
        with self._connect("IMMEDIATE") as db:
            deleted = db.execute(
                "DELETE FROM conversations WHERE id = ?", (self._checked_id(conversation_id),)
            ).rowcount
        if not deleted:
            raise self._not_found(conversation_id)

    # --- checks ------------------------------------------------------------------------------------------------

    def _checked_id(self, conversation_id: object) -> str:
        if not isinstance(conversation_id, str) or not _ID.match(conversation_id):
            raise self._not_found(conversation_id)
        return conversation_id

    @staticmethod
    def _not_found(conversation_id: object) -> ConversationNotFound:
        return ConversationNotFound(f"no conversation {clipped(str(conversation_id), 40)!r}: it was deleted, or "
                                    "never kept here; start a new chat")  # fmt: skip

    @staticmethod
    def _clean_title(title: str) -> str:
        clean = " ".join(_UNPRINTABLE.sub(" ", title).split())
        if not clean:
            raise UsageError("a conversation's title cannot be empty")
        if len(clean) > MAX_TITLE_CHARS:
            raise UsageError(
                f"a conversation's title is at most {MAX_TITLE_CHARS} characters (this one has {len(clean):,})"
            )
        return clean

    def _encoded(self, message: dict) -> str:
        """The message as JSON, once it is a chat message of a size we keep."""
        if (not isinstance(message, dict) or message.get("role") not in ("user", "assistant")
                or not isinstance(message.get("content"), str)):  # fmt: skip
            raise UsageError("a message is a dict with a role ('user' or 'assistant') and its content text")
        if message["role"] == "assistant":
            try:
                Answer.model_validate(message.get("answer"))
            except ValidationError:
                raise UsageError("an assistant message carries its answer (Answer.model_dump())") from None
        try:
            body = json.dumps(message, ensure_ascii=False)
            size = len(body.encode("utf-8"))
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError (a lone surrogate) is a ValueError
            raise UsageError(f"a message must be plain JSON text ({clipped(str(exc), 80)}); it was not saved") from None
        if size > self.max_message_bytes:
            raise UsageError(f"a message of {size:,} bytes is over the {self.max_message_bytes:,} a conversation "
                             "keeps; it was not saved")  # fmt: skip
        return body
