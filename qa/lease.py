"""One index run at a time against a Chroma server: a lease that the server itself arbitrates.

Two ``qa index`` runs against one server would interleave the versions of an article (one run's text under the
other's hash). Chroma has no locks, but creating a collection whose name exists fails on the server, atomically:
so a run holds the lease by creating the collection ``<prefix>-lease``, with its holder and an expiry time in the
collection's metadata, renews it while it runs, and deletes it at the end. A run that finds a live lease fails at
once with ``IndexBusy`` naming the holder; one killed without deleting it leaves a lease that expires after
``LEASE_SECONDS`` and is then taken over. A holder that finds its lease gone or taken over stops before its next
write.

>>> with ServerLease(client, "articles-lease", "http://127.0.0.1:8000"):  # doctest: +SKIP
...     ...  # write
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

from qa.errors import IndexBusy

LEASE_SECONDS = 60.0


class ServerLease:
    def __init__(self, client, name: str, location: str, seconds: float = LEASE_SECONDS) -> None:
        self.client, self.name, self.location, self.seconds = client, name, location, seconds
        self.holder = f"process {os.getpid()} on {socket.gethostname()}, {uuid.uuid4().hex[:8]}"
        self._id = None
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> ServerLease:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        import chromadb.errors

        for _ in range(3):  # a lease that expired is deleted and taken: another run may get there first
            try:
                self._id = self.client.create_collection(self.name, metadata=self._metadata()).id
                break
            except chromadb.errors.ChromaError:  # the name exists: someone holds the lease, or held it
                current = self._current()
                if current is not None and float(current.metadata.get("expires", 0)) > time.time():
                    raise IndexBusy(f"another process is indexing into the Chroma server at {self.location} "
                                    f"({current.metadata.get('holder', 'unknown')}); wait for it to finish, then "
                                    "run `qa index` again") from None  # fmt: skip
                if current is not None:
                    self._delete_if(current.id)
        else:
            raise IndexBusy(f"could not take the index lease on the Chroma server at {self.location}; retry")
        self._renewer = threading.Thread(target=self._renew, name="qa-lease", daemon=True)
        self._renewer.start()

    def check(self) -> None:
        """Raise ``IndexBusy`` when the lease was lost (expired and taken over, or deleted): stop writing."""
        current = self._current()
        if self._lost.is_set() or current is None or current.id != self._id:
            self._lost.set()
            raise IndexBusy(f"this index run lost its lease on the Chroma server at {self.location} (another run "
                            "took it over); run `qa index` again")  # fmt: skip

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        if self._id is not None and not self._lost.is_set():
            self._delete_if(self._id)
        self._id = None

    def _metadata(self) -> dict:
        return {"holder": self.holder, "expires": time.time() + self.seconds}

    def _current(self):
        import chromadb.errors

        try:
            return self.client.get_collection(self.name)
        except chromadb.errors.NotFoundError:
            return None

    def _delete_if(self, lease_id) -> None:
        import chromadb.errors

        current = self._current()
        if current is not None and current.id == lease_id:
            try:
                self.client.delete_collection(self.name)
            except chromadb.errors.NotFoundError:
                pass

    def _renew(self) -> None:
        import chromadb.errors
        import httpx

        while not self._stop.wait(self.seconds / 4):
            try:
                current = self._current()
                if current is None or current.id != self._id:
                    self._lost.set()
                    return
                current.modify(metadata=self._metadata())
            except (chromadb.errors.ChromaError, httpx.HTTPError):  # a server briefly away: the next try says so
                continue
