"""Hybrid retrieval over one consistent view of the store: dense and lexical (BM25) rankings
fused by reciprocal rank.

An ``IndexView`` is the store as of one commit (its ``token``): the committed chunks' texts and
typed metadata, their document versions and titles, a lexical index (BM25 in Tantivy,
``bot.tantivy_lexicon``, or the numpy arrays of ``bot.lexical``) and, for stores of up to
``Settings.exact_search_max_chunks`` chunks, every chunk vector for exact (repeatable) dense
search. Larger stores use Chroma's HNSW index, filtered to the view's committed versions.

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
import json
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.lexical import BM25
from bot.records import Passage
from bot.tantivy_lexicon import TantivyLexicon, scoped_ids
from despatch.errors import StoreError
from index.embedding import Embedder
from index.filters import Filters
from index.records import ChunkMeta
from index.store import Store

__all__ = ["Filters", "HybridRetriever", "IndexView", "Retrieval"]

log = logging.getLogger(__name__)

RRF_K = 60
_VIEW_FORMAT = 2
_KEEP_VIEWS = 2
SAVE_EVERY_S = 300.0  # a view reached by deltas is saved at most this often


@dataclass
class Retrieval:
    """Passages in fused order, the question's vector, the view's token, and stage timings."""

    passages: list[Passage]
    query_vector: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)
    token: str = ""


class IndexView:
    """The committed chunks of a store at one commit, with BM25 and (small stores) vectors."""

    def __init__(
        self,
        token: str,
        texts: dict[str, str],
        meta: Mapping[str, ChunkMeta],
        versions: dict[str, str],
        lexical: BM25 | TantivyLexicon,
        vectors: np.ndarray | None,
        titles: dict[str, tuple[str, str | None]] | None = None,
        ids: list[str] | None = None,
    ) -> None:
        self.token = token
        self.texts = texts
        self.meta = meta
        self.versions = versions
        self.lexical = lexical  # the hand-written BM25 arrays, or Tantivy (DESPATCH_LEXICAL)
        # The view's chunk order: rows of ``vectors`` (None: dense search goes to Chroma).
        self.ids = ids if ids is not None else (lexical.ids if isinstance(lexical, BM25) else list(texts))
        self.position = {cid: i for i, cid in enumerate(self.ids)}
        self.vectors = vectors
        # Each document's title and link, in the store's order: health and coverage are counted
        # from the view, never by reading every document record.
        self.titles = titles if titles is not None else {d: (d, None) for d in versions}
        self._kinds: dict[str, list[tuple[str, ChunkMeta]]] = {}
        self._people: tuple[frozenset[str], frozenset[str]] | None = None
        self._by_doc: dict[str, list[str]] | None = None
        self._lock = threading.Lock()

    def of_kind(self, kind: str) -> list[tuple[str, ChunkMeta]]:
        """The chunks of documents of one kind ("division"), in document order; worked out once."""
        found = self._kinds.get(kind)
        if found is None:
            ids = _field_equals(self.meta, "kind", kind, "article")
            found = sorted(((cid, self.meta[cid]) for cid in ids), key=lambda c: (c[1].doc_id, c[1].start))
            with self._lock:
                self._kinds[kind] = found
        return found

    @property
    def bm25(self) -> BM25:
        """The hand-written BM25 index, when it is this view's lexical index."""
        if not isinstance(self.lexical, BM25):
            raise AttributeError("this view's lexical index is Tantivy (DESPATCH_LEXICAL=tantivy)")
        return self.lexical

    def mask(self, filters: Filters) -> np.ndarray:
        """Which of the view's chunks ``filters`` allows, in the view's order; with Tantivy it
        is read from the engine's filter fields (the scope's chunks only), else checked chunk by
        chunk."""
        if isinstance(self.lexical, TantivyLexicon):
            mask = np.zeros(len(self.ids), dtype=bool)
            rows = [
                self.position[c]
                for c in scoped_ids(self.lexical, filters, len(self.ids) or 1)
                if c in self.position
            ]
            mask[rows] = True
            return mask
        return np.fromiter((filters.allows(self.meta[i]) for i in self.ids), dtype=bool, count=len(self.ids))

    def scoped(self, filters: Filters, limit: int) -> list[str] | None:
        """The chunk ids ``filters`` allows, from the Tantivy index's filter fields; None when
        there are more than ``limit`` (or the lexical index is the numpy BM25)."""
        if not isinstance(self.lexical, TantivyLexicon):
            return None
        found = scoped_ids(self.lexical, filters, limit + 1)
        return [c for c in found if c in self.position] if len(found) <= limit else None

    def lexical_search(
        self, query: str, k: int, filters: Filters, mask: np.ndarray | None
    ) -> list[tuple[str, float]]:
        """The lexical ranking within the scope (Tantivy applies it itself)."""
        if isinstance(self.lexical, TantivyLexicon):
            return self.lexical.search(query, k, filters)
        return self.lexical.search(query, k, mask)

    @property
    def generation(self) -> int:
        """The store's commit counter at this view's commit."""
        try:
            return int(self.token.rsplit("-", 2)[1])
        except (IndexError, ValueError):
            return 0

    def chunks_by_doc(self) -> dict[str, list[str]]:
        """Each document's chunk ids; worked out once per view."""
        if self._by_doc is None:
            by_doc: dict[str, list[str]] = {}
            for cid, doc_id in _field_items(self.meta, "doc_id"):
                by_doc.setdefault(str(doc_id), []).append(cid)
            self._by_doc = by_doc
        return self._by_doc

    def advance(self, store: Store, changed: set[str], token: str, exact_max: int) -> IndexView:
        """The view after commits that wrote or removed the documents ``changed``: their chunks
        are read back by document id and replace theirs; the rest is carried over. ``token`` is
        the commit the delta was read after (a later commit's delta is applied next time)."""
        catalog = store.catalog(sorted(changed))
        versions = {d: m.version for d, m in catalog.items()}
        keep_vectors = self.vectors is not None
        read = store.chunks_of(versions, embeddings=keep_vectors)
        by_doc = self.chunks_by_doc()
        dropped = {cid for d in changed for cid in by_doc.get(d, ())}
        texts = {cid: t for cid, t in self.texts.items() if cid not in dropped}
        added = {c.id: c.meta for c, _ in read}
        texts.update({c.id: c.text for c, _ in read})
        meta = _replaced(self.meta, dropped, added)
        new_versions = {d: v for d, v in self.versions.items() if d not in changed}
        new_versions.update(versions)
        kept = [cid for cid in self.ids if cid not in dropped]
        ids = kept + [c.id for c, _ in read]
        vectors = None
        if keep_vectors and len(ids) <= exact_max and self.vectors is not None:
            dim = self.vectors.shape[1]
            rows = [self.position[cid] for cid in kept]
            fresh = np.asarray([v for _, v in read], dtype=np.float32).reshape(len(read), dim)
            old = np.asarray(self.vectors[rows], dtype=np.float32).reshape(len(rows), dim)
            vectors = np.concatenate([old, fresh])
        lexical: BM25 | TantivyLexicon
        if isinstance(self.lexical, TantivyLexicon):  # the delta alone: about 12 ms a story
            lexical = self.lexical.advanced(
                changed, ((c.id, _lexical_text(c.text, c.meta), c.meta) for c, _ in read)
            )
        else:  # the arrays are rebuilt from the view's texts: proportional to the archive
            lexical = BM25.build((cid, _lexical_text(texts[cid], meta[cid])) for cid in ids)
        titles = {d: t for d, t in self.titles.items() if d not in changed}
        titles.update({d: (m.title, m.url) for d, m in catalog.items()})
        view = IndexView(token, texts, meta, new_versions, lexical, vectors, titles, ids)
        view_by_doc = {d: list(c) for d, c in by_doc.items() if d not in changed}
        for c, _ in read:
            view_by_doc.setdefault(c.meta.doc_id, []).append(c.id)
        view._by_doc = view_by_doc
        return view

    def people(self) -> tuple[frozenset[str], frozenset[str]]:
        """Every speaker and every party of the view's chunks; worked out once."""
        if self._people is None:
            speakers = frozenset(_field_values(self.meta, "speaker"))
            parties = frozenset(_field_values(self.meta, "party"))
            with self._lock:
                self._people = (speakers, parties)
        return self._people

    @classmethod
    def build(
        cls, store: Store, exact_max: int, engine: str = "bm25", workroot: Path | None = None
    ) -> IndexView:
        """Read the store; retried if a writer commits (or deletes) while it is being read.
        ``workroot``: where a Tantivy index keeps its working folder (None: in memory)."""
        for attempt in range(5):
            token = store.token()
            try:
                catalog = store.catalog()
                versions = {d: m.version for d, m in catalog.items()}
                chunks = list(store.iter_chunks(versions))
                ids = [c.id for c in chunks]
                vectors = None
                if len(chunks) <= exact_max:
                    found = store.vectors(ids)
                    if len(found) == len(ids):
                        vectors = np.stack([found[i] for i in ids]) if ids else np.zeros((0, 384), np.float32)
            except StoreError:
                # A writer in another process deleted what was being read ("Error finding id"):
                # reconnect and read the new commit.
                time.sleep(0.05 * (attempt + 1))
                store.refresh()
                continue
            if store.token() == token:
                triples = ((c.id, _lexical_text(c.text, c.meta), c.meta) for c in chunks)
                lexical = _lexicon(engine, triples, workroot)
                return cls(
                    token,
                    {c.id: c.text for c in chunks},
                    {c.id: c.meta for c in chunks},
                    versions,
                    lexical,
                    vectors,
                    {d: (m.title, m.url) for d, m in catalog.items()},
                    ids,
                )
        raise StoreError(
            f"The index at {store.where} changed five times while being read; try again when the "
            "ingest running against it has finished"
        )

    # -- persistence ---------------------------------------------------------------------
    def save(self, root: Path) -> None:
        """Write the view to ``root/<token>`` (atomically; keeps the newest few views)."""
        final = root / _safe(self.token)
        if final.exists():
            return
        tmp = root / f".tmp-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            if isinstance(self.lexical, BM25):
                self.lexical.save(tmp)
            else:  # this commit's segments, when it is the index's latest (else rebuilt at load)
                self.lexical.save(tmp / "tantivy")
            if self.vectors is not None:
                np.save(tmp / "vectors.npy", self.vectors, allow_pickle=False)
            rows = [[cid, self.texts[cid], self.meta[cid].to_metadata()] for cid in self.ids]
            head = {
                "format": _VIEW_FORMAT,
                "token": self.token,
                "versions": self.versions,
                "titles": self.titles,
                "lexical": "bm25" if isinstance(self.lexical, BM25) else "tantivy",
                "chunks": rows,
            }
            (tmp / "view.json").write_text(json.dumps(head, ensure_ascii=False), encoding="utf-8")
            try:
                tmp.rename(final)
            except OSError:  # another process saved the same view first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_mtime)
        for stale in old[:-_KEEP_VIEWS]:
            shutil.rmtree(stale, ignore_errors=True)

    @classmethod
    def load_newest(cls, root: Path, engine: str | None = None) -> IndexView | None:
        """The most recently saved view, whatever its commit, or None."""
        try:
            folders = sorted(
                (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_mtime
            )
        except OSError:
            return None
        for folder in reversed(folders):
            view = cls.load(root, folder.name, engine)  # a token's folder is named by it (_safe)
            if view is not None:
                return view
        return None

    @classmethod
    def load(cls, root: Path, token: str, engine: str | None = None) -> IndexView | None:
        """The saved view for ``token``, or None (absent, unreadable or another format), with
        the lexical index ``engine`` (default: the one it was saved with). A Tantivy index saved
        with the view is opened in a working folder under ``root``; else it is made from the
        view's texts."""
        folder = root / _safe(token)
        try:
            head = json.loads((folder / "view.json").read_text(encoding="utf-8"))
            if head.get("format") != _VIEW_FORMAT or head.get("token") != token:
                return None
            engine = engine or head.get("lexical", "bm25")
            lexical: BM25 | TantivyLexicon | None = None
            if engine == "bm25":
                lexical = BM25.load(folder)
            vectors = None
            if (folder / "vectors.npy").exists():
                vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, KeyError):
            return None
        texts = {cid: text for cid, text, _ in head["chunks"]}
        meta = _LazyMeta({cid: m for cid, _, m in head["chunks"]})
        titles = {d: (str(t), u) for d, (t, u) in head["titles"].items()}
        ids = [cid for cid, _, _ in head["chunks"]]
        if lexical is None and engine == "tantivy" and (folder / "tantivy").is_dir():
            lexical = TantivyLexicon.load(folder / "tantivy", root, len(ids))
        if lexical is None:
            triples = ((cid, _lexical_text(texts[cid], meta[cid]), meta[cid]) for cid in ids)
            lexical = _lexicon(engine, triples, root)
            if isinstance(lexical, TantivyLexicon):  # saved without it, or unreadable: keep this one
                shutil.rmtree(folder / "tantivy", ignore_errors=True)
                lexical.save(folder / "tantivy")
        return cls(token, texts, meta, dict(head["versions"]), lexical, vectors, titles, ids)


class _LazyMeta(Mapping[str, ChunkMeta]):
    """Chunk metadata read from a saved view, typed on first use (a server start need not
    build 100k records before its first question)."""

    def __init__(self, raw: dict[str, dict[str, Any]]) -> None:
        self._raw = raw
        self._typed: dict[str, ChunkMeta] = {}

    def __getitem__(self, chunk_id: str) -> ChunkMeta:
        typed = self._typed.get(chunk_id)
        if typed is None:
            typed = self._typed[chunk_id] = ChunkMeta.from_metadata(self._raw[chunk_id])
        return typed

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def raw_values(self, name: str) -> Iterator[tuple[str, object]]:
        """One field of every chunk, untyped (``ChunkMeta.to_metadata`` keys are its field names)."""
        for cid, raw in self._raw.items():
            yield cid, raw.get(name)


def _field_items(meta: Mapping[str, ChunkMeta], name: str) -> Iterator[tuple[str, object]]:
    if isinstance(meta, _LazyMeta):
        yield from meta.raw_values(name)
    else:
        for cid, m in meta.items():
            yield cid, getattr(m, name)


def _replaced(
    meta: Mapping[str, ChunkMeta], dropped: set[str], added: dict[str, ChunkMeta]
) -> Mapping[str, ChunkMeta]:
    """``meta`` without ``dropped`` and with ``added``, of the same kind (a saved view's lazy
    metadata stays lazy: nothing is typed that no question reads)."""
    if isinstance(meta, _LazyMeta):
        raw = {cid: m for cid, m in meta._raw.items() if cid not in dropped}
        raw.update({cid: m.to_metadata() for cid, m in added.items()})
        lazy = _LazyMeta(raw)
        lazy._typed.update({cid: m for cid, m in meta._typed.items() if cid not in dropped})
        lazy._typed.update(added)
        return lazy
    out = {cid: m for cid, m in meta.items() if cid not in dropped}
    out.update(added)
    return out


def _field_values(meta: Mapping[str, ChunkMeta], name: str) -> set[str]:
    if isinstance(meta, _LazyMeta):
        return {str(v) for _, v in meta.raw_values(name) if v}
    return {str(getattr(m, name)) for m in meta.values() if getattr(m, name)}


def _field_equals(meta: Mapping[str, ChunkMeta], name: str, value: str, default: str) -> list[str]:
    if isinstance(meta, _LazyMeta):
        return [cid for cid, v in meta.raw_values(name) if (v or default) == value]
    return [cid for cid, m in meta.items() if getattr(m, name) == value]


def _safe(token: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in token)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _lexicon(
    engine: str, chunks: Iterator[tuple[str, str, ChunkMeta]], workroot: Path | None = None
) -> BM25 | TantivyLexicon:
    """The lexical index ``engine`` names (``DESPATCH_LEXICAL``) over (id, text, metadata)."""
    if engine == "tantivy":
        return TantivyLexicon.build(chunks, workroot)
    return BM25.build((cid, text) for cid, text, _ in chunks)


def _lexical_text(text: str, meta: ChunkMeta) -> str:
    # Names of speakers and titles match lexically too ("what did Damian Green say").
    extra = " ".join(v for v in (meta.speaker, meta.title) if v)
    return f"{extra} {text}" if extra else text


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
