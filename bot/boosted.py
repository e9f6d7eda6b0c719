"""Gradient-boosted trees (LightGBM) over the answerability features: a ``SentenceScorer``.

The trees are a LightGBM text model (``bot/models/boosted.lgb.txt``) with a manifest
(``bot/models/boosted.json``: features, threshold, the training data's sha256s, the command and
the cross-validated figures), both written by ``python -m evals.fit``. Loading checks the
manifest against the features and the model file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np

from bot.answerability import FEATURES
from bot.manifest import MODELS_DIR, REFIT, read_manifest
from bot.scorer import Candidates
from despatch.errors import ConfigError
from despatch.imports import import_without

MANIFEST = MODELS_DIR / "boosted.json"


class BoostedScorer:
    """P(answers) from LightGBM trees; the threshold is the manifest's."""

    name = "boosted"
    default_manifest = MANIFEST

    def __init__(
        self,
        booster: Any,
        threshold: float,
        manifest: dict[str, Any] | None = None,
        source: Path | None = None,
    ) -> None:
        self.booster = booster
        self.threshold = threshold
        self.manifest = manifest or {}
        self.source = source  # the manifest it was loaded from

    @classmethod
    def load(cls, path: Path | None = None) -> Self:
        path = path or cls.default_manifest
        wrong_kind = ConfigError(
            f"{path} is not a {cls.name} scorer's manifest (no checked model_file); point "
            f"DESPATCH_ANSWER_MODEL at bot/models/{cls.default_manifest.name}, or set "
            "DESPATCH_SCORER=logistic for a logistic model such as bot/answerability.json"
        )
        try:
            manifest = read_manifest(path, FEATURES)
        except ConfigError:
            if path.is_file() and '"weights"' in path.read_text(encoding="utf-8", errors="replace"):
                raise wrong_kind from None  # a logistic model file
            raise
        model_file = str(manifest.get("model_file") or "")
        if not model_file or model_file not in manifest["files"]:
            raise wrong_kind
        try:
            # without its scikit-learn and pandas interop (despatch.imports): 3 s of cold start
            lightgbm: Any = import_without("lightgbm", ("sklearn", "pandas"))
        except ImportError as exc:  # an install without the project's dependencies
            raise ConfigError(
                f"DESPATCH_SCORER={cls.name} needs LightGBM: reinstall with ./scripts/setup.sh "
                "or set DESPATCH_SCORER=logistic"
            ) from exc
        trees = path.parent / model_file
        try:
            booster = lightgbm.Booster(model_file=str(trees))
        except (lightgbm.basic.LightGBMError, OSError) as exc:
            raise ConfigError(f"Cannot load the boosted scorer {trees} ({exc}); {REFIT}") from exc
        return cls(booster, float(manifest["threshold"]), manifest, path)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """What the trees read for one question's candidate rows: the rows themselves."""
        return np.asarray(rows, dtype=float)

    def score(self, candidates: Candidates) -> np.ndarray:
        return self.predict(candidates.rows)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """P(answers) for each of one question's rows, as ``rows`` reads them."""
        if len(rows) == 0:
            return np.zeros(0)
        # One thread: a question has tens of rows, and the server answers several at once.
        return np.asarray(self.booster.predict(self.rows(rows), num_threads=1), dtype=float)
