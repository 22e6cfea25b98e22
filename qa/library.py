"""The article library: which articles are indexed (listed, searched, filtered, paged) and their removal.

A removed article leaves a tombstone (its id, title and when) in a small collection beside the others
(``ArticleStore.remove_articles``), on an embedded index and on a Chroma server alike, so an old citation id of it
says that it was removed, and when, instead of "no article". Indexing the article again clears its tombstone.

>>> page = Assistant().list_articles(search="nato", limit=20)  # doctest: +SKIP
>>> page.total, [a.title for a in page.items]                  # doctest: +SKIP
>>> Assistant().remove(["000_f84ba1bb2755896e"]).removed       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, Field

from qa.articles import UPLOAD_PREFIX, date_ordinal
from qa.citations import clipped
from qa.errors import IndexBusy, UsageError
from qa.store import CHUNK_COUNT, RECORD_FIELDS, ArticleStore

log = logging.getLogger("qa")
MAX_PAGE = 1000  # articles one call lists at most
_LINE_SUFFIX = re.compile(r":\d+$")  # a JSONL article's origin is its file and line


class ArticleSummary(BaseModel):
    """One indexed article as the library lists it."""

    id: str
    title: str = ""
    source: str = Field("", description="Publisher.")
    author: str = ""
    published: str = Field("", description="ISO date (YYYY, YYYY-MM or YYYY-MM-DD) or empty.")
    url: str = ""
    origin: str = Field("", description="The file (and line), or web address, the article was read from.")
    chunks: int = Field(0, description="How many passages (chunks) of it are indexed.")

    @property
    def file_name(self) -> str:
        """The origin's file name only (never the folders above it: they are the server's business)."""
        return Path(_LINE_SUFFIX.sub("", self.origin)).name if self.origin else ""


class LibraryPage(BaseModel):
    """One page of the list: ``total`` articles match, ``items`` are those of the page, newest first."""

    total: int
    items: list[ArticleSummary]


class NotRemoved(BaseModel):
    id: str
    reason: str = Field(description='One line: "no article with id ..." or "... was already removed on ...".')


class RemovalReport(BaseModel):
    removed: list[ArticleSummary] = Field(default_factory=list)
    missing: list[NotRemoved] = Field(default_factory=list)
    files_deleted: list[str] = Field(default_factory=list, description="Uploaded files deleted (names only).")


def removed_line(article_id: str, tombstone: dict, already: bool = False) -> str:
    """``article 'X' ("Title") was removed from the index on 2026-12-07`` (``already``: "was already removed")."""
    title = f' ("{clipped(tombstone["title"])}")' if tombstone.get("title") else ""
    return (f"article {clipped(article_id)!r}{title} was {'already ' if already else ''}removed from the index on "
            f"{tombstone.get('removed', '')[:10]}")  # fmt: skip


class _Entry(NamedTuple):
    """An article as the catalogue keeps it: cheap to build and filter (a summary is made for a shown page only)."""

    id: str
    meta: dict
    published: int  # date_ordinal of its date, 0 when unknown
    haystack: str  # what a search looks in, case-folded


class Catalogue:
    """Every article, sorted for the list, read from the store's records in one pass, and kept until the records
    change (``ArticleStore.records_version``: any process wrote)."""

    def __init__(self, store: ArticleStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._generation: str | None = None  # ArticleStore.records_version of the cached list
        self._entries: list[_Entry] | None = None

    def entries(self) -> list[_Entry]:
        """All articles, newest published first (undated last), then by title and id."""
        with self._lock:
            generation = self.store.records_version()
            if generation is None or generation != self._generation or self._entries is None:
                entries = [_entry(i, m) for i, m in self.store.article_records(_LISTED_KEYS).items()]
                entries.sort(key=lambda e: (-e.published, str(e.meta.get("title") or "").casefold(), e.id))
                self._entries, self._generation = entries, generation
            return self._entries

    def page(self, search: str, sources: Sequence[str], published_from: date | None, published_to: date | None,
             offset: int, limit: int) -> LibraryPage:  # fmt: skip
        if offset < 0 or not 0 < limit <= MAX_PAGE:
            raise UsageError(f"the offset must be 0 or more and the limit 1 to {MAX_PAGE}")
        if published_from and published_to and published_from > published_to:
            raise UsageError(f"--from {published_from} is after --to {published_to}")
        needle, wanted = search.strip().casefold(), set(sources)
        low = date_ordinal(published_from) if published_from else None
        high = date_ordinal(published_to) if published_to else None
        matching = [e for e in self.entries()
                    if (not needle or needle in e.haystack) and (not wanted or e.meta.get("source") in wanted)
                    and (low is None or e.published >= low) and (high is None or 0 < e.published <= high)]  # fmt: skip
        shown = [_summary(e.id, e.meta) for e in matching[offset : offset + limit]]
        _count_chunks(self.store, [a for a in shown if a.chunks < 0])
        return LibraryPage(total=len(matching), items=shown)

    def forget(self, article_ids: set[str], before: str | None) -> None:
        """Drop removed articles from the cached list, when it was current at generation ``before`` (the removal
        was the only write since): the next call need not read every record again."""
        with self._lock:
            if self._entries is not None and before is not None and self._generation == before:
                self._entries = [e for e in self._entries if e.id not in article_ids]
                self._generation = self.store.records_version()

    def sources(self) -> list[str]:
        """Every publisher, sorted."""
        return sorted({e.meta["source"] for e in self.entries() if e.meta.get("source")}, key=str.casefold)


_LISTED_KEYS = (*RECORD_FIELDS, CHUNK_COUNT)  # what the list shows and searches (the catalogue keeps them)


def _entry(article_id: str, meta: dict) -> _Entry:
    title, source, url, origin = (str(meta.get(k) or "") for k in ("title", "source", "url", "origin"))
    name = Path(_LINE_SUFFIX.sub("", origin)).name if origin else ""
    return _Entry(
        article_id,
        meta,
        date_ordinal(str(meta.get("published") or "")),
        f"{title}\n{source}\n{article_id}\n{url}\n{name}".casefold(),
    )


def _summary(article_id: str, meta: dict) -> ArticleSummary:
    chunks = meta.get(CHUNK_COUNT)
    return ArticleSummary(id=article_id, **{k: str(meta.get(k) or "") for k in RECORD_FIELDS},
                          chunks=chunks if isinstance(chunks, int) else -1)  # fmt: skip


def _count_chunks(store: ArticleStore, articles: list[ArticleSummary]) -> None:
    """Chunk counts for records written before they carried one (``CHUNK_COUNT``): counted from the chunks' ids,
    for the articles of one page only."""
    if not articles:
        return
    counts: Counter[str] = Counter()
    for page in store.chunks_of([a.id for a in articles]):
        counts.update(m["article_id"] for m in page.metas)
    for a in articles:
        a.chunks = counts[a.id]


# --- removal ---------------------------------------------------------------------------------------------


def remove_articles(
    store: ArticleStore, catalogue: Catalogue, article_ids: Sequence[str], index_lock: threading.Lock,
    upload_folder: Path, on_removed: Callable[[], None],
) -> RemovalReport:  # fmt: skip
    """Remove articles for good: chunks, sentences, record, the BM25 copy's share, and an uploaded file (see
    ``Assistant.remove``). Held under ``index_lock`` (this process's index runs) and the store's write lock, so no
    index run writes meanwhile; ``on_removed`` is called once articles are gone (the BM25 index is read again)."""
    ids = list(dict.fromkeys(a.strip() for a in article_ids if a and a.strip()))
    if not ids:
        raise UsageError("name at least one article id to remove")
    if not index_lock.acquire(blocking=False):
        raise IndexBusy("an index run of this process is writing to the index; remove the articles when it is done")
    try:
        try:
            with store.write_lock():
                report = _remove(store, catalogue, ids, upload_folder, on_removed)
        except IndexBusy as exc:  # the message tells how to index again: say what it means for a removal
            raise IndexBusy(f"{str(exc).split(';')[0]}; remove the articles when it is done") from None
    finally:
        index_lock.release()
    return report


def _remove(
    store: ArticleStore, catalogue: Catalogue, ids: list[str], upload_folder: Path, on_removed: Callable[[], None]
) -> RemovalReport:
    from qa.compaction import compact_if_bloated

    found = store.records.get(ids=ids, include=["metadatas"])
    summaries = {i: _summary(i, m) for i, m in zip(found["ids"], found["metadatas"])}
    report = RemovalReport(removed=[summaries[i] for i in ids if i in summaries])
    missing = [i for i in ids if i not in summaries]
    gone = store.tombstones(missing)
    report.missing = [NotRemoved(id=i, reason=removed_line(i, gone[i], already=True) if i in gone
                                 else f"no article with id {clipped(i)!r} in the index") for i in missing]  # fmt: skip
    if not report.removed:
        return report
    when = datetime.now(UTC).isoformat(timespec="seconds")
    before = store.records_version()
    store.remove_articles({a.id: {"title": a.title, "removed": when} for a in report.removed})
    catalogue.forget({a.id for a in report.removed}, before)
    on_removed()
    report.files_deleted = _delete_uploads(store, upload_folder, report.removed)
    compact_if_bloated(store)  # deleted vectors leave dead slots, as rewrites do
    return report


def _delete_uploads(store: ArticleStore, upload_folder: Path, removed: list[ArticleSummary]) -> list[str]:
    """Delete the uploaded files the removed articles came from, unless another indexed article still comes from
    the same file (a JSONL upload holds several)."""
    folder = upload_folder.expanduser().resolve()
    files = {}
    for a in removed:
        path = Path(_LINE_SUFFIX.sub("", a.origin)) if a.origin else None
        if a.id.startswith(UPLOAD_PREFIX) and path and path.resolve().parent == folder:
            files[path.resolve()] = a.origin != _LINE_SUFFIX.sub("", a.origin)
    if any(files.values()):  # a JSONL upload: is any of its articles still indexed?
        still = {Path(_LINE_SUFFIX.sub("", m.get("origin", ""))).resolve()
                 for m in store.article_records(["origin"]).values() if m.get("origin")}  # fmt: skip
        files = {p: several for p, several in files.items() if p not in still}
    deleted = []
    for path in files:
        try:
            path.unlink()
            deleted.append(path.name)
        except FileNotFoundError:
            pass
        except OSError as exc:  # the article is removed all the same; the file is only a copy of the upload
            log.warning("could not delete the uploaded file %s (%s)", path.name, exc.strerror)
    return deleted


def reindex_inputs(articles: Sequence[ArticleSummary], upload_folder: Path) -> tuple[list[str], list[str], list[str]]:
    """What re-reads these articles: (uploaded files, to index with ``UPLOAD_PREFIX``; other files and web
    addresses), and one line for each article that cannot be re-read here: one line of a JSONL file (indexing the
    file again would bring back its other articles, removed or not: ``qa index FILE`` does that on purpose), or a
    file that is gone."""
    from qa.web import is_url

    uploads, others, lines = {}, {}, []
    folder = upload_folder.expanduser().resolve()
    for a in articles:
        if is_url(a.origin):
            others[a.origin] = None
        elif not a.origin or a.origin != _LINE_SUFFIX.sub("", a.origin):
            lines.append(f"{a.title or a.id}: read from a JSONL file; index the file again with `qa index`")
        elif not Path(a.origin).is_file():
            lines.append(f"{a.title or a.id}: its file {a.file_name} is no longer there")
        elif a.id.startswith(UPLOAD_PREFIX) and Path(a.origin).resolve().parent == folder:
            uploads[a.origin] = None
        else:
            others[a.origin] = None
    return list(uploads), list(others), lines
