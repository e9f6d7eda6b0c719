"""Hybrid retrieval over one consistent view of the store: dense and lexical (BM25) rankings
fused by reciprocal rank.

An ``IndexView`` (``bot.views``) is the store as of one commit: its chunks, a lexical index and,
for small stores, every chunk vector for exact (repeatable) dense search. Larger stores use
Chroma's HNSW index, filtered to the view's committed versions.

The retriever checks the store's token before each search. When any process has committed, one
background thread prepares the next view while questions keep being answered from the current
one, and questions switch to the new view atomically once it is ready (a question waits at most
``wait_s`` for it, so a small push is seen by the very next question). The next view changes by
the commit's delta: the store's journal names the documents written or removed since the
current view's commit, and only their chunks are read back, by document id; a full read happens
only when the journal cannot say (a new collection, a commit too large or too old to journal).
Dense and lexical results always come from the same view. Views are saved beside the store
(``IndexView.save``) and loaded at the next start instead of rebuilt.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bot.lexical import BM25
from bot.records import Passage
from bot.tantivy_lexicon import TantivyLexicon
from bot.views import IndexView
from despatch.errors import StoreError
from index.embedding import Embedder
from index.filters import Filters
from index.store import Store

__all__ = ["Filters", "HybridRetriever", "IndexView", "Retrieval"]

log = logging.getLogger(__name__)

RRF_K = 60
SAVE_EVERY_S = 300.0  # a view reached by deltas is saved at most this often


@dataclass
class Retrieval:
    """Passages in fused order, the question's vector, the view's token, and stage timings."""

    passages: list[Passage]
    query_vector: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)
    token: str = ""


class HybridRetriever:
    """Searches a ``Store`` through an ``IndexView`` that follows the store's commits."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        candidates: int = 30,
        exact_max: int = 20_000,
        cache: Path | None = None,
        wait_s: float = 0.25,
        lexical: str = "bm25",
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.exact_max = exact_max
        self.cache = cache
        self.wait_s = wait_s
        self.lexical = lexical
        self._view: IndexView | None = None
        self._lock = threading.Lock()
        self._updater: threading.Thread | None = None
        self.updates = {"delta": 0, "full": 0, "failed": 0}  # how views were made, for /healthz
        self._saved_at = time.monotonic()  # a view loaded or built at start is already saved
        self._seen: tuple[str, float] = ("", -math.inf)  # the store's token as last read, and when

    def view(self) -> IndexView:
        """The view to answer from: the latest commit's when it is ready within ``wait_s``,
        else the current one while the next is prepared in the background. Only the very first
        view (nothing to answer from yet) is waited for."""
        token = self.store.token()
        self._seen = (token, time.monotonic())
        current = self._view
        if current is not None and current.token == token:
            return current
        if current is None:
            with self._lock:
                if self._view is None:
                    self._view = self._full(token)
                return self._view
        self._updating().join(self.wait_s)
        return self._view or current

    def follow(self, timeout: float) -> bool:
        """Wait (up to ``timeout`` seconds) until the view is the store's latest commit; for a
        writer in this process that wants its write answered from when it returns."""
        deadline = time.monotonic() + timeout
        while (current := self._view) is None or current.token != self.store.token():
            if current is None:
                self.view()
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._updating().join(left)
        return True

    def _updating(self) -> threading.Thread:
        """The one thread preparing the next view (started when none is running)."""
        with self._lock:
            if self._updater is None or not self._updater.is_alive():
                self._updater = threading.Thread(target=self._update, name="despatch-view", daemon=True)
                self._updater.start()
            return self._updater

    def _update(self) -> None:
        """Advance the view commit by commit until it is the store's latest. A view reached by
        deltas is saved at most every ``SAVE_EVERY_S`` (writing it is proportional to the
        archive); a process that starts later loads the newest saved view and takes the
        journal's delta from there."""
        saved = True
        for _ in range(100):
            current, token = self._view, self.store.token()
            if current is None or current.token == token:
                break
            try:
                if not self.store.made_since(current.token, token):
                    self.store.refresh()  # another process wrote: drop the client's stale caches
                changed = self.store.changed_since(current.token)
                if changed is None:
                    self._view = self._full(token, save=False)
                    self.updates["full"] += 1
                else:
                    self._view = current.advance(self.store, changed, token, self.exact_max)
                    self.updates["delta"] += 1
                saved = False
            except Exception as exc:  # e.g. a writer deleted what was being read: try again
                # Never let the thread die silently: readers would answer from this view forever.
                self.updates["failed"] += 1
                log.warning("the index view was not updated (%s); retrying", exc, exc_info=True)
                if self.updates["failed"] % 5 == 0:
                    break  # the next question starts a new attempt
                time.sleep(0.2)
        view = self._view
        due = time.monotonic() - self._saved_at >= SAVE_EVERY_S
        if not saved and due and view is not None and self.cache is not None:
            self._saved_at = time.monotonic()
            with contextlib.suppress(OSError):
                view.save(self.cache)

    def _full(self, token: str, save: bool = True) -> IndexView:
        """The view of ``token``: a saved one of it; else the newest saved view advanced by the
        journal's delta since; else one read from the whole store (and saved)."""
        view = IndexView.load(self.cache, token, self.lexical) if self.cache else None
        if view is None and self.cache is not None:
            older = IndexView.load_newest(self.cache, self.lexical)
            changed = self.store.changed_since(older.token) if older is not None else None
            if older is not None and changed is not None:
                self.updates["delta"] += 1
                return older.advance(self.store, changed, token, self.exact_max)
        if view is None:
            view = IndexView.build(self.store, self.exact_max, self.lexical, self.cache)
            if save and self.cache is not None:
                self._saved_at = time.monotonic()
                with contextlib.suppress(OSError):
                    view.save(self.cache)
        return view

    @property
    def loaded(self) -> IndexView | None:
        """The view answers come from now; None before the first is loaded (never waits)."""
        return self._view

    def seen(self, max_age_s: float) -> str | None:
        """The store's commit token as a question read it at most ``max_age_s`` ago, or None
        (never reads the store: for health checks under load)."""
        token, at = self._seen
        return token if time.monotonic() - at <= max_age_s else None

    def current(self) -> IndexView:
        """The view as last loaded, without asking the store whether it changed."""
        return self._view or self.view()

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term in the current view."""
        return self.current().lexical.term_idf(term)

    def search(
        self, query: str, k: int = 6, filters: Filters | None = None, mode: str = "hybrid"
    ) -> Retrieval:
        """The ``k`` best distinct passages for ``query`` (mode: hybrid, dense or lexical)."""
        filters = filters or Filters()
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        vector = self.embedder.embed([query])[0]
        t1 = time.perf_counter()
        timings["embed"] = (t1 - t0) * 1000
        view = self.view()
        mask = None
        needs_mask = isinstance(view.lexical, BM25) or view.vectors is not None
        if not filters.empty and needs_mask:
            mask = view.mask(filters)
        dense: list[tuple[str, float]] = []
        if mode in ("hybrid", "dense"):
            dense = self._dense(view, vector, filters, mask)
        t2 = time.perf_counter()
        timings["dense"] = (t2 - t1) * 1000
        lexical: list[tuple[str, float]] = []
        if mode in ("hybrid", "lexical"):
            lexical = view.lexical_search(query, self.candidates, filters, mask)
        t3 = time.perf_counter()
        timings["lexical"] = (t3 - t2) * 1000
        fused = _rrf([dense, lexical])
        passages = self._passages(fused, dict(dense), view, vector, k)
        timings["fusion"] = (time.perf_counter() - t3) * 1000
        return Retrieval(passages, vector, timings, view.token)

    def _dense(
        self, view: IndexView, vector: np.ndarray, filters: Filters, mask: np.ndarray | None
    ) -> list[tuple[str, float]]:
        if view.vectors is not None:
            if not len(view.ids):
                return []
            sims = np.asarray(view.vectors @ vector, dtype=np.float32)
            if mask is not None:
                sims = np.where(mask, sims, -np.inf)
            n = min(self.candidates, int(np.isfinite(sims).sum()))
            if n <= 0:
                return []
            top = np.argpartition(-sims, n - 1)[:n]
            top = top[np.lexsort((top, -sims[top]))]
            return [(view.ids[i], float(sims[i])) for i in top]
        if not filters.empty:
            # A scope of up to exact_max chunks (a story, a speaker) is searched exactly over
            # its own vectors: cheaper than Chroma's filtered HNSW search, and Chroma cannot
            # match names loosely. A wider one goes to Chroma with its where clause.
            if isinstance(view.lexical, TantivyLexicon):
                allowed = view.scoped(filters, self.exact_max)
            elif filters.by_person:
                allowed = [view.ids[i] for i in np.flatnonzero(view.mask(filters))]
            else:
                allowed = None
            if allowed is not None and len(allowed) <= self.exact_max:
                return self._exact(allowed, vector)
        n = self.candidates * (10 if filters.by_person else 1)
        try:
            hits = self.store.query(vector, n, filters, view.versions)
        except StoreError:  # the HNSW segment changed under this client: reconnect, once
            self.store.refresh()
            hits = self.store.query(vector, n, filters, view.versions)
        # A chunk committed after the view was taken is left for the next view.
        found = [
            (chunk.id, sim) for chunk, sim in hits if chunk.id in view.meta and filters.allows(chunk.meta)
        ]
        return found[: self.candidates]

    def _exact(self, chunk_ids: list[str], vector: np.ndarray) -> list[tuple[str, float]]:
        try:
            found = self.store.vectors(chunk_ids)
        except StoreError:
            self.store.refresh()
            found = self.store.vectors(chunk_ids)
        scored = sorted(((float(v @ vector), cid) for cid, v in found.items()), key=lambda t: -t[0])
        return [(cid, sim) for sim, cid in scored[: self.candidates]]

    def _passages(
        self,
        fused: list[tuple[str, float]],
        dense: dict[str, float],
        view: IndexView,
        vector: np.ndarray,
        k: int,
    ) -> list[Passage]:
        kept: list[Passage] = []
        for chunk_id, score in fused:
            meta = view.meta.get(chunk_id)
            if meta is None:
                continue
            passage = Passage.of(chunk_id, view.texts[chunk_id], meta, score)
            if any(_near_duplicate(passage, other) for other in kept):
                continue
            kept.append(passage)
            if len(kept) == k:
                break
        missing = [p.chunk_id for p in kept if p.chunk_id not in dense]
        if missing:
            dense = {**dense, **self._similarities(view, missing, vector)}
        return [replace(p, dense=round(dense.get(p.chunk_id, 0.0), 4)) for p in kept]

    def _similarities(self, view: IndexView, chunk_ids: list[str], vector: np.ndarray) -> dict[str, float]:
        if view.vectors is not None:
            return {cid: float(view.vectors[view.position[cid]] @ vector) for cid in chunk_ids}
        try:
            found = self.store.vectors(chunk_ids)
        except StoreError:  # removed by another process since the view was taken: unknown
            return {}
        return {cid: float(v @ vector) for cid, v in found.items()}


def _rrf(rankings: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """Reciprocal rank fusion. Ties break by the best single rank, then by the earlier ranking
    (dense before lexical), never by chunk id: ids change with a document's path or version,
    and the order of passages must not."""
    scores: dict[str, float] = {}
    best: dict[str, tuple[int, int]] = {}
    for which, ranking in enumerate(rankings):
        for rank, (chunk_id, _) in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
            best[chunk_id] = min(best.get(chunk_id, (rank, which)), (rank, which))
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]]))


def _near_duplicate(a: Passage, b: Passage) -> bool:
    if a.doc_id == b.doc_id:
        overlap = min(a.end, b.end) - max(a.start, b.start)
        return overlap > 0.5 * min(a.end - a.start, b.end - b.start)
    return " ".join(a.text.split()).lower() == " ".join(b.text.split()).lower()
