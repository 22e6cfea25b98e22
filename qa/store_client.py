"""How the store reaches Chroma: a client of a Chroma server, ``StoreCollection``, the wrapper through which
every collection call of the store goes (holding the store, and turning a lost server or damage into one typed,
one-line error), and ``ChromaEmbeddingFunction``, our embedder as Chroma sees it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import urlparse

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from qa.embeddings import DEFAULT_EMBEDDING_MODEL, Embedder
from qa.errors import StoreUnavailable
from qa.integrity import SQLITE_BUGS, storage_error, store_failures
from qa.locks import chroma_settings

PAGE = 5000  # records one collection.get asks for at most


def connect_server(url: str):
    """A client of the Chroma server at ``url``, with a clear error when it cannot be reached."""
    import chromadb
    import chromadb.errors
    import httpx

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise StoreUnavailable(f"QA_CHROMA_URL must look like http://HOST:PORT, not {url!r}")
    try:
        client = chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            headers={"Authorization": f"Bearer {os.environ['CHROMA_TOKEN']}"} if "CHROMA_TOKEN" in os.environ else None,
            settings=chroma_settings(),
        )
        client.heartbeat()
    # chromadb's HttpClient reports a server it cannot reach as a ValueError ("Could not connect to a Chroma
    # server"); the heartbeat raises httpx's transport errors or Chroma's own
    except (ValueError, OSError, httpx.HTTPError, chromadb.errors.ChromaError) as exc:
        raise StoreUnavailable(
            f"cannot reach the Chroma server at {url} ({exc.__class__.__name__}); "
            "start it with `chroma run --path index --host 127.0.0.1 --port 8000` or unset QA_CHROMA_URL"
        ) from None
    return client


class StoreCollection:
    """A Chroma collection of the store whose every call holds the store (``ArticleStore.using``), so the
    collection is always the current one; a write first marks other processes' views out of date. On a server,
    a lost connection becomes ``StoreUnavailable`` (one line for the CLI and the UI) instead of an httpx
    traceback; the client reconnects by itself once the server is back."""

    _WRITES = frozenset({"add", "upsert", "update", "delete", "modify"})

    def __init__(self, store, name: str) -> None:  # store: the qa.store.ArticleStore it belongs to
        self._store, self._name = store, name

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        with self._store.using():
            value = getattr(self._store._collections[self._name], attr)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            import chromadb.errors
            import httpx

            with self._store.using():
                if attr in self._WRITES and self._store._folder is not None:
                    self._store._folder.will_write()
                try:
                    return getattr(self._store._collections[self._name], attr)(*args, **kwargs)
                except httpx.TransportError as exc:
                    raise StoreUnavailable(
                        f"lost the Chroma server at {self._store.settings.chroma_url} ({exc.__class__.__name__}); "
                        "start it again and retry: articles indexed before are kept"
                    ) from exc
                except (chromadb.errors.ChromaAuthError, chromadb.errors.AuthorizationError) as exc:
                    raise StoreUnavailable(
                        f"the Chroma server at {self._store.settings.chroma_url} refused access "
                        f"({exc.__class__.__name__}); set CHROMA_TOKEN to a token it accepts"
                    ) from exc
                except SQLITE_BUGS:  # a bug in the SQL or its caller, not damage: as itself
                    raise
                except store_failures() as exc:
                    if attr in self._WRITES:
                        raise  # a failed write: the indexer says what to do (``ArticleStore._writing``)
                    raise storage_error(self._store.settings.store_location, exc) from exc

        return call


def pages_of(collection, include: list[str], *, ids: Sequence[str] | None = None, where: dict | None = None):
    """``collection.get`` a page at a time, as (ids, the first included field, metadatas)."""
    for got in gets_of(collection, include, ids=ids, where=where):
        n = len(got["ids"])
        first = got.get(include[0]) if include and include[0] != "metadatas" else None
        yield got["ids"], [None] * n if first is None else first, got.get("metadatas") or [{}] * n


def gets_of(collection, include: list[str], *, ids: Sequence[str] | None = None, where: dict | None = None):
    """``collection.get`` a page at a time. Chroma turns every id asked for or returned into SQL variables
    and fails past about 32,000 ("too many SQL variables"): a 20 MB article has more chunks than that."""
    if ids is not None:
        ids = list(ids)
        for lo in range(0, len(ids), PAGE):
            yield collection.get(ids=ids[lo : lo + PAGE], include=include)
        return
    offset = 0
    while True:
        got = collection.get(where=where, limit=PAGE, offset=offset, include=include)
        if not got["ids"]:
            return
        yield got
        offset += len(got["ids"])


class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Hands Chroma our embedder, so Chroma never falls back to its own (downloading) default."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.encode(list(input)))

    @staticmethod
    def name() -> str:
        return "article-qa-sentence-transformers"

    def get_config(self) -> dict:
        return {"model": self.embedder.model_name}

    @staticmethod
    def build_from_config(config: dict) -> ChromaEmbeddingFunction:
        return ChromaEmbeddingFunction(Embedder(config.get("model", DEFAULT_EMBEDDING_MODEL)))
