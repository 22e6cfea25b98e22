"""Compaction of an embedded index that rewrites have bloated.

Chroma's HNSW graph only marks a deleted vector; it never reuses its slot. An index whose articles are updated
again and again therefore grows without end (a red-team run: 12,256 vector slots for 500 live chunks). After an
index run, a vector collection with more dead slots than live ones and at least ``MIN_DEAD`` of them is copied
into a fresh collection, which is then renamed into place through the same crash-safe swap a server rebuild uses
(``qa.rebuild.finish_swap``): a copy cut short is deleted by the next compaction, a swap cut short is finished by
the next process that opens the store.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from contextlib import closing

from qa.collection_swap import drop_collections, finish_swap, swap_marker
from qa.integrity import _HEADER, DATABASE

log = logging.getLogger("qa")
MIN_DEAD = 1000
_PAGE = 1000


def vector_slots(folder) -> dict[str, int]:
    """HNSW slots (live and deleted) on disk, by collection name."""
    with closing(sqlite3.connect(f"file:{folder / DATABASE}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT c.name, s.id FROM segments s JOIN collections c ON c.id = s.collection "
                          "WHERE s.scope = 'VECTOR'").fetchall()  # fmt: skip
    slots = {}
    for name, segment in rows:
        header = folder / segment / "header.bin"
        if header.is_file() and header.stat().st_size >= _HEADER.size:
            slots[name] = _HEADER.unpack_from(header.read_bytes())[3]  # cur_element_count
    return slots


def remove_orphan_segments(folder) -> None:
    """Delete the vector folders of collections that no longer exist: Chroma leaves them behind."""
    with closing(sqlite3.connect(f"file:{folder / DATABASE}?mode=ro", uri=True)) as db:
        known = {row[0] for row in db.execute("SELECT id FROM segments")}
    for segment in folder.iterdir():
        if segment.is_dir() and (segment / "header.bin").is_file() and segment.name not in known:
            shutil.rmtree(segment, ignore_errors=True)


def compact_if_bloated(store) -> list[str]:
    """Compact the store's vector collections that hold more dead slots than live vectors; the names compacted.
    Called by an index run, under its lock: nothing else writes meanwhile."""
    if store.server is not None:
        return []  # the server's files are out of reach
    prefix = store.settings.collection
    with store.using():
        slots = vector_slots(store.folder)
        live = {"chunks": store.chunks.count(), "sentences": store.sentences.count()}
    bloated = [s for s, n in live.items() if slots.get(f"{prefix}-{s}", 0) - n >= max(n, MIN_DEAD)]
    if not bloated:
        return []
    staging, aside = f"{prefix}.compact", f"{prefix}.compacted"
    client = store.client
    drop_collections(client, staging)  # a copy cut short before
    drop_collections(client, aside)
    for suffix in bloated:
        _copy(store, getattr(store, suffix), client.create_collection(
            f"{staging}-{suffix}", embedding_function=store.embedding_function, configuration={"hnsw": store.hnsw},
            metadata=getattr(store, suffix).metadata))  # fmt: skip
    with store.using():
        store.folder_will_write()
        client.create_collection(swap_marker(prefix), metadata={"staging": staging, "aside": aside})
        finish_swap(client, prefix)
        drop_collections(client, aside)
        store.reopen_collections()
        remove_orphan_segments(store.folder)
    log.warning("compacted the index's %s (%s)", " and ".join(bloated),
                ", ".join(f"{slots[f'{prefix}-{s}']:,} slots for {live[s]:,} vectors" for s in bloated))  # fmt: skip
    return bloated


def _copy(store, source, target) -> None:
    """Every record of ``source`` into ``target``, a page at a time (each page under the store lock)."""
    offset = 0
    while True:
        with store.using():
            got = source.get(limit=_PAGE, offset=offset, include=["embeddings", "metadatas", "documents"])
            if not got["ids"]:
                return
            store.folder_will_write()
            target.add(ids=got["ids"], embeddings=got["embeddings"], metadatas=got["metadatas"],
                       documents=got["documents"] if any(d is not None for d in got["documents"]) else None)  # fmt: skip
        offset += len(got["ids"])
