"""Articles removed for good, and the stamp that tells clients the article records changed: the part of
``qa.store.ArticleStore`` that keeps tombstones (a title and the time of removal) in a collection of their own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from qa.records import PENDING

# Chroma keeps no embedding-free records, so article records (and tombstones) carry this constant 1-d vector.
RECORD_VECTOR = [1.0]


class RemovedArticles:
    """Mixed into ArticleStore (whose collections, lock and lease these methods use)."""

    def remove_articles(self, tombstones: dict[str, dict]) -> None:
        """Delete articles for good, remembering each one's tombstone (``{"title": ..., "removed": ISO time}``).

        Call under ``write_lock``. The order keeps an interrupted removal safe: the tombstones first, then each
        record is marked ``pending:`` (so the next index run deletes whatever is left of it), then the chunks and
        sentences, then the records."""
        ids = list(tombstones)
        if not ids:
            return
        if self._lease:
            self._lease.check()
        with self._writing(), self.using():
            self._stamp_records()
            self._tombstone_collection(create=True)
            self.removed.upsert(ids=ids, embeddings=[RECORD_VECTOR] * len(ids), metadatas=list(tombstones.values()))
            self.records.update(ids=ids, metadatas=[{"content_hash": PENDING + "removed"}] * len(ids))
            self._delete_parts(ids)
            self.records.delete(ids=ids)
            self._stamp_records()

    def tombstones(self, article_ids: Sequence[str]) -> dict[str, dict]:
        """The tombstones of those of these articles that were removed (title, removed), by article id."""
        with self.using():
            if not article_ids or self._tombstone_collection() is None:
                return {}
            got = self.removed.get(ids=list(article_ids), include=["metadatas"])
        return dict(zip(got["ids"], got["metadatas"]))

    def records_version(self) -> str | None:
        """A value that changes whenever article records are written or deleted: the folder's generation
        (embedded), or on a server the records collection's id and the stamp its last writer left in its metadata
        (``_stamp_records``; one small request). None when the server has no records collection yet."""
        if self._server is None:
            return str(self.generation)
        import chromadb.errors

        try:
            found = self._server.get_collection(
                f"{self.settings.collection}-articles", embedding_function=self._function
            )
        except chromadb.errors.NotFoundError:
            return None
        return f"{found.id}:{(found.metadata or {}).get('written', '')}"

    def _stamp_records(self) -> None:
        """On a server, a new stamp in the records collection's metadata before and after each write (a writer
        that dies midway changes it too), so that a client's cached list of articles (``qa.library.Catalogue``)
        and its search file (``qa.search_sync``) see another client's writes (an embedded folder has its
        generation for that)."""
        if self._server is not None:
            self.records.modify(metadata={"written": os.urandom(8).hex()})

    def _tombstone_collection(self, create: bool = False):
        """The collection of tombstones, created by the first removal (so an index never written to by a removal
        has none, and a rebuild's staging store makes none). Looked up again while absent: another client may
        have created it since. None while there is none and ``create`` is false."""
        import chromadb.errors

        with self.using():
            if "removed" not in self._collections:
                name = f"{self.settings.collection}-removed"
                try:
                    if create:
                        self.folder_will_write()
                        found = self.client.get_or_create_collection(name, embedding_function=self._function)
                    else:
                        found = self.client.get_collection(name, embedding_function=self._function)
                except chromadb.errors.NotFoundError:
                    return None
                self._collections["removed"] = found
            return self._collections["removed"]
