"""Pushed documents prepared in a child process at lower CPU priority (``DESPATCH_PREPARER=worker``).

Chunking, entity annotation and embedding a story take CPU that readers' questions need, and a
long story takes minutes of it. In the serving process that work competes with the readers on
equal terms and, because the entity recogniser and the tokenisers hold the GIL for part of it,
holds up questions in this process too. ``WorkerPreparer`` does it in a child process whose
threads, once it has loaded its models at the server's priority, run at ``nice`` +10 (Linux
gives a nice 0 thread about ten times the CPU share of a nice 10 one when both want it), so
questions keep their CPU and a push still uses whatever they leave idle. The child touches no
store: the serving process reads what is stored and commits the result (``Indexer.prepare``
and ``Indexer.commit``).

Two lanes, so a small story is never queued behind a long one:
- texts up to ``big_chars`` go to one child that stays while pushes keep coming and exits after
  ``keep_s`` idle seconds;
- longer texts go, one at a time, to a fresh child that exits when its story is done, so the
  memory a long story took is given back to the system.

A child that dies (killed, out of memory) fails that push with ``IndexingError`` and nothing is
written; the next push starts a new one.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

from despatch.errors import IndexingError
from despatch.settings import Settings

if TYPE_CHECKING:
    import numpy as np

    from index.ingest import Chunker, ChunkingEmbedder
    from index.records import Chunk, Document

__all__ = ["WorkerPreparer", "renice"]

NICE = 10
BIG_CHARS = 20_000  # about 25 chunks, a few times a news story: longer ones take the other lane
KEEP_S = 120.0


class _Lane:
    """One child process at a time, started on demand and stopped after ``keep_s`` idle
    seconds (at once when ``keep_s`` is 0)."""

    def __init__(self, start: Callable[[], ProcessPoolExecutor], keep_s: float) -> None:
        self._start = start
        self.keep_s = keep_s
        self._pool: ProcessPoolExecutor | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._turn = threading.Lock()  # one story at a time in this lane; held: the lane is busy

    def run(self, doc: Document) -> tuple[list[Chunk], np.ndarray]:
        with self._turn:
            with self._lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                if self._pool is None:
                    self._pool = self._start()
                pool = self._pool
            try:
                return pool.submit(_prepare, doc).result()
            except BrokenProcessPool as exc:
                with self._lock:
                    if self._pool is pool:
                        self._pool = None
                raise IndexingError(
                    f"The process preparing document {doc.id!r} stopped before it finished "
                    "(killed, or out of memory: preparing a 5 MB story peaked at 1.5 GB in the "
                    "benchmark). Nothing was written; send it again, or split it into parts."
                ) from exc
            finally:
                self._release(pool)

    def _release(self, pool: ProcessPoolExecutor) -> None:
        """After a story (the lane's turn still held): stop the child, or time its idleness."""
        with self._lock:
            if self._pool is not pool:
                return
            if self.keep_s <= 0:
                self._pool = None
                pool.shutdown(wait=False)
                return
            self._timer = threading.Timer(self.keep_s, self._stop_if_idle, args=(pool,))
            self._timer.daemon = True
            self._timer.start()

    def _stop_if_idle(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            # A story that took the turn first keeps the child: it cancels this timer, or
            # (when the timer was already firing) uses the pool once this returns.
            if self._turn.locked() or self._pool is not pool:
                return
            self._pool = None
            self._timer = None
        pool.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return self._pool is not None

    def close(self) -> None:
        """Stop the child now; a story it was preparing fails (``IndexingError``: nothing was
        written, and the CMS sends it again)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            pool, self._pool = self._pool, None
        if pool is not None:
            # A server stopping must not wait minutes for a long story: the executor has no
            # public way to stop a running task, so its processes are ended directly.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)


class WorkerPreparer:
    """A ``Preparer`` (``index.ingest``) that chunks, annotates and embeds in child processes at
    lower CPU priority; ``make_embedder`` builds the embedding model there (a module-level
    function, so the child can import it; the composition root's takes the child offline first,
    though it inherits the server's offline environment anyway)."""

    def __init__(
        self,
        settings: Settings,
        make_embedder: Callable[[Settings], ChunkingEmbedder],
        nice: int = NICE,
        big_chars: int = BIG_CHARS,
        keep_s: float = KEEP_S,
    ) -> None:
        self.big_chars = big_chars
        start = _starter(settings, make_embedder, nice)
        self.small = _Lane(start, keep_s)
        self.big = _Lane(start, 0.0)

    def embedded(self, doc: Document) -> tuple[list[Chunk], np.ndarray]:
        lane = self.big if len(doc.text) > self.big_chars else self.small
        return lane.run(doc)

    def close(self) -> None:
        """Stop the child processes now (idle ones stop by themselves, too)."""
        self.small.close()
        self.big.close()


def _starter(
    settings: Settings, make_embedder: Callable[[Settings], ChunkingEmbedder], nice: int
) -> Callable[[], ProcessPoolExecutor]:
    def start() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),  # no copy of the server's threads
            initializer=_init,
            initargs=(settings, make_embedder, nice),
        )

    return start


# -- in the child -----------------------------------------------------------------------------
_chunker: Chunker | None = None
_failed: Exception | None = None  # what building the chunker raised
_WARM_UP = "Amber Rudd told the Home Affairs Committee in London on 3 March 2016 that 40 were removed."


def _init(settings: Settings, make_embedder: Callable[[Settings], ChunkingEmbedder], nice: int) -> None:
    """Build the chunker (imports and models) at the server's own priority, then lower every
    thread of this process to ``nice`` for the stories (threads started later inherit it).

    Starting takes about 6.5 s of CPU (measured: 6.7 s to the first small story on an idle
    machine, 25 ms for the next; the entity recogniser loads on first use, so a warm-up sentence
    is prepared here). At +10 while readers kept both cores busy, that start took 38-47 s in the
    push benchmark and over 120 s in a CI run of two servers under readers; at the server's
    priority it takes a fair share, and only the stories themselves yield to the readers."""
    global _chunker, _failed
    from index.ingest import Chunker
    from index.records import Document, Section

    try:
        _chunker = Chunker(settings, make_embedder(settings))
        # What loads on first use (the entity recogniser, the tokenisers, the model's first
        # pass) loads now, on one sentence, not in the first story.
        _chunker.embedded(
            Document(
                id="warm-up",
                source="cms",
                title="Warm-up",
                text=_WARM_UP,
                sections=(Section(0, len(_WARM_UP)),),
            )
        )
    except Exception as exc:  # an initializer's error would only break the pool: say it per story
        _failed = exc
    renice(nice)


def renice(nice: int) -> None:
    """Set this process's threads, those already running included, to ``nice`` (Linux: the
    niceness is each thread's own; elsewhere the process's)."""
    tasks = Path("/proc/self/task")
    tids = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]
    for tid in tids:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:  # a thread that ended meanwhile
            continue


def _prepare(doc: Document) -> tuple[list[Chunk], Any]:
    if _failed is not None:
        raise _failed
    assert _chunker is not None, "the worker was started without _init"
    return _chunker.embedded(doc)
