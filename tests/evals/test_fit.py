"""Fitting the answerability model: deterministic, correct on data with a known answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evals.crossval import choose_threshold, fit, scores


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


def test_the_threshold_for_a_target_precision_is_the_lowest_that_reaches_it() -> None:
    from evals.crossval import precision_at

    # 10 right answers at high confidence, 2 wrong ones at 0.55, 1 right at 0.5, 3 wrong low.
    outcomes = [("s", True, 0.9, True)] * 10 + [("s", False, 0.55, False)] * 2
    outcomes += [("s", True, 0.5, True)] + [("s", False, 0.3, False)] * 3
    t = choose_threshold(outcomes, target=0.95)
    assert 0.55 < t <= 0.9
    assert precision_at(outcomes, t)[0] >= 0.95
    assert precision_at(outcomes, 0.5)[0] < 0.95  # lower thresholds miss the target


def test_folds_keep_each_group_whole_and_are_deterministic() -> None:
    from evals.crossval import folds
    from evals.gold import GoldCase
    from evals.rows import Question

    questions = [Question("s", f"g{i % 7}", GoldCase(str(i), "q", False), gated=True) for i in range(70)]
    first = folds(questions, k=3)
    assert first == folds(list(reversed(questions)), k=3)
    assert set(first) == {f"g{i}" for i in range(7)} and set(first.values()) == {0, 1, 2}


def test_a_label_needs_the_answer_and_the_evidence() -> None:
    from evals.gold import GoldCase
    from evals.rows import label

    case = GoldCase(
        "1", "Which party is he from?", True, [["Conservative"]], ["the Conservative MP Nicholas Soames told"]
    )
    assert label("Amber Rudd has the support of Conservative MPs.", case) == 0.0
    assert label("Then the Conservative MP Nicholas Soames told Ms Rudd she had support.", case) == 1.0
    assert label("Anything at all.", GoldCase("2", "q", False)) == 0.0


def test_ranking_counts_right_leads_and_separation_whatever_the_threshold() -> None:
    from evals.crossval import ranking

    outcomes = [
        ("newsroom", True, 0.9, True),
        ("newsroom", True, 0.2, True),  # right, though below any usual threshold
        ("newsroom", True, 0.8, False),  # led with a wrong sentence
        ("newsroom", False, 0.5, False),
        ("squad", True, 0.4, True),
    ]
    table = ranking(outcomes)
    assert table["newsroom"]["lead_right"] == round(2 / 3, 4)
    # Right leads 0.9 and 0.2 against the unanswerable 0.5: one of two pairs ordered right.
    assert table["newsroom"]["auroc"] == 0.5
    assert table["squad"] == {"lead_right": 1.0, "auroc": None}  # no unanswerable question
    assert table["newsroom sets"] == table["newsroom"]  # squad is not a newsroom set


def test_each_model_class_reads_rows_its_own_way() -> None:
    from bot.answerability import FEATURES
    from bot.contextual import CONTEXT_FEATURES
    from evals.crossval import MODEL_CLASSES, stack
    from evals.gold import GoldCase
    from evals.rows import Question

    n = len(FEATURES)
    x = np.arange(2 * n, dtype=float).reshape(2, n)
    q = Question("newsroom", "g", GoldCase("a", "q?", True), False, x, np.array([1.0, 0.0]))
    plain, _, _ = stack([q], MODEL_CLASSES["boosted"])
    assert plain.shape == (2, n)
    wide, y, weight = stack([q], MODEL_CLASSES["contextual"])
    assert wide.shape == (2, n + len(CONTEXT_FEATURES)) and list(y) == [1.0, 0.0] and len(weight) == 2


def test_a_cross_validation_model_is_a_sentence_scorer_the_report_can_name() -> None:
    from evals.crossval import MODEL_CLASSES
    from evals.runner import describe_model
    from tests.conftest import make_settings

    rng = np.random.default_rng(0)
    x, y = rng.random((200, 3)), (rng.random(200) < 0.5).astype(float)
    trees = MODEL_CLASSES["boosted"].make(x, y, np.ones(200))
    assert trees.name == "boosted" and trees.source is None
    assert describe_model(make_settings(Path("unused")), "extractive", trees) == (
        "extractive, boosted answerability model (in memory)"
    )


def test_the_reader_class_reads_its_out_of_fold_logits(tmp_path: Path) -> None:
    import json

    from bot.answerability import FEATURES
    from bot.contextual import CONTEXT_FEATURES
    from bot.reader import READER_FEATURES
    from evals.crossval import MODEL_CLASSES, stack
    from evals.gold import GoldCase
    from evals.rows import Question, attach_reader

    n = len(FEATURES)
    q = Question(
        "newsroom", "g", GoldCase("a", "q?", True), False, np.zeros((3, n)), np.array([1.0, 0.0, 0.0])
    )
    assert not attach_reader([q], tmp_path / "none.json")  # no scores yet: the class is left out
    oof = tmp_path / "reader-oof.json"
    oof.write_text(json.dumps({"logits": {"newsroom:a:0": 2.5, "newsroom:a:2": -1.0}}), encoding="utf-8")
    assert attach_reader([q], oof)
    assert q.reader is not None and list(np.isnan(q.reader)) == [False, True, False]
    wide, _, _ = stack([q], MODEL_CLASSES["reader"])
    assert wide.shape == (3, n + len(CONTEXT_FEATURES) + len(READER_FEATURES))
    np.testing.assert_allclose(wide[[0, 2], -3], [2.5, -1.0])  # the logit, then its gap and place
    assert np.isnan(wide[1, -3:]).all()


def test_the_squad_report_refuses_a_scorer_whose_reader_saw_every_article(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from evals.fit import main

    monkeypatch.setenv("DESPATCH_SCORER", "reader")
    with pytest.raises(SystemExit) as exit_info:
        main(["--squad-report", "unused"])
    assert exit_info.value.code == 2
    assert "DESPATCH_SCORER=contextual" in capsys.readouterr().err
