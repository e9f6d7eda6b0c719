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

``import_without`` makes the named packages look absent while the library is imported (the
import system's own rule: a ``None`` entry in ``sys.modules`` raises ``ImportError``), so the
library takes its "not installed" branch, then removes those entries: a later ``import torch``
anywhere in the process works as usual. A package already imported is left alone (the library
then sees it, as before). The window is the library's import, done once at start-up by the
modules that call this, under their own locks.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from types import ModuleType


def import_without(module: str, absent: Sequence[str]) -> ModuleType:
    """Import ``module`` while those of ``absent`` not yet imported look uninstalled."""
    if module in sys.modules and sys.modules[module] is not None:
        return sys.modules[module]
    hidden = [name for name in absent if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        return importlib.import_module(module)
    finally:
        for name in hidden:
            if sys.modules.get(name, "") is None:
                del sys.modules[name]
