"""Embedding backends: selection by settings, vectors that agree with torch, and the store's
refusal of vectors from a backend that makes different ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.assembly import assemble
from despatch.errors import ConfigError, OfflineResourceError, StoreError
from despatch.settings import load_settings
from index.embedding import SentenceTransformerEmbedder, default_model_path, space_of, vector_space
from index.onnx_embedding import OnnxEmbedder
from index.onnx_export import ensure_export, export_path
from index.records import LEGACY_SPACE, VectorSpace
from tests.conftest import FOUNDING, make_settings

TEXTS = [
    "The Home Secretary resigned after misleading Parliament about removal targets.",
    "  Windrush: leading and trailing spaces are stripped, as sentence-transformers does.  ",
    "x",
    "MPs debated immigration in 2010. " * 60,  # longer than the model's 256 wordpieces
    "Gordon Brown and David Cameron clashed over the points-based system.",
]


@pytest.fixture(scope="module")
def backends() -> dict[str, object]:
    """One embedder per DESPATCH_EMBED_BACKEND, as the assembly builds them."""
    return {
        name: assemble(load_settings(embed_backend=name)).embedder for name in ("torch", "onnx", "onnx-int8")
    }


def test_default_backend_is_onnx_fp32(backends: dict[str, object]) -> None:
    assert load_settings().embed_backend == "onnx"
    assert isinstance(assemble(load_settings()).embedder, OnnxEmbedder)


def test_backend_is_chosen_by_the_setting(
    monkeypatch: pytest.MonkeyPatch, backends: dict[str, object]
) -> None:
    assert isinstance(backends["torch"], SentenceTransformerEmbedder)
    assert isinstance(backends["onnx"], OnnxEmbedder) and not backends["onnx"].quantized
    assert isinstance(backends["onnx-int8"], OnnxEmbedder) and backends["onnx-int8"].quantized
    monkeypatch.setenv("DESPATCH_EMBED_BACKEND", "onnx-int8")
    assert load_settings().embed_backend == "onnx-int8"
    monkeypatch.setenv("DESPATCH_EMBED_BACKEND", "tensorflow")
    with pytest.raises(ConfigError, match="embed_backend"):
        load_settings()


def test_onnx_on_cuda_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="DESPATCH_EMBED_BACKEND=torch"):
        _ = assemble(load_settings(embed_backend="onnx", device="cuda")).embedder


def test_fp32_onnx_gives_torch_vectors(backends: dict[str, object]) -> None:
    torch_vecs = np.asarray(backends["torch"].embed(TEXTS))  # type: ignore[attr-defined]
    onnx_vecs = np.asarray(backends["onnx"].embed(TEXTS))  # type: ignore[attr-defined]
    assert onnx_vecs.shape == torch_vecs.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(onnx_vecs, axis=1), 1.0, atol=1e-5)
    assert np.abs(onnx_vecs - torch_vecs).max() < 1e-5
    assert (onnx_vecs * torch_vecs).sum(axis=1).min() > 0.99999
    # Batch order and padding do not change a text's vector.
    alone = np.asarray(backends["onnx"].embed([TEXTS[0]]))  # type: ignore[attr-defined]
    assert np.abs(alone[0] - onnx_vecs[0]).max() < 1e-5


def test_int8_vectors_are_close_but_not_the_same(backends: dict[str, object]) -> None:
    torch_vecs = np.asarray(backends["torch"].embed(TEXTS))  # type: ignore[attr-defined]
    int8_vecs = np.asarray(backends["onnx-int8"].embed(TEXTS))  # type: ignore[attr-defined]
    cosines = (int8_vecs * torch_vecs).sum(axis=1)
    assert cosines.min() > 0.8  # the same space, roughly
    assert np.abs(int8_vecs - torch_vecs).max() > 1e-3  # but not interchangeable


def test_wordpiece_counts_and_limit_match_torch(backends: dict[str, object]) -> None:
    torch_e, onnx_e = backends["torch"], backends["onnx"]
    assert onnx_e.max_wordpieces == torch_e.max_wordpieces == 256  # type: ignore[attr-defined]
    counts = onnx_e.count_wordpieces(TEXTS)  # type: ignore[attr-defined]
    assert counts == torch_e.count_wordpieces(TEXTS)  # type: ignore[attr-defined]
    assert counts[3] > 256  # counted without truncation
    assert onnx_e.embed([]).shape == (0, 384)  # type: ignore[attr-defined]


def test_export_is_cached_under_the_model_fingerprint(backends: dict[str, object]) -> None:
    onnx_e = backends["onnx"]
    assert isinstance(onnx_e, OnnxEmbedder)
    onnx_e.embed(["warm"])
    path = export_path(onnx_e.cache, onnx_e.model_path, quantized=False)
    assert path.exists() and onnx_e.space.fingerprint in path.parent.name
    assert export_path(onnx_e.cache, onnx_e.model_path, quantized=True).name == "model-int8.onnx"


def test_spaces_torch_and_onnx_fp32_are_interchangeable(backends: dict[str, object]) -> None:
    spaces = {name: space_of(e) for name, e in backends.items()}
    assert spaces["torch"] is not None and spaces["onnx"] is not None and spaces["onnx-int8"] is not None
    assert spaces["torch"].compatible(spaces["onnx"])
    assert not spaces["torch"].compatible(spaces["onnx-int8"])
    other_model = VectorSpace(model="other", fingerprint="0" * 16, precision="fp32", backend="torch")
    assert not other_model.compatible(spaces["onnx"])
    assert LEGACY_SPACE.compatible(spaces["onnx"]) and not LEGACY_SPACE.compatible(spaces["onnx-int8"])
    assert VectorSpace.from_metadata(spaces["onnx"].to_metadata()) == spaces["onnx"]


def test_store_records_the_space_and_refuses_int8_over_fp32(
    tmp_path: Path, backends: dict[str, object]
) -> None:
    settings = make_settings(tmp_path / "store")
    parts = assemble(settings, create=True, embedder=backends["torch"])  # type: ignore[arg-type]
    assert parts.store.vector_space() is None  # empty: any backend may write it
    assert parts.indexer().ingest([FOUNDING]).added == 1
    held = parts.store.vector_space()
    assert held == vector_space(backends["torch"].model_path, "torch")  # type: ignore[attr-defined]

    # fp32 ONNX writes and answers from a torch store: the vectors are the same.
    onnx_parts = assemble(settings, embedder=backends["onnx"])  # type: ignore[arg-type]
    onnx_parts.bot()
    assert onnx_parts.indexer().ingest([FOUNDING]).unchanged == 1

    int8_parts = assemble(settings, embedder=backends["onnx-int8"])  # type: ignore[arg-type]
    with pytest.raises(StoreError) as refused:
        int8_parts.indexer().ingest([FOUNDING])
    message = str(refused.value)
    assert "torch, fp32" in message and "onnx-int8, int8" in message
    assert "DESPATCH_EMBED_BACKEND=onnx or torch" in message and "despatch ingest" in message
    with pytest.raises(StoreError, match="never mixed"):
        int8_parts.bot()
    assert parts.store.vector_space() == held  # nothing was written


def test_emptied_store_takes_a_new_backend(tmp_path: Path, backends: dict[str, object]) -> None:
    settings = make_settings(tmp_path / "store")
    parts = assemble(settings, create=True, embedder=backends["onnx-int8"])  # type: ignore[arg-type]
    parts.indexer().ingest([FOUNDING])
    held = parts.store.vector_space()
    assert held is not None and held.precision == "int8"
    fp32 = assemble(settings, embedder=backends["onnx"])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="DESPATCH_EMBED_BACKEND=onnx-int8"):
        fp32.bot()
    parts.store.remove_many([d.id for d in parts.store.documents()])
    assert fp32.indexer().ingest([FOUNDING]).added == 1
    now = fp32.store.vector_space()
    assert now is not None and now.backend == "onnx"


def _copy_export(backends: dict[str, object], cache: Path, *, as_fp32: str) -> Path:
    """A cache holding ``as_fp32`` ("model.onnx" or "model-int8.onnx" of the real cache) as its
    fp32 export, with the real cache's export.json."""
    import shutil

    onnx_e = backends["onnx"]
    assert isinstance(onnx_e, OnnxEmbedder)
    onnx_e.embed(["warm"])
    real = export_path(onnx_e.cache, onnx_e.model_path, quantized=False).parent
    target = export_path(cache, onnx_e.model_path, quantized=False)
    target.parent.mkdir(parents=True)
    shutil.copy(real / as_fp32, target)
    shutil.copy(real / "export.json", target.parent / "export.json")
    return target


def test_a_renamed_export_is_refused(tmp_path: Path, backends: dict[str, object]) -> None:
    """The int8 file under the fp32 name is not what export.json records: refused, with the fix."""
    target = _copy_export(backends, tmp_path / "cache", as_fp32="model-int8.onnx")
    renamed = OnnxEmbedder(None, tmp_path / "cache")
    with pytest.raises(OfflineResourceError, match="is not the file") as refused:
        renamed.embed(["x"])
    assert f"delete {target.parent}" in str(refused.value)


def test_an_export_changed_in_place_is_refused(tmp_path: Path, backends: dict[str, object]) -> None:
    """Bytes changed without changing the size (bit rot, a bad copy) are caught by the sha256,
    which is read again because the file's modification time is not the recorded one."""
    target = _copy_export(backends, tmp_path / "cache", as_fp32="model.onnx")
    with target.open("r+b") as f:
        f.seek(target.stat().st_size // 2)
        f.write(b"\x00" * 4096)
    with pytest.raises(OfflineResourceError, match="its bytes changed"):
        OnnxEmbedder(None, tmp_path / "cache").embed(["x"])


def test_the_right_export_is_accepted(tmp_path: Path, backends: dict[str, object]) -> None:
    _copy_export(backends, tmp_path / "cache", as_fp32="model.onnx")
    vecs = OnnxEmbedder(None, tmp_path / "cache").embed(TEXTS[:2])
    assert np.abs(vecs - np.asarray(backends["onnx"].embed(TEXTS[:2]))).max() < 1e-6  # type: ignore[attr-defined]


def test_an_unwritable_cache_names_the_setting(tmp_path: Path) -> None:
    """A cache that cannot be written (here under a plain file, which stops root too) is a
    ConfigError naming DESPATCH_ONNX_CACHE, never a raw OSError."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    for quantized in (False, True):
        with pytest.raises(ConfigError, match="DESPATCH_ONNX_CACHE") as raised:
            OnnxEmbedder(None, blocker / "onnx", quantized=quantized).embed(["x"])
        assert "Cannot write the ONNX export cache" in str(raised.value)
        assert isinstance(raised.value.__cause__, OSError)


def test_a_broken_fp32_export_fails_quantising_with_the_fix(tmp_path: Path) -> None:
    import hashlib
    import json

    model = default_model_path()
    fp32 = export_path(tmp_path, model, quantized=False)
    fp32.parent.mkdir(parents=True)
    garbage = b"not an onnx graph"
    fp32.write_bytes(garbage)
    (fp32.parent / "export.json").write_text(
        json.dumps({"files": {"model.onnx": {"bytes": 17, "sha256": hashlib.sha256(garbage).hexdigest()}}}),
        encoding="utf-8",
    )
    with pytest.raises(OfflineResourceError, match=r"Quantising .* failed") as raised:
        ensure_export(model, tmp_path, quantized=True)
    assert f"delete {fp32.parent}" in str(raised.value)
    assert not export_path(tmp_path, model, quantized=True).exists()
    assert not list(fp32.parent.glob("*.tmp"))  # nothing half-written is left


def test_an_export_that_disagrees_with_torch_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each export is checked against the torch model; one that fails the check is not kept."""
    import index.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "_AGREEMENT", 1.5)  # a cosine no export can reach
    model = default_model_path()
    with pytest.raises(ConfigError, match="differ from the torch model's"):
        ensure_export(model, tmp_path, quantized=False)
    folder = export_path(tmp_path, model, quantized=False).parent
    assert not (folder / "model.onnx").exists() and not list(folder.glob("*.tmp"))


def test_stale_temporary_exports_are_removed(tmp_path: Path) -> None:
    import os
    import time

    from index.onnx_export import _remove_stale

    old, young = tmp_path / "model.abc.tmp", tmp_path / "model.def.tmp"
    for f in (old, young):
        f.write_bytes(b"partial")
    hours_ago = time.time() - 7200
    os.utime(old, (hours_ago, hours_ago))
    _remove_stale(tmp_path)
    assert not old.exists() and young.exists()  # a young one may be another process's export


def test_interactive_calls_and_batches_give_the_same_vectors(backends: dict[str, object]) -> None:
    """A question (few texts) and an ingest batch run on two sessions of the same export, whose
    threads differ only in how they wait: the vectors are the same."""
    from index.onnx_embedding import INTERACTIVE

    onnx_e = backends["onnx"]
    assert isinstance(onnx_e, OnnxEmbedder)
    batch = (TEXTS * 3)[: INTERACTIVE + 2]
    together = np.asarray(onnx_e.embed(batch))
    alone = np.vstack([onnx_e.embed([t]) for t in batch])
    assert onnx_e.session(interactive=True) is not onnx_e.session(interactive=False)
    assert np.abs(together - alone).max() < 1e-5
