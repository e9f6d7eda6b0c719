"""The embedding model on ONNX Runtime: an offline export of the packaged model and its embedder.

The export is made from the local sentence-transformers folder with ``torch.onnx.export``
(transformer, mean pooling and normalisation in one graph), optionally quantised to int8 with
onnxruntime's dynamic quantiser, and cached under ``Settings.onnx_cache`` in a folder named by
the model's fingerprint. ``scripts/setup.sh`` makes both; otherwise the first use makes the one
it needs. Nothing is downloaded. Running it needs only onnxruntime and the model's
``tokenizer.json`` (no torch).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from despatch.errors import ConfigError, OfflineResourceError
from index.embedding import (
    check_model_folder,
    default_model_path,
    max_seq_length,
    model_fingerprint,
    vector_space,
)
from index.records import VectorSpace

# Bump when the exported graph changes, so caches of an older recipe are not reused.
RECIPE = "v1"
_OPSET = 17
_DIM = 384


def export_path(cache: Path, model_path: Path, quantized: bool) -> Path:
    """Where the export of ``model_path`` lives in ``cache``."""
    folder = cache / f"{model_fingerprint(model_path)}-{RECIPE}"
    return folder / ("model-int8.onnx" if quantized else "model.onnx")


def ensure_export(model_path: Path, cache: Path, quantized: bool) -> Path:
    """The cached export, made now from the local model folder when it is missing."""
    out = export_path(cache, model_path, quantized)
    if out.exists():
        return out
    fp32 = export_path(cache, model_path, quantized=False)
    if not fp32.exists():
        _export(model_path, fp32)
    if quantized:
        _quantize(fp32, out)
    return out


def _export(model_path: Path, out: Path) -> None:
    try:
        import onnx  # noqa: F401  (torch.onnx.export writes through it)
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise OfflineResourceError(
            f"Cannot export the embedding model to ONNX ({exc}). Install the exporter with: "
            "pip install onnx==1.23.2 (./scripts/setup.sh does), or set DESPATCH_EMBED_BACKEND=torch"
        ) from exc

    class Pooled(torch.nn.Module):
        """The transformer, mean pooling over real tokens and L2 normalisation, as the
        sentence-transformers modules of all-MiniLM-L6-v2 do."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    _check_pooling(model_path)
    began = time.perf_counter()
    try:
        model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()
        sample = torch.ones(2, 8, dtype=torch.long)
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {**{n: {0: "batch", 1: "tokens"} for n in names}, "sentence_embedding": {0: "batch"}}
        with _atomic(out) as tmp, torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(model),
                (sample, torch.ones_like(sample), torch.zeros_like(sample)),
                str(tmp),
                input_names=names,
                output_names=["sentence_embedding"],
                dynamic_axes=axes,
                opset_version=_OPSET,
                dynamo=False,
            )
    except (OSError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"Exporting the embedding model at {model_path} to ONNX failed ({exc}); "
            "set DESPATCH_EMBED_BACKEND=torch, or reinstall the model package"
        ) from exc
    _provenance(out, model_path, {"torch": torch.__version__, "seconds": time.perf_counter() - began})


def _quantize(fp32: Path, out: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise OfflineResourceError(
            f"Cannot quantise the ONNX model ({exc}). Install: pip install onnx==1.23.2"
        ) from exc
    logging.disable(logging.WARNING)  # the quantiser logs advice about pre-processing to root
    try:
        with _atomic(out) as tmp:
            quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)


class _atomic:
    """A temporary path beside ``out`` that becomes ``out`` only when the block succeeds, so
    two processes exporting at once, or a crash, never leave a half-written model."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def __enter__(self) -> Path:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=self.out.stem + ".", suffix=".tmp", dir=self.out.parent)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.tmp.chmod(0o644)  # mkstemp makes it private; the export is shared like the model
            os.replace(self.tmp, self.out)
        else:
            self.tmp.unlink(missing_ok=True)


def _check_pooling(model_path: Path) -> None:
    """The graph bakes in mean pooling and normalisation; refuse a model that pools otherwise."""
    modules = model_path / "modules.json"
    pooling = model_path / "1_Pooling" / "config.json"
    if not modules.exists() or not pooling.exists():
        return
    kinds = [m.get("type", "") for m in json.loads(modules.read_text(encoding="utf-8"))]
    mean = json.loads(pooling.read_text(encoding="utf-8")).get("pooling_mode_mean_tokens", False)
    if not mean or not any(k.endswith("Normalize") for k in kinds):
        raise ConfigError(
            f"The model at {model_path} does not use mean pooling with normalisation, which the "
            "ONNX export assumes; set DESPATCH_EMBED_BACKEND=torch"
        )


def _provenance(out: Path, model_path: Path, extra: dict[str, Any]) -> None:
    info = {"model_path": str(model_path), "recipe": RECIPE, "opset": _OPSET, **extra}
    (out.parent / "export.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


class OnnxEmbedder:
    """The embedding model on ONNX Runtime (CPU); exports and loads lazily, on first use."""

    def __init__(
        self,
        model_path: Path | None,
        cache: Path,
        quantized: bool = False,
        batch_size: int = 64,
        threads: int = 0,
    ) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        check_model_folder(self.model_path)
        self.cache = Path(cache)
        self.quantized = quantized
        self.batch_size = batch_size
        self.threads = threads
        self.backend = "onnx-int8" if quantized else "onnx"
        self._session: Any = None
        self._tokenizer: Any = None
        self._counter: Any = None

    @property
    def space(self) -> VectorSpace:
        return vector_space(self.model_path, self.backend)

    @property
    def session(self) -> Any:
        if self._session is None:
            import onnxruntime as ort

            path = ensure_export(self.model_path, self.cache, self.quantized)
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            # Spinning worker threads would take the cores from the work that follows each
            # call (spaCy, Chroma, numpy), as OpenBLAS's did (see despatch.offline).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
                raise OfflineResourceError(
                    f"Cannot load the ONNX model {path} ({exc}); delete {path.parent} so it is "
                    "exported again, or set DESPATCH_EMBED_BACKEND=torch"
                ) from exc
        return self._session

    def _tokenizers(self) -> tuple[Any, Any]:
        """One tokenizer that truncates to the model's limit, one that counts without limits."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            path = self.model_path / "tokenizer.json"
            if not path.exists():
                raise OfflineResourceError(
                    f"No tokenizer.json in {self.model_path}; the ONNX backend needs the fast "
                    "tokenizer file. Set DESPATCH_EMBED_BACKEND=torch"
                )
            tokenizer = Tokenizer.from_file(str(path))
            tokenizer.no_padding()  # the file asks for fixed padding to 128; batches pad here
            tokenizer.enable_truncation(self.max_wordpieces)
            counter = Tokenizer.from_file(str(path))
            counter.no_padding()
            counter.no_truncation()
            self._tokenizer, self._counter = tokenizer, counter
        return self._tokenizer, self._counter

    @property
    def max_wordpieces(self) -> int:
        """The model's sequence limit, special tokens included; longer input is truncated."""
        return max_seq_length(self.model_path)

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        """Wordpieces of each text, without the two special tokens the model adds."""
        if not texts:
            return []
        _, counter = self._tokenizers()
        return [len(e.ids) for e in counter.encode_batch(list(texts), add_special_tokens=False)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, _DIM), dtype=np.float32)
        tokenizer, _ = self._tokenizers()
        session = self.session
        # sentence-transformers strips each text before tokenising; so do we, for equal vectors.
        encoded = tokenizer.encode_batch([str(t).strip() for t in texts])
        lengths = np.array([len(e.ids) for e in encoded])
        order = np.argsort(-lengths, kind="stable")  # similar lengths share a batch: less padding
        out = np.empty((len(texts), _DIM), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                n = int(lengths[row])
                ids[i, :n] = encoded[row].ids
                mask[i, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[rows] = session.run(None, feeds)[0]
        return out


def export_all(model_path: Path | None, cache: Path) -> list[Path]:
    """Make (or find) the fp32 and int8 exports; what ``scripts/setup.sh`` runs."""
    path = Path(model_path) if model_path else default_model_path()
    return [ensure_export(path, cache, quantized=q) for q in (False, True)]
