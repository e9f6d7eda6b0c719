"""The scorer manifest check: the shipped manifest passes; a wrong one names the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.answerability import FEATURES
from bot.manifest import MODELS_DIR, REFIT, read_manifest
from despatch.errors import ConfigError
from despatch.files import sha256

SHIPPED = MODELS_DIR / "boosted.json"


def copy(tmp_path: Path, **changes: Any) -> Path:
    """The shipped manifest and its model file copied into ``tmp_path``, with ``changes``."""
    raw = json.loads(SHIPPED.read_text(encoding="utf-8"))
    for name in raw["files"]:
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    raw.update(changes)
    path = tmp_path / "boosted.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def refused(path: Path, features: tuple[str, ...] = FEATURES) -> str:
    with pytest.raises(ConfigError) as caught:
        read_manifest(path, features)
    message = str(caught.value)
    assert REFIT in message and "python -m evals.fit" in message and "DESPATCH_ANSWER_MODEL" in message
    return message


def test_the_shipped_manifest_is_accepted() -> None:
    raw = read_manifest(SHIPPED, FEATURES)
    assert tuple(raw["features"]) == FEATURES
    assert 0.0 <= float(raw["threshold"]) <= 1.0
    assert raw["files"] and all(sha256(MODELS_DIR / n) == d for n, d in raw["files"].items())


def test_a_faithful_copy_is_accepted(tmp_path: Path) -> None:
    assert (
        read_manifest(copy(tmp_path), FEATURES)["threshold"] == read_manifest(SHIPPED, FEATURES)["threshold"]
    )


def test_other_features_are_refused(tmp_path: Path) -> None:
    assert "other features" in refused(copy(tmp_path, features=list(FEATURES[:-1])))
    assert "other features" in refused(copy(tmp_path), FEATURES[::-1])


@pytest.mark.parametrize("threshold", [1.5, -0.1, float("nan")])
def test_a_threshold_that_is_not_a_probability_is_refused(tmp_path: Path, threshold: float) -> None:
    path = copy(tmp_path, threshold=threshold)  # json writes NaN, and reads it back
    assert "not a probability" in refused(path)


def test_a_missing_or_non_numeric_threshold_is_refused(tmp_path: Path) -> None:
    assert "no numeric threshold" in refused(copy(tmp_path, threshold="high"))
    raw = json.loads(SHIPPED.read_text(encoding="utf-8"))
    del raw["threshold"]
    path = copy(tmp_path)
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert "no numeric threshold" in refused(path)


def test_a_missing_model_file_is_refused(tmp_path: Path) -> None:
    path = copy(tmp_path, files={"gone.lgb.txt": "0" * 64})
    message = refused(path)
    assert "gone.lgb.txt" in message and "missing" in message
    assert "no model files" in refused(copy(tmp_path, files={}))


def test_a_model_file_that_differs_is_refused(tmp_path: Path) -> None:
    path = copy(tmp_path)
    model = tmp_path / next(iter(json.loads(path.read_text(encoding="utf-8"))["files"]))
    model.write_text(model.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    message = refused(path)
    assert "sha256 differs" in message and model.name in message
    assert sha256(MODELS_DIR / model.name) != sha256(model)  # the shipped file is untouched


def test_an_unreadable_manifest_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "boosted.json"
    bad.write_text("{not json", encoding="utf-8")
    assert "Cannot read" in refused(bad)
    assert "Cannot read" in refused(tmp_path / "absent.json")
