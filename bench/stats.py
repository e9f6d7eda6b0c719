"""Medians with their spread, for results that are honest about noise."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def summarise(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    """Median, min, max and run count."""
    vals = sorted(values)
    return {
        "median": round(statistics.median(vals), digits),
        "min": round(vals[0], digits),
        "max": round(vals[-1], digits),
        "runs": len(vals),
    }


def percentile(values: Sequence[float], q: float) -> float:
    vals = sorted(values)
    if not vals:
        return 0.0
    k = min(len(vals) - 1, max(0, round(q / 100 * (len(vals) - 1))))
    return vals[k]


def p50_p95(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    """The 50th and 95th percentiles (0.0 for no values)."""
    return {"p50": round(percentile(values, 50), digits), "p95": round(percentile(values, 95), digits)}
