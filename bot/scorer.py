"""The sentence-scorer seam: how likely each candidate sentence answers its question.

A ``SentenceScorer`` scores one question's candidate sentences (``Candidates``: the question as
the answerer reads it, each sentence as an answer would show it, and their feature rows in the
order of ``bot.answerability.FEATURES``) and carries the threshold below which the answerer
refuses. The feature scorers read the rows; the reader (``bot.reader``) reads the texts too.
The extractive answerer uses it for the lead sentence, the sentences that follow it,
refusals (and so the LLM path's refusal gate) and follow-up answers. Implementations are chosen
by name (``bot.assembly.SCORERS``, ``DESPATCH_SCORER``) in the composition root; each loads its
fitted weights, which are data beside ``python -m evals.fit``, the command that made them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Candidates:
    """One question's candidate sentences, as a scorer reads them."""

    question: str  # as the answerer reads it (``Question.search_text``)
    sentences: tuple[str, ...]  # each as an answer shows it (a transcript's with its speaker)
    rows: np.ndarray  # one feature row per sentence (``bot.answerability.FEATURES``)

    @classmethod
    def of_rows(cls, rows: np.ndarray | Sequence[Sequence[float]], question: str = "") -> Candidates:
        """Candidates known only by their feature rows (the texts left empty)."""
        rows = np.asarray(rows, dtype=float)
        return cls(question, ("",) * len(rows), rows)


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

    def score(self, candidates: Candidates) -> np.ndarray: ...


def with_threshold(scorer: SentenceScorer, threshold: float) -> SentenceScorer:
    """``scorer`` answering from ``threshold`` instead of its fitted one."""
    import copy
    import dataclasses

    if dataclasses.is_dataclass(scorer) and not isinstance(scorer, type):
        return dataclasses.replace(scorer, threshold=threshold)  # type: ignore[type-var]
    moved = copy.copy(scorer)
    moved.threshold = threshold  # type: ignore[misc]
    return moved
