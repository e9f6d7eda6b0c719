"""The sentence-scorer seam: how likely each candidate sentence answers its question.

A ``SentenceScorer`` scores one question's candidate sentences (their feature rows, in the
order of ``bot.answerability.FEATURES``) and carries the threshold below which the answerer
refuses. The extractive answerer uses it for the lead sentence, the sentences that follow it,
refusals (and so the LLM path's refusal gate) and follow-up answers. Implementations are chosen
by name (``SCORERS`` below, ``DESPATCH_SCORER``; the composition root builds it); each loads its
fitted weights, which are data beside ``python -m evals.fit``, the command that made them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from despatch.errors import ConfigError

if TYPE_CHECKING:
    from despatch.settings import Settings


class SentenceScorer(Protocol):
    """P(the sentence answers the question) for each candidate row, and the bar to answer."""

    @property
    def name(self) -> str: ...

    @property
    def threshold(self) -> float: ...

    def score(self, rows: np.ndarray) -> np.ndarray: ...


def _logistic(path: Path | None) -> SentenceScorer:
    from bot.answerability import Model

    return Model.load(path) if path else Model.load()


def _boosted(path: Path | None) -> SentenceScorer:
    from bot.boosted import BoostedScorer

    return BoostedScorer.load(path)


# The sentence scorers by name (DESPATCH_SCORER), which the composition root (bot.assembly) builds
# from Settings; each takes its model file (None: the shipped one). A new scorer: one module, one entry.
SCORERS: dict[str, Callable[[Path | None], SentenceScorer]] = {
    "logistic": _logistic,
    "boosted": _boosted,
}


def build_scorer(settings: Settings) -> SentenceScorer:
    """The scorer ``Settings.scorer`` names, loaded from ``Settings.answer_model`` or its shipped file."""
    try:
        make = SCORERS[settings.scorer]
    except KeyError:
        raise ConfigError(
            f"Unknown DESPATCH_SCORER={settings.scorer!r}; choose one of: {', '.join(SCORERS)}"
        ) from None
    scorer = make(settings.answer_model)
    if settings.answer_threshold is not None:
        scorer = with_threshold(scorer, settings.answer_threshold)
    return scorer


def with_threshold(scorer: SentenceScorer, threshold: float) -> SentenceScorer:
    """``scorer`` answering from ``threshold`` instead of its fitted one."""
    import copy
    import dataclasses

    if dataclasses.is_dataclass(scorer) and not isinstance(scorer, type):
        return dataclasses.replace(scorer, threshold=threshold)  # type: ignore[type-var]
    moved = copy.copy(scorer)
    moved.threshold = threshold  # type: ignore[misc]
    return moved
