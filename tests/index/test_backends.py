"""Embedding backends: selection by settings, vectors that agree with torch, and the store's
refusal of vectors from a backend that makes different ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.assembly import assemble
from despatch.errors import ConfigError, StoreError
from despatch.settings import load_settings
from index.embedding import SentenceTransformerEmbedder, space_of, vector_space
from index.onnx_embedding import OnnxEmbedder, export_path
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
