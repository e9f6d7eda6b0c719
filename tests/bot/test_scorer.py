"""The sentence-scorer seam: every shipped scorer, chosen by name, checked on load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.answerability import FEATURES, Model
from bot.assembly import SCORERS, assemble
from bot.boosted import MANIFEST, BoostedScorer
from bot.contextual import MANIFEST as CONTEXTUAL
from bot.contextual import ContextualScorer, context_rows
from bot.reader import MANIFEST as READER
from bot.reader import ReaderScorer
from bot.scorer import Candidates, SentenceScorer
from despatch.errors import ConfigError
from despatch.settings import Settings, load_settings
from tests.bot.test_answerability import related_and_answer


def build_scorer(settings: Settings) -> SentenceScorer:
    """The scorer the composition root builds from ``settings``."""
    return assemble(settings).scorer


def test_every_named_scorer_loads_and_scores_in_0_1() -> None:
    rows = np.zeros((3, len(FEATURES)))
    for name in SCORERS:
        scorer = build_scorer(load_settings(scorer=name))
        assert scorer.name == name
        assert 0.0 < scorer.threshold < 1.0
        p = scorer.score(Candidates.of_rows(rows))
        assert p.shape == (3,) and np.all((p >= 0) & (p <= 1))
        assert scorer.score(Candidates.of_rows(np.zeros((0, len(FEATURES))))).shape == (0,)


def test_the_default_scorer_is_the_reader_and_contextual_is_chosen_by_name() -> None:
    # The reader scorer wins the cross-validation and both held-out sets; it costs 110-130 ms
    # a question more (bench/results-scorers.json), so DESPATCH_SCORER=contextual is kept.
    reader = build_scorer(load_settings())
    assert isinstance(reader, ReaderScorer) and reader.source == READER
    assert isinstance(reader.base, ContextualScorer) and reader.base.source == CONTEXTUAL
    scorer = build_scorer(load_settings(scorer="contextual"))
    assert isinstance(scorer, ContextualScorer) and scorer.source == CONTEXTUAL


def test_the_contextual_scorer_reads_each_row_beside_its_rivals() -> None:
    scorer = ContextualScorer.load()
    rows = np.random.default_rng(0).random((7, len(FEATURES)))
    expected = scorer.booster.predict(context_rows(rows), num_threads=1)
    np.testing.assert_allclose(scorer.score(Candidates.of_rows(rows)), expected)
    # The same sentence scores differently beside other rivals.
    assert scorer.score(Candidates.of_rows(rows[:1]))[0] != scorer.score(Candidates.of_rows(rows))[0]


def test_an_unknown_scorer_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"DESPATCH_SCORER='forest'.*boosted.*logistic|logistic.*boosted"):
        build_scorer(load_settings(scorer="forest"))


def test_the_boosted_scorer_ranks_an_answer_above_a_related_sentence() -> None:
    related, answer = related_and_answer()
    for name in SCORERS:
        p = build_scorer(load_settings(scorer=name)).score(Candidates.of_rows([related, answer]))
        assert p[1] > p[0], name


@pytest.mark.parametrize("manifest", [READER, CONTEXTUAL, MANIFEST], ids=["reader", "contextual", "boosted"])
def test_the_manifest_names_its_data_command_and_cross_validation(manifest: Path) -> None:
    raw = json.loads(manifest.read_text(encoding="utf-8"))
    assert raw["command"] == "python -m evals.fit"
    assert tuple(raw["features"]) == FEATURES
    sets = raw["fitted_on"]["sets"]
    assert {"squad", "newsroom", "near-misses", "xquad", "xquad-newsroom"} <= set(sets)
    assert all("sha256:" in v for v in sets.values())
    text = json.dumps(raw["fitted_on"])
    assert "heldout" not in text and "gold/newsroom" not in text  # never trained on held-out sets
    cv = raw["cross_validation"]
    assert set(SCORERS) <= set(cv)
    assert raw["chosen"] == "reader"  # the CV winner, and the default
    best = max(cv[n]["newsroom"]["balanced_accuracy"] for n in SCORERS)
    assert cv["reader"]["newsroom"]["balanced_accuracy"] == best
    chosen = cv[manifest.stem]
    assert chosen["threshold"] == raw["threshold"]
    strict = chosen["at_target_precision"]
    assert strict["threshold"] >= chosen["threshold"]
    assert strict["answer_precision"] >= raw["target_precision"] or strict["threshold"] == 0.99
    curve = chosen["risk_coverage_newsroom"]
    assert [p["threshold"] for p in curve] == sorted(p["threshold"] for p in curve)


def test_a_tampered_model_file_is_refused(tmp_path: Path) -> None:
    for f in MANIFEST.parent.glob("boosted*"):
        shutil.copy(f, tmp_path / f.name)
    trees = tmp_path / "boosted.lgb.txt"
    trees.write_text(trees.read_text(encoding="utf-8").replace("Tree=0", "Tree=0\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sha256 differs.*python -m evals\.fit"):
        BoostedScorer.load(tmp_path / "boosted.json")


def test_a_manifest_for_other_features_is_refused(tmp_path: Path) -> None:
    for f in MANIFEST.parent.glob("boosted*"):
        shutil.copy(f, tmp_path / f.name)
    raw = json.loads((tmp_path / "boosted.json").read_text(encoding="utf-8"))
    raw["features"] = raw["features"][:-1]
    (tmp_path / "boosted.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match="other features"):
        BoostedScorer.load(tmp_path / "boosted.json")


def test_the_logistic_model_is_a_scorer() -> None:
    model = Model.load()
    rows = np.ones((2, len(FEATURES)))
    assert np.array_equal(model.score(Candidates.of_rows(rows)), model.predict(rows))


def _copy(tmp_path: Path) -> Path:
    for f in MANIFEST.parent.glob("boosted*"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / "boosted.json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"threshold": float("nan")}, "not a probability"),
        ({"threshold": 1.5}, "not a probability"),
        ({"files": {}}, "names no model files"),
        ({"model_file": ""}, "not a boosted scorer's manifest"),
    ],
)
def test_a_bad_manifest_is_refused_with_the_fix(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = _copy(tmp_path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw.update(change)
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{message}.*DESPATCH_ANSWER_MODEL"):
        BoostedScorer.load(path)


def test_a_model_file_of_the_other_scorer_says_which_setting_to_change() -> None:
    from bot.answerability import MODEL_PATH

    with pytest.raises(ConfigError, match="DESPATCH_SCORER=logistic"):
        build_scorer(load_settings(scorer="boosted", answer_model=MODEL_PATH))
    with pytest.raises(ConfigError, match="DESPATCH_SCORER=boosted"):
        build_scorer(load_settings(scorer="logistic", answer_model=MANIFEST))
    with pytest.raises(ConfigError, match="DESPATCH_ANSWER_MODEL"):
        build_scorer(load_settings(answer_model=MANIFEST.with_name("missing.json")))


def test_the_answer_threshold_setting_overrides_the_fitted_one() -> None:
    for name in SCORERS:
        assert build_scorer(load_settings(scorer=name, answer_threshold=0.9)).threshold == 0.9
