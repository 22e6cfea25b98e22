"""Collections renamed into place on a Chroma server: a finished rebuild's or compaction's staging collections
become the live ones, as a marker collection says, so a swap killed between renames is completed by the next
client that opens the index. The store, rebuilds and compaction use it; it imports none of them."""

from __future__ import annotations

SUFFIXES = ("chunks", "sentences", "articles")


def swap_marker(prefix: str) -> str:
    return f"{prefix}-swap"


def finish_swap(client, prefix: str, before=lambda: None) -> None:
    """Rename a finished rebuild's (or compaction's) collections into place, as its marker says; idempotent, so
    any client that finds a marker (a swap killed between renames) completes it before it reads. ``before`` is
    called before the first rename."""
    import chromadb.errors

    try:
        marker = client.get_collection(swap_marker(prefix))
    except chromadb.errors.NotFoundError:
        return
    before()
    names = {c.name for c in client.list_collections()}
    staging, aside = marker.metadata["staging"], marker.metadata["aside"]
    for suffix in SUFFIXES:
        live, new, old = f"{prefix}-{suffix}", f"{staging}-{suffix}", f"{aside}-{suffix}"
        if new not in names:
            continue  # renamed already
        if live in names:
            client.get_collection(live).modify(name=old)
        client.get_collection(new).modify(name=live)
    client.delete_collection(swap_marker(prefix))


def drop_collections(client, prefix: str) -> None:
    """Delete an unfinished rebuild's collections."""
    names = {c.name for c in client.list_collections()}
    for name in (f"{prefix}-{suffix}" for suffix in SUFFIXES):
        if name in names:
            client.delete_collection(name)
