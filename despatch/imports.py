"""Importing a library without the optional integrations it would load and Despatch never uses.

Two libraries the server loads at start-up import heavy packages only to offer interop that no
Despatch path calls:
- thinc (under spaCy) imports torch for its PyTorch wrappers; the pinned ``en_core_web_sm``
  pipeline is thinc's own CNN on numpy and never touches them.
- LightGBM imports scikit-learn and pandas (and through them scipy.stats) for its scikit-learn
  estimators and DataFrame input; Despatch uses ``Booster``, ``Dataset`` and ``train`` on numpy
  arrays.
On the 2-core machine, with another job running, loading spaCy took 7.1 s with torch and 2.7 s
without, and importing LightGBM 3.8 s and 0.55 s (docs/benchmarks.md, "Cold start: three imports
and a scan removed").

``import_without`` makes the named packages look absent to the thread that imports the library,
and to it alone: a finder put first on ``sys.meta_path`` for the import raises
``ModuleNotFoundError`` for them when asked from that thread, so the library takes its "not
installed" branch; other threads import them as usual meanwhile (the server builds its chat page,
which imports pandas, in a worker thread while questions are answered), and once the import is
done the finder is gone. A package already imported is left alone (the library then sees it, as
before).
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType


class _Hidden(MetaPathFinder):
    """A meta path finder that hides ``names`` (and their submodules) from one thread."""

    def __init__(self, names: Sequence[str], thread: int) -> None:
        self.names = frozenset(names)
        self.thread = thread

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if threading.get_ident() == self.thread and fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (despatch.imports)", name=fullname)
        return None  # for every other name and thread: the usual finders decide


def import_without(module: str, absent: Sequence[str]) -> ModuleType:
    """Import ``module`` while those of ``absent`` not yet imported look uninstalled to this
    thread."""
    if module in sys.modules and sys.modules[module] is not None:
        return sys.modules[module]
    hidden = _Hidden([name for name in absent if name not in sys.modules], threading.get_ident())
    sys.meta_path.insert(0, hidden)
    try:
        return importlib.import_module(module)
    finally:
        sys.meta_path.remove(hidden)
