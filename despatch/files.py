"""Small file helpers every stage shares."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["sha256"]


def sha256(path: Path) -> str:
    """The file's SHA-256, hex, read in blocks (model files are tens of MB)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
