"""The offline ONNX export of the packaged embedding model, and its cache.

The export is made from the local sentence-transformers folder with ``torch.onnx.export``
(transformer, mean pooling and normalisation in one graph, the attention written out so that
it can be fused), then rewritten by onnxruntime's own transformer optimiser into fused
Attention, SkipLayerNormalization and BiasGelu kernels, and checked against the torch model
before it is kept. The int8 variant quantises that graph's weights per output channel with
onnxruntime's dynamic quantiser (per-tensor scales drifted three times as far). Both are cached
under ``Settings.onnx_cache`` (``DESPATCH_ONNX_CACHE``) in a folder named by the model's
fingerprint, with ``export.json`` recording each file's size, modification time and sha256;
a file of another size, or modified since with other bytes, is refused. ``scripts/setup.sh``
makes both; otherwise the first use makes the one it needs. Nothing is downloaded. The
embedder that runs the export is ``index.onnx_embedding``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from despatch.errors import ConfigError, OfflineResourceError
from despatch.files import sha256
from index.embedding import default_model_path, max_seq_length, mean_pooled, model_fingerprint

# Bump when the exported graph changes, so caches of an older recipe are not reused.
RECIPE = "v2"
_OPSET = 17
_STALE_TMP_S = 3600.0  # a temporary export older than this was left by a killed process
_AGREEMENT = 0.9999  # least cosine between the export's vectors and the torch model's
_CHECK_TEXTS = (
    "The Home Office set a target of 12,000 voluntary departures for 2015/16.",
    "Amber Rudd told MPs she had not seen the targets.",
    "Division No. 42: the Ayes to the right, 290; the Noes to the left, 250.",
)


def export_path(cache: Path, model_path: Path, quantized: bool) -> Path:
    """Where the export of ``model_path`` lives in ``cache``."""
    folder = cache / f"{model_fingerprint(model_path)}-{RECIPE}"
    return folder / ("model-int8.onnx" if quantized else "model.onnx")


def ensure_export(model_path: Path, cache: Path, quantized: bool) -> Path:
    """The cached export, made now from the local model folder when it is missing."""
    out = export_path(cache, model_path, quantized)
    if out.exists():
        return out
    _remove_stale(out.parent)
    fp32 = export_path(cache, model_path, quantized=False)
    if not fp32.exists():
        _export(model_path, fp32)
    if quantized:
        _quantize(fp32, out)
    return out


def check_export(path: Path) -> None:
    """Refuse an export that is not the file ``export.json`` recorded: another size (a file of
    another variant renamed, one cut short), or, when the file was modified since it was
    recorded, another sha256 (bytes changed in place). The sha256 is only read again when the
    file's modification time differs from the recorded one, so a load costs no hashing."""
    recorded = _read_provenance(path.parent).get("files", {}).get(path.name)
    stat = path.stat()
    problem = None
    if recorded is None or recorded.get("bytes") != stat.st_size:
        problem = f"{stat.st_size} bytes"
    elif recorded.get("mtime_ns") != stat.st_mtime_ns and recorded.get("sha256") != sha256(path):
        problem = "its bytes changed"
    if problem:
        raise OfflineResourceError(
            f"The ONNX model {path} ({problem}) is not the file {path.parent / 'export.json'} "
            f"records ({recorded or 'nothing'}); delete {path.parent} so it is exported again"
        )


def _cache_error(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(
        f"Cannot write the ONNX export cache at {path} ({exc}); point DESPATCH_ONNX_CACHE at a "
        "writable folder, or run ./scripts/setup.sh as the user that owns the project"
    )


def _remove_stale(folder: Path) -> None:
    """Delete temporary exports a killed process left behind (never a live one: they are young)."""
    if not folder.is_dir():
        return
    now = time.time()
    for tmp in folder.glob("*.tmp"):
        try:
            if now - tmp.stat().st_mtime > _STALE_TMP_S:
                tmp.unlink()
        except OSError:
            pass  # another process took it, or the folder is read-only: harmless either way


def _export(model_path: Path, out: Path) -> None:
    try:
        import onnx  # noqa: F401  (torch.onnx.export writes through it)
        import torch
        from onnxruntime.transformers.optimizer import optimize_model
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
            mean = mean_pooled(self.model, input_ids, attention_mask, token_type_ids)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    _check_pooling(model_path)
    began = time.perf_counter()
    try:
        # "eager" attention exports as the plain MatMul/Softmax pattern the optimiser fuses.
        model = AutoModel.from_pretrained(
            str(model_path), local_files_only=True, attn_implementation="eager"
        ).eval()
        heads, hidden = int(model.config.num_attention_heads), int(model.config.hidden_size)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"Loading the embedding model at {model_path} for the ONNX export failed ({exc}); "
            "reinstall the model package (./scripts/setup.sh), or set DESPATCH_EMBED_BACKEND=torch"
        ) from exc
    pooled = Pooled(model).eval()  # the wrapper too: export restores its mode to all it holds
    with _atomic(out) as tmp:
        raw = tmp.with_suffix(".raw.tmp")  # the unfused graph; gone when the block ends
        sample = torch.ones(2, 8, dtype=torch.long)
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {**{n: {0: "batch", 1: "tokens"} for n in names}, "sentence_embedding": {0: "batch"}}
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    pooled,
                    (sample, torch.ones_like(sample), torch.zeros_like(sample)),
                    str(raw),
                    input_names=names,
                    output_names=["sentence_embedding"],
                    dynamic_axes=axes,
                    opset_version=_OPSET,
                    dynamo=False,
                )
            logging.disable(logging.WARNING)  # the optimiser logs each fusion to root
            try:
                fused = optimize_model(
                    str(raw), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1
                )
            finally:
                logging.disable(logging.NOTSET)
            fused.save_model_to_file(str(tmp))
        except OSError as exc:
            raise _cache_error(out.parent, exc) from exc
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"Exporting the embedding model at {model_path} to ONNX failed ({exc}); "
                "set DESPATCH_EMBED_BACKEND=torch"
            ) from exc
        finally:
            raw.unlink(missing_ok=True)
        _check_agreement(tmp, model_path, pooled, torch)
    _record(out, {"torch": torch.__version__, "seconds": round(time.perf_counter() - began, 2)})


def _check_agreement(path: Path, model_path: Path, pooled: Any, torch: Any) -> None:
    """The fused graph must give the torch model's vectors, padding included."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.enable_padding()
    tokenizer.enable_truncation(max_seq_length(model_path))
    encoded = tokenizer.encode_batch(list(_CHECK_TEXTS))
    feeds = {
        "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
        "token_type_ids": np.zeros((len(encoded), len(encoded[0].ids)), dtype=np.int64),
    }
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, feeds)[0]
    pooled.eval()  # torch.onnx.export puts a module back in the mode it found it in
    with torch.no_grad():
        want = pooled(
            *(torch.from_numpy(feeds[k]) for k in ("input_ids", "attention_mask", "token_type_ids"))
        )
    cosine = float((got * want.numpy()).sum(1).min())
    if cosine < _AGREEMENT:
        raise ConfigError(
            f"The ONNX export of {model_path} gives vectors that differ from the torch model's "
            f"(least cosine {cosine:.5f}, needed {_AGREEMENT}); set DESPATCH_EMBED_BACKEND=torch"
        )


def _quantize(fp32: Path, out: Path) -> None:
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise OfflineResourceError(
            f"Cannot quantise the ONNX model ({exc}). Install: pip install onnx==1.23.2"
        ) from exc
    check_export(fp32)
    logging.disable(logging.WARNING)  # the quantiser logs advice about pre-processing to root
    try:
        with _atomic(out) as tmp:
            try:
                quantize_dynamic(
                    str(fp32),
                    str(tmp),
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    # the fused kernels' outputs have no inferred type; they are all float
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                )
            except OSError as exc:
                raise _cache_error(out.parent, exc) from exc
            except Exception as exc:  # onnx and onnxruntime raise their own types on a bad graph
                raise OfflineResourceError(
                    f"Quantising {fp32} failed ({exc}); delete {fp32.parent} so it is exported "
                    "again, or set DESPATCH_EMBED_BACKEND=onnx"
                ) from exc
    finally:
        logging.disable(logging.NOTSET)
    _record(out, {"per_channel": True})


@contextmanager
def _atomic(out: Path) -> Iterator[Path]:
    """A temporary path beside ``out`` that becomes ``out`` only when the block succeeds, so
    two processes exporting at once, or a crash, never leave a half-written model."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=out.stem + ".", suffix=".tmp", dir=out.parent)
        os.close(fd)
    except OSError as exc:
        raise _cache_error(out.parent, exc) from exc
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o644)  # mkstemp makes it private; the export is shared like the model
        os.replace(tmp, out)
    except OSError as exc:
        raise _cache_error(out.parent, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)


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


def _read_provenance(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(out: Path, extra: dict[str, Any]) -> None:
    """Add ``out`` (its size, modification time, sha256, how it was made) to its folder's
    ``export.json``."""
    stat = out.stat()
    info = _read_provenance(out.parent)
    info.update({"recipe": RECIPE, "opset": _OPSET})
    files = info.setdefault("files", {})
    files[out.name] = {
        "bytes": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": sha256(out),
        **extra,
    }
    try:
        with _atomic(out.parent / "export.json") as tmp:
            tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")
    except ConfigError:
        out.unlink(missing_ok=True)  # unrecorded, it would be refused at load anyway
        raise


def export_all(model_path: Path | None, cache: Path) -> list[Path]:
    """Make (or find) the fp32 and int8 exports, and delete this model's exports of older
    recipes; what ``scripts/setup.sh`` runs."""
    import shutil

    path = Path(model_path) if model_path else default_model_path()
    made = [ensure_export(path, cache, quantized=q) for q in (False, True)]
    for folder in cache.glob(f"{model_fingerprint(path)}-*"):
        if folder != made[0].parent and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
    return made
