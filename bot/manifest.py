"""A fitted scorer's files as data: where they ship, and the manifest check every loader runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from despatch.errors import ConfigError
from despatch.files import sha256

MODELS_DIR = Path(__file__).with_name("models")
REFIT = (
    "point DESPATCH_ANSWER_MODEL at a fitted model file (or unset it for the shipped one), "
    "or refit with: python -m evals.fit"
)


def read_manifest(path: Path, features: tuple[str, ...]) -> dict[str, Any]:
    """A scorer's manifest (JSON), checked: it must be fitted for ``features`` and every file it
    names must be the file it was fitted as (sha256)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read the scorer manifest {path} ({exc}); {REFIT}") from exc
    if not isinstance(raw, dict) or tuple(raw.get("features", ())) != features:
        raise ConfigError(f"{path} was fitted for other features; {REFIT}")
    try:
        threshold = float(raw["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path} has no numeric threshold; {REFIT}") from exc
    if not 0.0 <= threshold <= 1.0:  # NaN too: a NaN threshold would never refuse
        raise ConfigError(f"{path} has threshold {threshold}, not a probability; {REFIT}")
    files = raw.get("files")
    if not isinstance(files, dict) or not files:
        raise ConfigError(f"{path} names no model files with their sha256; {REFIT}")
    for name, digest in files.items():
        file = path.parent / name
        if not file.exists():
            raise ConfigError(f"{path} names {file}, which is missing; {REFIT}")
        if sha256(file) != digest:
            raise ConfigError(f"{file} is not the file {path.name} was fitted with (sha256 differs); {REFIT}")
    return raw
