"""BM25 over the store's chunks, held in memory as an inverted index of numpy arrays."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

from bot.text import terms


class BM25:
    """Okapi BM25 (k1=1.2, b=0.75); ``search`` scores only documents sharing a term."""

    def __init__(self, docs: Iterable[tuple[str, str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.ids: list[str] = []
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths: list[int] = []
        for i, (doc_id, text) in enumerate(docs):
            self.ids.append(doc_id)
            counts = Counter(terms(text))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                postings[term].append((i, tf))
        self.n = len(self.ids)
        self.lengths = np.asarray(lengths, dtype=np.float32)
        avg = float(self.lengths.mean()) if self.n else 1.0
        norm = k1 * (1.0 - b + b * self.lengths / max(avg, 1e-9))
        self._index: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.idf: dict[str, float] = {}
        for term, plist in postings.items():
            rows = np.fromiter((p[0] for p in plist), dtype=np.int32, count=len(plist))
            tfs = np.fromiter((p[1] for p in plist), dtype=np.float32, count=len(plist))
            idf = math.log(1.0 + (self.n - len(plist) + 0.5) / (len(plist) + 0.5))
            self.idf[term] = idf
            self._index[term] = (rows, (idf * tfs * (k1 + 1.0) / (tfs + norm[rows])).astype(np.float32))
        self.position = {doc_id: i for i, doc_id in enumerate(self.ids)}

    def term_idf(self, term: str) -> float:
        """IDF of a stemmed term; unseen terms get the highest possible weight."""
        return self.idf.get(term, math.log(1.0 + (self.n + 0.5) / 0.5))

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Top ``k`` (id, score); ``allowed`` is an optional boolean mask over documents."""
        qterms = set(terms(query))
        if not qterms or not self.n:
            return []
        scores = np.zeros(self.n, dtype=np.float32)
        for term in qterms:
            hit = self._index.get(term)
            if hit is not None:
                scores[hit[0]] += hit[1]
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        nonzero = int(np.count_nonzero(scores))
        if nonzero == 0:
            return []
        k = min(k, nonzero)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top]
