"""Fitting the answerability model: deterministic, correct on data with a known answer."""

from __future__ import annotations

import numpy as np

from evals.fit import choose_threshold, fit, scores


def _data(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 3))
    logits = 2.0 * x[:, 0] - 1.0 * x[:, 1] + 0.0 * x[:, 2] - 0.5
    y = (rng.random(400) < 1 / (1 + np.exp(-logits))).astype(float)
    return x, y


def test_fit_is_deterministic_to_the_bit() -> None:
    x, y = _data()
    assert fit(x, y) == fit(x.copy(), y.copy())


def test_fit_recovers_the_signs() -> None:
    x, y = _data()
    w = fit(x, y)["weights"]
    assert w[0] > 1.0 and w[1] < -0.5 and abs(w[2]) < 0.3


def test_threshold_balances_answers_and_refusals() -> None:
    # (set, answerable, best probability, best sentence holds the answer)
    outcomes = [
        ("s", True, 0.9, True),
        ("s", True, 0.7, True),
        ("s", False, 0.3, False),
        ("s", False, 0.2, False),
    ]
    t = choose_threshold(outcomes)
    assert 0.3 < t <= 0.7
    table = scores(outcomes, t)["s"]
    assert table["balanced_accuracy"] == 1.0 and table["false_refusal_rate"] == 0.0
    wrong = [("s", True, 0.9, False), ("s", False, 0.95, False)]
    assert scores(wrong, 0.5)["s"]["balanced_accuracy"] == 0.0
