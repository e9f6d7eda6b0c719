"""The sentence-scorer seam: how likely each candidate sentence answers its question.

A ``SentenceScorer`` scores one question's candidate sentences (their feature rows, in the
order of ``bot.answerability.FEATURES``) and carries the threshold below which the answerer
refuses. The extractive answerer uses it for the lead sentence, the sentences that follow it,
refusals (and so the LLM path's refusal gate) and follow-up answers. Implementations are chosen
by name (``bot.assembly.SCORERS``, ``DESPATCH_SCORER``) in the composition root; each loads its
fitted weights, which are data beside ``python -m evals.fit``, the command that made them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class SentenceScorer(Protocol):
    """P(the sentence answers the question) for each candidate row, and the bar to answer."""

    @property
    def name(self) -> str: ...

    @property
    def threshold(self) -> float: ...

    @property
    def source(self) -> Path | None:
        """The model file it was loaded from (for reports); None when made in memory."""
        ...

    def score(self, rows: np.ndarray) -> np.ndarray: ...


def with_threshold(scorer: SentenceScorer, threshold: float) -> SentenceScorer:
    """``scorer`` answering from ``threshold`` instead of its fitted one."""
    import copy
    import dataclasses

    if dataclasses.is_dataclass(scorer) and not isinstance(scorer, type):
        return dataclasses.replace(scorer, threshold=threshold)  # type: ignore[type-var]
    moved = copy.copy(scorer)
    moved.threshold = threshold  # type: ignore[misc]
    return moved
