"""Chunk metadata as a view holds it: typed on first use when read from a saved view, and one
field read across every chunk without typing them all (a saved view's raw values, a layered
view's base then its changes)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bot import layered
from index.records import ChunkMeta

__all__ = ["LazyMeta", "field_counts", "field_equals", "field_items", "replaced"]


class LazyMeta(Mapping[str, ChunkMeta]):
    """Chunk metadata read from a saved view, typed on first use (a server start need not
    build 100k records before its first question)."""

    def __init__(self, raw: dict[str, dict[str, Any]]) -> None:
        self._raw = raw
        self._typed: dict[str, ChunkMeta] = {}

    def __getitem__(self, chunk_id: str) -> ChunkMeta:
        typed = self._typed.get(chunk_id)
        if typed is None:
            typed = self._typed[chunk_id] = ChunkMeta.from_metadata(self._raw[chunk_id])
        return typed

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def raw_values(self, name: str) -> Iterator[tuple[str, object]]:
        """One field of every chunk, untyped (``ChunkMeta.to_metadata`` keys are its field names)."""
        for cid, raw in self._raw.items():
            yield cid, raw.get(name)


def field_items(meta: Mapping[str, ChunkMeta], name: str) -> Iterator[tuple[str, object]]:
    """One field of every chunk (a saved view's untyped, a layer's base then its changes)."""
    if isinstance(meta, layered.Layered):
        dropped = meta.dropped
        yield from ((cid, v) for cid, v in field_items(meta.base, name) if cid not in dropped)
        yield from ((cid, getattr(m, name)) for cid, m in meta.added.items())
    elif isinstance(meta, LazyMeta):
        yield from meta.raw_values(name)
    else:
        for cid, m in meta.items():
            yield cid, getattr(m, name)


def replaced(
    meta: Mapping[str, ChunkMeta], dropped: frozenset[str], added: dict[str, ChunkMeta]
) -> Mapping[str, ChunkMeta]:
    """``meta`` without ``dropped`` and with ``added``, flattened, of the same kind (a saved
    view's lazy metadata stays lazy: nothing is typed that no question reads)."""
    if isinstance(meta, LazyMeta):
        raw = {cid: m for cid, m in meta._raw.items() if cid not in dropped}
        raw.update({cid: m.to_metadata() for cid, m in added.items()})
        lazy = LazyMeta(raw)
        lazy._typed.update({cid: m for cid, m in meta._typed.items() if cid not in dropped})
        lazy._typed.update(added)
        return lazy
    out = {cid: m for cid, m in meta.items() if cid not in dropped}
    out.update(added)
    return out


def field_counts(meta: Mapping[str, ChunkMeta], name: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, v in field_items(meta, name):
        if v:
            counts[str(v)] = counts.get(str(v), 0) + 1
    return counts


def field_equals(meta: Mapping[str, ChunkMeta], name: str, value: str, default: str) -> list[str]:
    return [cid for cid, v in field_items(meta, name) if (v or default) == value]
