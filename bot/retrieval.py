"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.lexical import BM25
from bot.records import Passage
from index.embedding import Embedder
from index.store import Store

RRF_K = 60


@dataclass(frozen=True)
class Filters:
    """Optional restrictions: ISO dates (inclusive) and an exact source."""

    date_from: str | None = None
    date_to: str | None = None
    source: str | None = None

    def where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.date_from:
            clauses.append({"date_ord": {"$gte": int(self.date_from.replace("-", ""))}})
        if self.date_to:
            clauses.append({"date_ord": {"$lte": int(self.date_to.replace("-", ""))}})
        if self.source:
            clauses.append({"source": self.source})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def allows(self, meta: dict[str, Any]) -> bool:
        date_ord = meta.get("date_ord")
        if self.date_from and (date_ord is None or date_ord < int(self.date_from.replace("-", ""))):
            return False
        if self.date_to and (date_ord is None or date_ord > int(self.date_to.replace("-", ""))):
            return False
        return not (self.source and meta.get("source") != self.source)


@dataclass
class Retrieval:
    """Passages in fused order, the question's vector, and stage timings."""

    passages: list[Passage]
    query_vector: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)


class _LexicalIndex:
    """BM25 plus the chunk texts and metadata it was built from, at one store generation."""

    def __init__(self, store: Store) -> None:
        self.generation = store.generation()
        chunks = list(store.iter_chunks())
        self.texts = {c.id: c.text for c in chunks}
        self.meta = {c.id: c.metadata for c in chunks}
        self.versions = store.versions()
        self.bm25 = BM25((c.id, _lexical_text(c.text, c.metadata)) for c in chunks)


def _lexical_text(text: str, meta: dict[str, Any]) -> str:
    # Names of speakers and titles match lexically too ("what did Damian Green say").
    extra = " ".join(str(meta[k]) for k in ("speaker", "title") if meta.get(k))
    return f"{extra} {text}" if extra else text


class HybridRetriever:
    """Searches a ``Store``; the lexical index follows the store's generation counter."""

    def __init__(self, store: Store, embedder: Embedder, candidates: int = 30) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self._lexical: _LexicalIndex | None = None
        self._lock = threading.Lock()

    def lexical(self) -> _LexicalIndex:
        """The BM25 index, rebuilt from the store (never the source files) when it changed."""
        with self._lock:
            if self._lexical is None or self._lexical.generation != self.store.generation():
                self._lexical = _LexicalIndex(self.store)
            return self._lexical

    def current(self) -> _LexicalIndex:
        """The lexical index as last built, without asking the store whether it changed."""
        return self._lexical or self.lexical()

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
        lex = self.lexical()
        dense: list[tuple[str, float]] = []
        if mode in ("hybrid", "dense"):
            for chunk, sim in self.store.query(vector, self.candidates, filters.where()):
                if lex.versions.get(str(chunk.metadata.get("doc_id"))) == chunk.metadata.get("version"):
                    dense.append((chunk.id, sim))
        t2 = time.perf_counter()
        timings["dense"] = (t2 - t1) * 1000
        lexical: list[tuple[str, float]] = []
        if mode in ("hybrid", "lexical"):
            mask = None
            if filters.where() is not None:
                mask = np.fromiter((filters.allows(lex.meta[i]) for i in lex.bm25.ids), dtype=bool)
            lexical = lex.bm25.search(query, self.candidates, mask)
        t3 = time.perf_counter()
        timings["lexical"] = (t3 - t2) * 1000
        fused = _rrf([dense, lexical])
        passages = self._passages(fused, dict(dense), lex, vector, k)
        timings["fusion"] = (time.perf_counter() - t3) * 1000
        return Retrieval(passages, vector, timings)

    def _passages(
        self,
        fused: list[tuple[str, float]],
        dense: dict[str, float],
        lex: _LexicalIndex,
        vector: np.ndarray,
        k: int,
    ) -> list[Passage]:
        kept: list[Passage] = []
        for chunk_id, score in fused:
            meta = lex.meta.get(chunk_id)
            if meta is None:
                continue
            passage = Passage.from_metadata(chunk_id, lex.texts[chunk_id], meta, score)
            if any(_near_duplicate(passage, other) for other in kept):
                continue
            kept.append(passage)
            if len(kept) == k:
                break
        missing = [p.chunk_id for p in kept if p.chunk_id not in dense]
        if missing:
            dense = {**dense, **self._similarities(missing, vector)}
        return [Passage(**{**p.__dict__, "dense": round(dense.get(p.chunk_id, 0.0), 4)}) for p in kept]

    def _similarities(self, chunk_ids: list[str], vector: np.ndarray) -> dict[str, float]:
        return {cid: float(v @ vector) for cid, v in self.store.vectors(chunk_ids).items()}


def _rrf(rankings: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (chunk_id, _) in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _near_duplicate(a: Passage, b: Passage) -> bool:
    if a.doc_id == b.doc_id:
        overlap = min(a.end, b.end) - max(a.start, b.start)
        return overlap > 0.5 * min(a.end - a.start, b.end - b.start)
    return " ".join(a.text.split()).lower() == " ".join(b.text.split()).lower()
