"""The contextual scorer: each candidate's features beside its rivals' (bot/contextual.py)."""

from __future__ import annotations

import numpy as np

from bot.answerability import FEATURES
from bot.contextual import COMPARED, CONTEXT_FEATURES, context_rows


def rows_with(**columns: list[float]) -> np.ndarray:
    n = len(next(iter(columns.values())))
    rows = np.zeros((n, len(FEATURES)))
    for name, values in columns.items():
        rows[:, FEATURES.index(name)] = values
    return rows


def column(out: np.ndarray, name: str) -> np.ndarray:
    return out[:, len(FEATURES) + CONTEXT_FEATURES.index(name)]


def test_context_rows_keep_the_row_and_add_gap_place_and_best() -> None:
    rows = rows_with(lexical=[0.2, 0.9, 0.5], dense=[0.7, 0.1, 0.7])
    out = context_rows(rows)
    assert out.shape == (3, len(FEATURES) + len(CONTEXT_FEATURES))
    assert len(CONTEXT_FEATURES) == 3 * len(COMPARED)
    np.testing.assert_array_equal(out[:, : len(FEATURES)], rows)  # the base features, unchanged
    np.testing.assert_allclose(column(out, "lexical_gap"), [-0.7, 0.0, -0.4])
    np.testing.assert_array_equal(column(out, "lexical_place"), [2, 0, 1])
    np.testing.assert_array_equal(column(out, "lexical_best"), [0.9, 0.9, 0.9])
    # Ties keep the candidates' order: the first of two equal values takes the better place.
    np.testing.assert_array_equal(column(out, "dense_place"), [0, 2, 1])


def test_context_rows_cap_places_and_take_no_rows() -> None:
    rows = rows_with(lexical=list(np.linspace(1.0, 0.0, 80)))
    out = context_rows(rows)
    assert column(out, "lexical_place").max() == 10  # places past the tenth read alike
    # Nothing in a row says how many rivals it has: a lone sentence reads as any question's best.
    lone = context_rows(rows_with(lexical=[0.6]))
    assert column(lone, "lexical_gap")[0] == 0.0 and column(lone, "lexical_place")[0] == 0
    assert context_rows(np.zeros((0, len(FEATURES)))).shape == (0, len(FEATURES) + len(CONTEXT_FEATURES))


def test_a_row_reads_differently_beside_a_stronger_rival() -> None:
    alone = context_rows(rows_with(lexical=[0.6]))
    beside = context_rows(rows_with(lexical=[0.6, 1.0]))
    assert column(alone, "lexical_gap")[0] == 0.0 and column(beside, "lexical_gap")[0] == -0.4
    assert column(beside, "lexical_place")[0] == 1
