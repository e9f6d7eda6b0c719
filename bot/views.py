"""The serving view of a store: every committed chunk at one commit, with its lexical index.

An ``IndexView`` is the store as of one commit (its ``token``): the committed chunks' texts and
typed metadata, their document versions and titles, a lexical index (BM25 in Tantivy,
``bot.tantivy_lexicon``, or the numpy arrays of ``bot.lexical``) and, for stores of up to
``Settings.exact_search_max_chunks`` chunks, every chunk vector for exact (repeatable) dense
search. ``IndexView.build`` reads the whole store; ``advance`` changes a view by one delta (the
documents a commit wrote or removed, read back by document id). Views are saved beside the
store (``save``) and loaded at the next start (``load_newest``) instead of rebuilt. The
retriever that follows the store's commits with them is ``bot.retrieval.HybridRetriever``.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import orjson

from bot import layered
from bot.chunkmeta import LazyMeta, field_counts, field_equals, field_items, replaced
from bot.lexical import BM25
from bot.tantivy_lexicon import TantivyLexicon, scoped_ids
from despatch.errors import StoreError
from index.filters import Filters
from index.records import ChunkMeta
from index.store import Store

_VIEW_FORMAT = 2
_KEEP_VIEWS = 2


class IndexView:
    """The committed chunks of a store at one commit, with BM25 and (small stores) vectors."""

    def __init__(
        self,
        token: str,
        texts: Mapping[str, str],
        meta: Mapping[str, ChunkMeta],
        versions: Mapping[str, str],
        lexical: BM25 | TantivyLexicon,
        vectors: np.ndarray | None,
        titles: Mapping[str, tuple[str, str | None]] | None = None,
        ids: list[str] | None = None,
    ) -> None:
        self.token = token
        self.texts = texts
        self.meta = meta
        self.versions = versions
        self.lexical = lexical  # the hand-written BM25 arrays, or Tantivy (DESPATCH_LEXICAL)
        # The view's chunk order: rows of ``vectors`` (None: dense search goes to Chroma, and
        # the order, if ever asked for, is the texts').
        self._ids = ids if ids is not None else (lexical.ids if isinstance(lexical, BM25) else None)
        self._position: dict[str, int] | None = None
        self.vectors = vectors
        # Each document's title and link, in the store's order: health and coverage are counted
        # from the view, never by reading every document record.
        self.titles = titles if titles is not None else {d: (d, None) for d in versions}
        self._kinds: dict[str, list[tuple[str, ChunkMeta]]] = {}
        self._people: tuple[frozenset[str], frozenset[str]] | None = None
        self._people_counts: tuple[dict[str, int], dict[str, int]] | None = None
        self._by_doc: Mapping[str, list[str]] | None = None
        self._lock = threading.Lock()

    @property
    def ids(self) -> list[str]:
        """The view's chunk ids in its order (the rows of ``vectors``); worked out once."""
        if self._ids is None:
            self._ids = list(self.texts)
        return self._ids

    @property
    def position(self) -> dict[str, int]:
        """Each chunk id's row in ``ids``; worked out once."""
        if self._position is None:
            self._position = {cid: i for i, cid in enumerate(self.ids)}
        return self._position

    def of_kind(self, kind: str) -> list[tuple[str, ChunkMeta]]:
        """The chunks of documents of one kind ("division"), in document order; worked out once."""
        found = self._kinds.get(kind)
        if found is None:
            ids = field_equals(self.meta, "kind", kind, "article")
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
        return [c for c in found if c in self.texts] if len(found) <= limit else None

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

    def chunks_by_doc(self) -> Mapping[str, list[str]]:
        """Each document's chunk ids; worked out once per view."""
        if self._by_doc is None:
            by_doc: dict[str, list[str]] = {}
            for cid, doc_id in field_items(self.meta, "doc_id"):
                by_doc.setdefault(str(doc_id), []).append(cid)
            self._by_doc = by_doc
        return self._by_doc

    def advance(self, store: Store, changed: set[str], token: str, exact_max: int) -> IndexView:
        """The view after commits that wrote or removed the documents ``changed``: their chunks
        are read back by document id and replace theirs; the rest is shared with this view
        (``bot.layered``), so the work is proportional to the delta, not the archive. ``token``
        is the commit the delta was read after (a later commit's delta is applied next time)."""
        catalog = store.catalog(sorted(changed))
        versions = {d: m.version for d, m in catalog.items()}
        keep_vectors = self.vectors is not None
        read = store.chunks_of(versions, embeddings=keep_vectors)
        by_doc = self.chunks_by_doc()
        dropped = {cid for d in changed for cid in by_doc.get(d, ())}
        added = {c.id: c.meta for c, _ in read}
        texts = layered.changed(self.texts, dropped, {c.id: c.text for c, _ in read})
        meta = layered.changed(self.meta, dropped, added, flatten=replaced)
        new_versions = layered.changed(self.versions, changed, versions)
        ids = None
        vectors = None
        if keep_vectors and self.vectors is not None:  # small stores only (exact_max)
            kept = [cid for cid in self.ids if cid not in dropped]
            ids = kept + [c.id for c, _ in read]
            if len(ids) <= exact_max:
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
            ids = ids if ids is not None else [*(c for c in self.ids if c not in dropped), *added]
            lexical = BM25.build((cid, _lexical_text(texts[cid], meta[cid])) for cid in ids)
        titles = layered.changed(self.titles, changed, {d: (m.title, m.url) for d, m in catalog.items()})
        view = IndexView(token, texts, meta, new_versions, lexical, vectors, titles, ids)
        new_docs: dict[str, list[str]] = {}
        for c, _ in read:
            new_docs.setdefault(c.meta.doc_id, []).append(c.id)
        view._by_doc = layered.changed(by_doc, changed, new_docs)
        self._carry(view, dropped, added)
        return view

    def _carry(self, view: IndexView, dropped: set[str], added: dict[str, ChunkMeta]) -> None:
        """Give ``view`` this view's derived lists, changed by the delta, where they were made."""
        if self._people_counts is not None:
            counts = (dict(self._people_counts[0]), dict(self._people_counts[1]))
            for sign, metas in ((-1, (self.meta[c] for c in dropped)), (1, iter(added.values()))):
                for m in metas:
                    for tally, value in zip(counts, (m.speaker, m.party), strict=True):
                        if value:
                            tally[str(value)] = tally.get(str(value), 0) + sign
            view._people_counts = counts
        for kind, chunks in list(self._kinds.items()):
            fresh = [(cid, m) for cid, m in added.items() if (m.kind or "article") == kind]
            kept = [c for c in chunks if c[0] not in dropped]
            view._kinds[kind] = sorted(kept + fresh, key=lambda c: (c[1].doc_id, c[1].start))

    def people(self) -> tuple[frozenset[str], frozenset[str]]:
        """Every speaker and every party of the view's chunks; worked out once (a view made by
        ``advance`` from one that had them counts only the delta)."""
        if self._people is None:
            if self._people_counts is None:
                self._people_counts = (field_counts(self.meta, "speaker"), field_counts(self.meta, "party"))
            speakers, parties = (frozenset(k for k, n in c.items() if n > 0) for c in self._people_counts)
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
                "versions": dict(self.versions),
                "titles": dict(self.titles),
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
            # orjson: at 86,655 chunks the standard parser spent 1.3 s of a 1.9 s load here
            head = orjson.loads((folder / "view.json").read_bytes())
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
        meta = LazyMeta({cid: m for cid, _, m in head["chunks"]})
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
