"""Article records read back from a damaged ``chroma.sqlite3`` page by page, without SQLite.

``qa.integrity.salvage_articles`` reads the records with one SQL query: one damaged page on its way (a zeroed
header, a truncated file, a garbage ``-journal`` that SQLite will not open the file without) and it keeps none.
qa.sqlite_pages reads the file format itself (https://www.sqlite.org/fileformat2.html), in pure Python:
``recover_rows`` walks every page of the file and yields every row of every table leaf page that still parses,
skipping what does not, and ``salvage_articles_from_pages`` puts Chroma's article records back together from
those rows, without the schema table (``sqlite_master``, page 1, may be the damaged page).

A record's rows are told apart by their shape (see ``_metadata_row`` and the others below). Every article
record carries the hash of its content (``Article.content_hash``: id, text and metadata), so each article put
back together is checked against it: damage never turns into a wrong text, title or id (only the origin, the
file an article was read from, is not covered; one that does not decode is dropped). Damage that leaves a record
parseable but wrong is common (a changed byte of text is still text), so a record that fails its hash is left
out, never returned as it was read.

The file is read a block of pages at a time (overflow pages one at a time), so memory holds the article
records found, not the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from qa.articles import Article
from qa.sqlite_pages import PageReader, recover_rows  # noqa: F401 (recover_rows: importable from here, as before)

DATABASE = "chroma.sqlite3"
PENDING = "pending:"  # qa.store.PENDING (not imported: qa.store loads Chroma)
DOCUMENT = "chroma:document"
FIELDS = ("title", "source", "author", "published", "url", "origin", "page_starts")  # qa.store.RECORD_FIELDS


# --- Chroma's tables, told apart by the shape of their rows -----------------------------------------------


def _metadata_row(values: list) -> tuple[int, str, str | None] | None:
    """embedding_metadata (and embedding_metadata_array): id (the embeddings row), key, string_value,
    int_value, float_value, bool_value -> (id, key, string_value)."""
    if len(values) != 6 or type(values[0]) is not int or type(values[1]) is not str:
        return None
    if type(values[2]) not in (str, type(None)) or any(type(v) not in (int, float, type(None)) for v in values[3:]):
        return None
    return values[0], values[1], values[2]


def _embeddings_row(values: list) -> tuple[str, str] | None:
    """embeddings: id (the rowid: stored as NULL), segment_id, embedding_id, seq_id, created_at ->
    (segment_id, embedding_id)."""
    if len(values) != 5 or values[0] is not None or not all(type(v) is str for v in (values[1], values[2], values[4])):
        return None
    return (values[1], values[2]) if type(values[3]) in (int, bytes) and len(values[1]) == 36 else None


def _segments_row(values: list) -> tuple[str, str, str] | None:
    """segments: id, type ('urn:chroma:segment/...'), scope, collection -> (id, scope, collection)."""
    if len(values) != 4 or not all(type(v) is str for v in values) or not values[1].startswith("urn:chroma:segment/"):
        return None
    return values[0], values[2], values[3]


def _collections_row(values: list) -> tuple[str, str] | None:
    """collections: id, name, dimension, database_id, config_json_str, schema_str -> (id, name)."""
    if len(values) != 6 or not all(type(v) is str for v in (values[0], values[1], values[3])):
        return None
    return (values[0], values[1]) if type(values[2]) in (int, type(None)) and len(values[0]) == 36 else None


def _queue_row(values: list) -> tuple[str, str] | None:
    """embeddings_queue (Chroma's write log): seq_id (the rowid: stored as NULL), created_at, operation, topic,
    id, vector, encoding, metadata (JSON) -> (id, content hash) for a logged article record write."""
    if len(values) != 8 or values[0] is not None or type(values[4]) is not str or type(values[7]) is not str:
        return None
    if '"content_hash"' not in values[7] or len(values[7]) > 4096:
        return None
    try:
        content_hash = json.loads(values[7]).get("content_hash")
    except (ValueError, AttributeError):
        return None
    return (values[4], content_hash.removeprefix(PENDING)) if type(content_hash) is str else None


def _document_row(values: list) -> str | None:
    """embedding_fulltext_search_content: id (the embeddings row: stored as NULL), c0 (the document)."""
    return values[1] if len(values) == 2 and values[0] is None and type(values[1]) is str else None


# --- article records ---------------------------------------------------------------------------------------


class _Scan:
    """What the passes over the file learn; only article records' values are held."""

    def __init__(self, reader: PageReader) -> None:
        self.reader = reader
        self.collections: dict[str, str] = {}  # collection id -> name
        self.segments: dict[str, tuple[str, str]] = {}  # segment id -> (scope, collection id)
        self.records: set[int] = set()  # embeddings ids whose metadata has a content_hash: article records
        self.versions: dict[str, set[str]] = {}  # first 8 of a content hash -> article ids of chunks carrying it
        self.logged: dict[str, set[str]] = {}  # content hash -> ids of article records logged with it
        self.values: dict[int, dict[str, tuple[int, str]]] = {}  # record -> key -> (rowid, value), newest row
        self.ids: dict[int, list[str]] = {}  # record -> embedding ids (normally one)
        self.segment_of: dict[int, list[str]] = {}
        self.documents: dict[int, list[str]] = {}  # record -> full-text-search copies of its document

    def find_records(self) -> None:
        """Pass 1 (the first part of each row only): collections, segments, which records are articles, and
        the ids that chunks name with their article's version and that Chroma's write log names with a content
        hash (to identify a record whose embeddings row is lost)."""
        for _, rows in self.reader.pages(local_only=True):
            chunks: dict[int, dict[str, str]] = {}
            for _, values in rows:
                if row := _metadata_row(values):
                    if row[1] == "content_hash":
                        self.records.add(row[0])
                    elif row[1] in ("version", "article_id") and type(row[2]) is str:
                        chunks.setdefault(row[0], {})[row[1]] = row[2]
                elif row := _queue_row(values):
                    self.logged.setdefault(row[1], set()).add(row[0])
                elif row := _segments_row(values):
                    self.segments[row[0]] = row[1:]
                elif row := _collections_row(values):
                    self.collections[row[0]] = row[1]
            # A chunk's metadata rows are written together, so they share a page (or all but a few chunks do).
            for meta in chunks.values():
                if len(meta) == 2:
                    self.versions.setdefault(meta["version"], set()).add(meta["article_id"])

    def read_records(self) -> None:
        """Pass 2: the article records' metadata and documents, and their embeddings rows (their ids)."""
        wanted = {DOCUMENT, "content_hash", "written_hash", "article_id", *FIELDS}
        for rowid, values in self.reader.rows():
            if (row := _metadata_row(values)) and row[0] in self.records:
                held = self.values.setdefault(row[0], {})
                if row[1] in wanted and row[2] is not None and rowid >= held.get(row[1], (rowid,))[0]:
                    held[row[1]] = (rowid, row[2])  # a stale copy of a row loses to the newer row
            elif rowid in self.records and (row := _embeddings_row(values)):
                self.segment_of.setdefault(rowid, []).append(row[0])
                self.ids.setdefault(rowid, []).append(row[1])

    def read_documents(self, records: set[int]) -> None:
        """Pass 3, for records whose own document is missing or damaged: the full-text index's copy."""
        for rowid, values in self.reader.rows():
            if rowid in records and (text := _document_row(values)) is not None:
                self.documents.setdefault(rowid, []).append(text)

    def foreign(self, record: int, collection: str) -> bool:
        """Whether a record is known to belong to another collection than ``<collection>-articles``: its
        embeddings row names a segment of a collection of another name, or it has no embeddings row and the
        folder holds several article collections."""
        name = f"{collection}-articles"
        segments = self.segment_of.get(record)
        if not segments:
            return any(n.endswith("-articles") and n != name for n in self.collections.values())
        names = {self.collections.get(self.segments.get(s, ("", ""))[1]) for s in segments}
        return None not in names and name not in names  # every segment's collection is known, none is ours

    def candidates(self, record: int) -> list[str]:
        """Ids the record may have: its embeddings row's, its own ``article_id``, those the write log and its
        chunks name, and the name of the file it came from; its content hash tells which (if any) is right."""
        values = {k: v for k, (_, v) in self.values.get(record, {}).items()}
        found = [*self.ids.get(record, []), values.get("article_id")]
        content_hash = values.get("content_hash", "")
        found += sorted(self.logged.get(content_hash, ())) + sorted(self.versions.get(content_hash[:8], ()))
        if values.get("origin"):
            found.append(Path(values["origin"].split(":")[0]).stem)
        return list(dict.fromkeys(i for i in found if i))

    def article(self, record: int, text: str | None = None) -> Article | None:
        """The record as an article whose content hash matches the one it was stored with, else None."""
        values = {k: v for k, (_, v) in self.values.get(record, {}).items()}
        text = values.get(DOCUMENT) if text is None else text
        if text is None:
            return None
        for article_id in self.candidates(record):
            try:
                article = Article(id=article_id, text=text, **{k: values.get(k, "") for k in FIELDS})
            except ValidationError:
                continue
            if article.content_hash == values.get("content_hash"):
                # The hash leaves out the origin (where the file was read from): one that did not decode is dropped.
                return article.model_copy(update={"origin": ""}) if "\ufffd" in article.origin else article
        return None


def salvage_articles_from_pages(path: Path | str, collection: str) -> tuple[list[Article], str]:
    """Every completely written article of ``<collection>-articles`` that can still be read, page by page, from
    a Chroma database (``path``: the file or its index folder), and one line on how they were read.

    Never raises for damage or a missing file (it returns no articles and says why). An article is returned
    only when its id, text and metadata match the content hash stored with it; when the same article was found
    more than once (a stale copy of a page), the newest record wins.
    """
    path = Path(path)
    path = path / DATABASE if path.is_dir() else path
    try:
        scan = _Scan(PageReader(path))
        scan.find_records()
        scan.read_records()
        articles, counts = _assemble(scan, collection)
    except OSError as exc:  # the file is gone or unreadable as a whole (a bad page is only skipped)
        return [], f"could not read {path} ({exc.strerror or exc})"
    return articles, _summary(scan, counts)


def _assemble(scan: _Scan, collection: str) -> tuple[list[Article], dict[str, int]]:
    counts = {"incomplete writes": 0, "of other collections": 0, "not readable intact": 0}
    found: dict[str, tuple[int, Article]] = {}  # article id -> (record, article): the newest record wins
    failed = []
    for record in scan.values:
        if _incomplete(scan.values[record]):
            counts["incomplete writes"] += 1
        elif scan.foreign(record, collection):
            counts["of other collections"] += 1
        elif article := scan.article(record):
            found[article.id] = max(found.get(article.id, (record, article)), (record, article), key=_first)
        else:
            failed.append(record)
    if failed:  # their documents may survive in the full-text index
        scan.read_documents(set(failed))
        for record in failed:
            article = next(filter(None, (scan.article(record, t) for t in scan.documents.get(record, []))), None)
            if article:
                found[article.id] = max(found.get(article.id, (record, article)), (record, article), key=_first)
            else:
                counts["not readable intact"] += 1
    return [article for _, article in found.values()], counts


def _first(pair: tuple) -> object:
    return pair[0]


def _incomplete(values: dict[str, tuple[int, str]]) -> bool:
    """An interrupted write (``pending:`` hash), or one whose hash another run set after this text was written
    (``written_hash``, the hash of the text written, differs): both are indexed again from their files."""
    content_hash = values.get("content_hash", (0, ""))[1]
    written = values.get("written_hash", (0, content_hash))[1]
    return not content_hash or content_hash.startswith(PENDING) or written != content_hash


def _summary(scan: _Scan, counts: dict[str, int]) -> str:
    left = [f"{n:,} {what}" for what, n in counts.items() if n]
    line = f"read page by page from {scan.reader.path.name} ({scan.reader.describe()})"
    if left:
        line += f"; left out {', '.join(left)}"
    return line
