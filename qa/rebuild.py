"""``qa index --rebuild``: a new index built beside the old one from the given inputs and every article the old
one still holds, swapped in only when it is complete.

The old index is never emptied first: a rebuild killed, out of disk space or failing for any other reason
leaves it exactly as it was (and its unfinished copy is deleted by the next rebuild). On one machine the two
folders trade places in one atomic step (``renameat2`` with ``RENAME_EXCHANGE``), under the old folder's store
lock; the old one is kept as ``<folder>.damaged-<time>``. On a Chroma server the new collections are written under
a staging prefix and renamed into place, with a marker that lets any later client finish a swap cut short.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from qa.articles import Article, Skipped
from qa.collection_swap import SUFFIXES, drop_collections, finish_swap, swap_marker  # noqa: F401 (compaction)
from qa.errors import DiskFull
from qa.integrity import DATABASE, LOW_SPACE_BYTES, free_bytes, salvage_articles
from qa.locks import GENERATION_FILE, IndexFolder, index_run_lock, lock_folder, release_lock

if TYPE_CHECKING:  # the store calls finish_swap below: this module does not import it back
    from qa.embeddings import Embedder
    from qa.indexing import IndexReport
    from qa.settings import Settings
    from qa.store import ArticleStore

    OpenStore = Callable[[Settings], ArticleStore]

log = logging.getLogger("qa")
STAGING = ".rebuild-"
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def check_room(folder: Path) -> None:
    """Refuse a rebuild that the disk cannot hold: the new index takes about as much room as the old one."""
    needed = (folder_bytes(folder) if folder.is_dir() else 0) + LOW_SPACE_BYTES
    free = free_bytes(folder)
    if free is not None and free < needed:
        raise DiskFull(f"a rebuild of {folder} needs about {needed / 2**20:,.0f} MiB free beside it, and the disk has "
                       f"{free / 2**20:,.0f} MiB; free some space first (the index was not touched)")  # fmt: skip


def salvage(folder: Path, collection: str) -> tuple[list[Article], str]:
    """Every complete article the old folder's database still holds, and where they were read from: SQLite's own
    reading where the database is sound, else every readable page of the file (``qa.salvage``)."""
    from qa.salvage import salvage_articles_from_pages

    if not (folder / DATABASE).is_file():
        return [], "no database"
    read, complete = salvage_articles(folder, collection)
    if complete:
        return read, f"read from {folder / DATABASE}"
    pages, how = salvage_articles_from_pages(folder / DATABASE, collection)
    found = {a.id: a for a in pages} | {a.id: a for a in read}
    return list(found.values()), f"{len(read)} read by SQLite, {len(found) - len(read)} more {how}"


def with_missing(items: Iterable[Article | Skipped], extra: list[Article]) -> Iterator[Article | Skipped]:
    """``items``, then the ``extra`` articles whose ids were not among them."""
    seen = set()
    for item in items:
        if isinstance(item, Article):
            seen.add(item.id)
        yield item
    yield from (a for a in extra if a.id not in seen)


def exchange(a: Path, b: Path) -> None:
    """Swap two folders in one step where the system can (Linux), else by three renames."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        errno = ctypes.get_errno()
        if errno not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: no exchange here; fall back below
            raise OSError(errno, os.strerror(errno), str(a))
    middle = a.with_name(a.name + ".swap")
    os.rename(a, middle)
    os.rename(b, a)
    os.rename(middle, b)


def remove_stale_staging(folder: Path) -> None:
    """Delete the unfinished copies of earlier rebuilds (called under the index-run lock, so none is running)."""
    for stale in folder.parent.glob(f"{folder.name}{STAGING}*"):
        shutil.rmtree(stale, ignore_errors=True)


def swap_in(staging: Path, folder: Path, timeout: float) -> Path | None:
    """Put the finished ``staging`` folder in the place of ``folder`` and keep the old one aside (returned).
    Other processes find a new generation number and reopen; one that waited on the old folder's lock notices
    that its lock file is no longer at its path and takes the new one's."""
    IndexFolder.of(staging).close()
    if not folder.exists():
        os.rename(staging, folder)
        return None
    handle = lock_folder(folder, timeout)
    try:
        IndexFolder.of(folder).close()
        try:
            generation = int((folder / GENERATION_FILE).read_text() or 0)
        except (OSError, ValueError):
            generation = 0
        (staging / GENERATION_FILE).write_text(str(generation + 1))
        carry_user_files(folder, staging)
        exchange(staging, folder)
    finally:
        release_lock(handle)
        handle.close()
    aside = folder.with_name(f"{folder.name}.damaged-{stamp()}")
    os.rename(staging, aside)  # staging now holds the old index
    return aside


def carry_user_files(old: Path, new: Path) -> None:
    """Move the conversations file (with its SQLite journal files) and the uploads from the old index folder into
    the new one: a rebuild replaces the index, not what the user keeps beside it."""
    from qa.settings import CONVERSATIONS_FILE, UPLOADS_FOLDER

    for name in (CONVERSATIONS_FILE, f"{CONVERSATIONS_FILE}-wal", f"{CONVERSATIONS_FILE}-shm", UPLOADS_FOLDER):
        if (old / name).exists() and not (new / name).exists():
            os.rename(old / name, new / name)


def rebuild_embedded(
    settings: Settings, open_store: OpenStore, embedder: Embedder, items: Iterable[Article | Skipped], **run
) -> IndexReport:
    """``Assistant.index(rebuild=True)`` for an embedded store: see the module's docstring. ``open_store`` opens
    the staging index with the loaded ``embedder`` (the model is loaded once)."""
    from qa.indexing import Indexer

    folder = Path(settings.index_dir).expanduser().absolute()
    with index_run_lock(folder):
        remove_stale_staging(folder)
        check_room(folder)
        salvaged, how = salvage(folder, settings.collection)
        log.warning("rebuilding the index with %d articles read from the old one (%s)", len(salvaged), how)
        staging = folder.with_name(f"{folder.name}{STAGING}{stamp()}")
        staged = settings.model_copy(update={"index_dir": staging})
        try:
            report = Indexer(open_store(staged), embedder, staged).run(with_missing(items, salvaged), **run)
        except BaseException:
            IndexFolder.of(staging).close()
            shutil.rmtree(staging, ignore_errors=True)  # the old index is untouched
            raise
        aside = swap_in(staging, folder, settings.lock_timeout)
    if aside:
        log.warning("moved the old index to %s", aside)
    return report


def rebuild_server(
    store: ArticleStore, open_store: OpenStore, embedder: Embedder, items: Iterable[Article | Skipped], **run
) -> IndexReport:
    """``Assistant.index(rebuild=True)`` on a Chroma server: new collections under a staging prefix, renamed into
    place when complete; the old ones are kept under ``<prefix>.old<time>``. ``store`` is the live one: reopen it
    after."""
    from qa.indexing import Indexer

    settings = store.settings
    with store.write_lock():  # the live prefix's lease: no index run meanwhile
        salvaged = list(store.complete_articles())
        log.warning("rebuilding the index with %d articles read from the old one (from %s)", len(salvaged),
                    settings.store_location)  # fmt: skip
        for name in (c.name for c in store.server.list_collections()):
            if name.startswith(f"{settings.collection[:26]}.rb"):
                store.server.delete_collection(name)  # an earlier rebuild's unfinished copy
        staging = f"{settings.collection[:26]}.rb{int(time.time())}"
        staged = settings.model_copy(update={"collection": staging})
        builder = open_store(staged)
        try:
            report = Indexer(builder, embedder, staged).run(with_missing(items, salvaged), **run)
        except BaseException:
            drop_collections(builder.server, staging)
            raise
        aside = f"{settings.collection[:26]}.old{int(time.time())}"
        builder.server.create_collection(swap_marker(settings.collection),
                                         metadata={"staging": staging, "aside": aside})  # fmt: skip
        finish_swap(store.server, settings.collection)
    log.warning("kept the old collections as %s-*", aside)
    return report
