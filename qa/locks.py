"""Sharing an embedded index folder between processes: lock files and ``IndexFolder``.

Chroma's embedded store is built for one process, so every process that uses a folder takes turns through a
lock file in it (``STORE_LOCK_FILE``, for each use of the store), and an index run or rebuild holds another for
its whole length (``LOCK_FILE``). A lock is waited on for a bounded time, and its holder writes who it is into
the file, so a command that gives up can say who holds it. A lock file that is not a regular file (a FIFO, a
link) is refused rather than waited on.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not a POSIX system: processes are not coordinated
    fcntl = None

from qa.errors import IndexBusy, IndexCorrupt, IndexWriteError
from qa.integrity import SQLITE_BUGS, check_files, storage_error, store_failures


def chroma_settings():
    import chromadb.config

    return chromadb.config.Settings(anonymized_telemetry=False, allow_reset=False)


LOCK_FILE = ".qa-index.lock"  # held for a whole index run: one writer at a time
STORE_LOCK_FILE = ".qa-store.lock"  # held for each use of the store: one process at a time
GENERATION_FILE = ".qa-generation"


def open_lock_file(path: Path):
    """Open (or create) a lock file for reading and writing. A link is not followed and a FIFO or device is refused
    rather than waited on: opening a FIFO would block for ever, silently."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IndexWriteError(f"the lock file {path} is a link; delete it and retry") from None
        raise IndexWriteError(f"cannot use the index folder {path.parent} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IndexWriteError(f"the lock file {path} is not a regular file; delete it and retry")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "r+b", buffering=0)  # unbuffered: a full disk fails the write, never a later close


def lock_holder(path: Path) -> str:
    """Who holds a lock file, as its holder wrote it (" (process 1234, qa index -q, since 12:03:04)"), or ""."""
    try:
        said = path.read_text(errors="replace").strip()[:200]
    except OSError:
        return ""
    return f" ({said})" if said.startswith("process ") else ""


def release_lock(handle) -> None:
    """Empty the holder's line, then let the lock go (closing the file would too)."""
    try:
        handle.seek(0)
        handle.truncate()
    except OSError:
        pass
    fcntl.flock(handle, fcntl.LOCK_UN)


def wait_for_lock(handle, path: Path, timeout: float, blocking: bool = True) -> bool:
    """Take an exclusive ``flock`` on an open lock file within ``timeout`` seconds (at once when not
    ``blocking``) and write who holds it into the file; False when another process still holds it then."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not blocking or time.monotonic() > deadline:
                return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}, {' '.join(os.path.basename(a) for a in _command()[:3])}, "
                     f"since {time.strftime('%H:%M:%S')}".encode())  # fmt: skip
    except OSError:
        pass  # a full disk: the lock holds all the same, only its holder is not named
    return True


def _command() -> list[str]:
    return [a for a in sys.argv if a] or ["python"]


def lock_folder(folder: Path, timeout: float):
    """The folder's store lock file, locked (release with ``release_lock`` and close). A rebuild may swap the folder
    while this process waits on the old one's lock: a lock on a file that is no longer at its path is let go, and
    the current one taken."""
    lock_path = folder / STORE_LOCK_FILE
    while True:
        handle = open_lock_file(lock_path)
        if fcntl and not wait_for_lock(handle, lock_path, timeout):
            handle.close()
            raise IndexBusy(f"another process{lock_holder(lock_path)} has held the index at {folder} for over "
                            f"{timeout:g} s (QA_LOCK_TIMEOUT); retry when it is done")  # fmt: skip
        try:
            if os.fstat(handle.fileno()).st_ino == os.stat(lock_path).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()


@contextmanager
def index_run_lock(folder: Path) -> Iterator[None]:
    """Hold a folder's index-run lock for a whole index run or rebuild: a second one fails at once with
    ``IndexBusy`` naming the holder. The kernel drops the lock when its process dies, even by SIGKILL."""
    if fcntl is None:
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexWriteError(f"cannot write to the index folder {folder} ({exc.strerror or exc})") from None
    with open_lock_file(folder / LOCK_FILE) as handle:
        if not wait_for_lock(handle, folder / LOCK_FILE, 0, blocking=False):
            raise IndexBusy(
                f"another process is indexing into {folder}{lock_holder(folder / LOCK_FILE)}; wait for it to "
                "finish, then run `qa index` again"
            )
        try:
            yield
        finally:
            release_lock(handle)


class IndexFolder:
    """An embedded Chroma store as this process shares it: one client per folder, used by one process at a time.

    Chroma's embedded store is single-process (chroma-core/chroma#6975): a process that only queries still
    writes the vector files (it replays the write log into them), and it keeps its own view of them, blind to
    what other processes wrote since. Two processes in those files at once corrupt them (runaway
    ``link_lists.bin``, segfaults). So every store call holds an exclusive lock on ``.qa-store.lock`` (for
    milliseconds for a question, for one batch while indexing), and a writer bumps the number in
    ``.qa-generation`` before it writes: a process that finds a number other than the one its client was opened
    at reopens the client, and so sees what the other process wrote. The kernel drops the lock of a process
    that dies, even by SIGKILL.
    """

    _open: dict[Path, IndexFolder] = {}
    _open_lock = threading.Lock()

    def __init__(self, path: Path, timeout: float = 120.0) -> None:
        self.path = path
        self.timeout = timeout  # seconds to wait for another process's use (Settings.lock_timeout)
        self.client = None
        self.generation: int | None = None  # the number the client was opened at
        self.opened = 0  # how many times this process opened a client on the folder
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._handle = None
        self._bumped = False

    @classmethod
    def of(cls, path: Path, timeout: float | None = None) -> IndexFolder:
        path = path.expanduser().absolute()
        with cls._open_lock:
            folder = cls._open.setdefault(path, cls(path))
            if timeout is not None:
                folder.timeout = timeout
            return folder

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the folder (reentrant): other processes and threads wait; the client is current inside."""
        with self._thread_lock:
            if self._depth == 0:
                self._acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def will_write(self) -> None:
        """Tell other processes, before the first write while held, that their view is out of date."""
        if not self._bumped:
            self.generation = self._read_generation() + 1
            tmp = self.path / (GENERATION_FILE + f".{os.getpid()}")
            tmp.write_text(str(self.generation))
            os.replace(tmp, self.path / GENERATION_FILE)  # never a torn number, even on a crash
            self._bumped = True

    def _acquire(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise IndexCorrupt(f"index location {self.path} is a file, not a folder; point QA_INDEX_DIR at a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexWriteError(f"cannot use the index folder {self.path} ({exc.strerror or exc})") from None
        self._handle = self._locked_handle()
        try:
            current = self._read_generation()
            if self.client is None or current != self.generation:
                self._reopen(current)
        except BaseException:
            self._release()
            raise

    def _locked_handle(self):
        return lock_folder(self.path, self.timeout)

    def close(self) -> None:
        """Drop this process's client and forget the folder (before it is moved away)."""
        with self._thread_lock:
            if self.client is not None:
                self.client.close()
                self.client = None
            with self._open_lock:
                self._open.pop(self.path, None)

    def _release(self) -> None:
        self._bumped = False
        if self._handle is not None:
            if fcntl:
                release_lock(self._handle)
            self._handle.close()
            self._handle = None

    def _read_generation(self) -> int:
        try:
            return int((self.path / GENERATION_FILE).read_text() or 0)
        except (OSError, ValueError):
            return 0

    def _reopen(self, generation: int) -> None:
        import chromadb

        if self.client is not None:
            self.client.close()  # this process's only client on the folder: its view is dropped with it
            self.client = None
        check_files(self.path)
        try:
            self.client = chromadb.PersistentClient(path=str(self.path), settings=chroma_settings())
        except SQLITE_BUGS:  # a bug in the SQL or its caller, not damage: as itself
            raise
        except store_failures() as exc:
            raise storage_error(self.path, exc) from None
        self.generation = generation
        self.opened += 1
