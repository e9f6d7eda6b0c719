"""Gradient-boosted trees that read each sentence beside its rivals: a ``SentenceScorer``.

The boosted scorer judges every candidate sentence on its own features. A sentence that covers
60% of the question is a strong lead when its rivals cover 20%, and a weak one beside a
sentence that covers all of it; how well the best rival does also says whether the sources
answer at all. This scorer gives the trees, for a few of the features, each sentence's gap to
the question's best value, its place among the candidates, and the best value itself, all
computed from the one question's rows the seam already passes (``context_rows``). Its files are
``bot/models/contextual.json`` and ``contextual.lgb.txt``, written by ``python -m evals.fit``.
"""

from __future__ import annotations

import numpy as np

from bot.answerability import FEATURES
from bot.boosted import BoostedScorer
from bot.manifest import MODELS_DIR

MANIFEST = MODELS_DIR / "contextual.json"
# The features compared across a question's candidates.
COMPARED = (
    "dense",
    "lexical",
    "lexical_window",
    "focus",
    "focus_window",
    "keys",
    "type_near",
    "bigrams",
    "missing",
    "dense_typed",
    "lexical_typed",
    "novelty",
)
_COLUMNS = [FEATURES.index(f) for f in COMPARED]
_RANK_CAP = 10  # places past the tenth read alike
# The names of what the trees read, after the base features.
CONTEXT_FEATURES = (
    *(f"{f}_gap" for f in COMPARED),
    *(f"{f}_place" for f in COMPARED),
    *(f"{f}_best" for f in COMPARED),
)
# Not read: how many candidates there are. In the training data a short list is mostly a scoped
# question asked against paragraphs that don't hold its answer (XQuAD's "other paragraph"
# cases), so a fitted model learned to doubt every short list, a story-scoped widget question's
# too (a one-sentence story's answer scored 0.28 with the count, under the threshold).


def context_rows(rows: np.ndarray) -> np.ndarray:
    """One question's candidate rows with, for each compared feature, the gap to the question's
    best value (0 for the best), the place among the candidates (0 for the best; ties keep the
    candidates' order) and the best value."""
    rows = np.asarray(rows, dtype=float).reshape(-1, len(FEATURES))
    if len(rows) == 0:
        return np.zeros((0, len(FEATURES) + len(CONTEXT_FEATURES)))
    compared = rows[:, _COLUMNS]
    best = compared.max(axis=0)
    place = (-compared).argsort(axis=0, kind="stable").argsort(axis=0, kind="stable")
    return np.hstack(
        [rows, compared - best, np.minimum(place, _RANK_CAP), np.broadcast_to(best, compared.shape)]
    )


class ContextualScorer(BoostedScorer):
    """P(answers) from LightGBM trees over each row and its place among the question's rows."""

    name = "contextual"
    default_manifest = MANIFEST

    def rows(self, rows: np.ndarray) -> np.ndarray:
        return context_rows(rows)
