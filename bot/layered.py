"""A mapping made by changing another without copying it: how a view follows a push in O(push).

Each push makes a new serving view from the last (``bot.views.IndexView.advance``). Copying the
view's dictionaries (every chunk's text and metadata, every document's version and title) made
each push cost time proportional to the archive, spent holding the interpreter's lock while
readers waited. A ``Layered`` mapping instead shares its ``base`` with the view it came from
and keeps only what changed since: the keys it hides (``dropped``) and the entries it adds or
replaces (``added``). Reading it is a dictionary look-up or two. Its changes are carried from
layer to layer, and when they outgrow ``1/COMPACT_SHARE`` of the base (at least
``COMPACT_MIN``), the next layer is flattened into a plain mapping once, so the work per push
stays proportional to the push on average.

Nothing here mutates a mapping it was given: an older view keeps answering from its own
layers while the next is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")

COMPACT_MIN = 2_000  # changes carried before a layer may be flattened
COMPACT_SHARE = 8  # ...or this fraction of the base, whichever is more


class Layered(Mapping[K, V]):
    """``base`` without ``dropped`` (keys of ``base``), with ``added`` (whose keys are visible
    with these values; any that ``base`` also holds are in ``dropped`` too)."""

    __slots__ = ("added", "base", "dropped")

    def __init__(self, base: Mapping[K, V], added: dict[K, V], dropped: frozenset[K]) -> None:
        self.base = base
        self.added = added
        self.dropped = dropped

    def __getitem__(self, key: K) -> V:
        try:
            return self.added[key]
        except KeyError:
            if key in self.dropped:
                raise
            return self.base[key]

    def __contains__(self, key: object) -> bool:
        return key in self.added or (key in self.base and key not in self.dropped)

    def __iter__(self) -> Iterator[K]:
        dropped = self.dropped
        yield from (k for k in self.base if k not in dropped)
        yield from self.added

    def __len__(self) -> int:
        return len(self.base) - len(self.dropped) + len(self.added)

    def __reversed__(self) -> Iterator[K]:
        """The keys, last first (the base must be reversible, as a dict is)."""
        yield from reversed(self.added)
        dropped = self.dropped
        base: Any = self.base
        yield from (k for k in reversed(base) if k not in dropped)


def last_keys(mapping: Mapping[K, V], n: int) -> list[K]:
    """The last ``n`` keys of a dict or a ``Layered`` over one, oldest first, without walking
    the rest."""
    keys: Any = mapping
    return list(islice(reversed(keys), n))[::-1]


def changed(
    mapping: Mapping[K, V],
    dropped: Iterable[K],
    added: Mapping[K, V],
    flatten: Callable[[Mapping[K, V], frozenset[K], dict[K, V]], Mapping[K, V]] | None = None,
) -> Mapping[K, V]:
    """``mapping`` without the keys ``dropped`` and with ``added``, sharing what did not change.

    ``flatten(base, dropped, added)`` makes the plain mapping a layer is compacted into (default:
    a dict); its arguments follow ``Layered``'s invariant."""
    if isinstance(mapping, Layered):
        base, carried, hidden = mapping.base, mapping.added, mapping.dropped
    else:
        base, carried, hidden = mapping, {}, frozenset()
    gone = set(dropped)
    new_added: dict[K, V] = {k: v for k, v in carried.items() if k not in gone and k not in added}
    new_added.update(added)
    shadowed = {k for k in (*gone, *added) if k in base and k not in hidden}
    new_dropped = hidden | shadowed if shadowed else hidden
    if len(new_added) + len(new_dropped) > max(COMPACT_MIN, len(base) // COMPACT_SHARE):
        return (flatten or _as_dict)(base, new_dropped, new_added)
    return Layered(base, new_added, new_dropped)


def _as_dict(base: Mapping[Any, Any], dropped: frozenset[Any], added: dict[Any, Any]) -> dict[Any, Any]:
    out = {k: v for k, v in base.items() if k not in dropped}
    out.update(added)
    return out
