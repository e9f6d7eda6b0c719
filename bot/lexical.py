"""BM25 over the store's chunks: an inverted index of numpy arrays that saves to and loads from
a folder (memory-mapped), so a server need not re-tokenise the archive at every start."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bot.text import terms

_FORMAT = 1


class BM25:
    """Okapi BM25 (k1=1.2, b=0.75); ``search`` scores only documents sharing a term.

    Postings are stored as one compressed sparse row structure: the rows and precomputed
    term weights of term ``t`` are ``rows[offsets[i]:offsets[i+1]]`` where ``i = vocab[t]``.
    """

    def __init__(
        self,
        ids: list[str],
        vocab: dict[str, int],
        offsets: np.ndarray,
        rows: np.ndarray,
        weights: np.ndarray,
        df: np.ndarray,
    ) -> None:
        self.ids = ids
        self.n = len(ids)
        self.vocab = vocab
        self.offsets = offsets
        self.rows = rows
        self.weights = weights
        self.df = df
        self.position = {doc_id: i for i, doc_id in enumerate(ids)}

    @classmethod
    def build(cls, docs: Iterable[tuple[str, str]], k1: float = 1.2, b: float = 0.75) -> BM25:
        """Index ``(id, text)`` pairs."""
        ids: list[str] = []
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths: list[int] = []
        for i, (doc_id, text) in enumerate(docs):
            ids.append(doc_id)
            counts = Counter(terms(text))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                postings[term].append((i, tf))
        n = len(ids)
        lens = np.asarray(lengths, dtype=np.float32)
        avg = float(lens.mean()) if n else 1.0
        norm = k1 * (1.0 - b + b * lens / max(avg, 1e-9))
        vocab = {term: i for i, term in enumerate(sorted(postings))}
        offsets = np.zeros(len(vocab) + 1, dtype=np.int64)
        df = np.zeros(len(vocab), dtype=np.int32)
        for term, i in vocab.items():
            df[i] = len(postings[term])
        offsets[1:] = np.cumsum(df)
        rows = np.empty(int(offsets[-1]), dtype=np.int32)
        weights = np.empty(int(offsets[-1]), dtype=np.float32)
        for term, i in vocab.items():
            plist = postings[term]
            r = np.fromiter((p[0] for p in plist), dtype=np.int32, count=len(plist))
            tfs = np.fromiter((p[1] for p in plist), dtype=np.float32, count=len(plist))
            idf = _idf(n, len(plist))
            rows[offsets[i] : offsets[i + 1]] = r
            weights[offsets[i] : offsets[i + 1]] = idf * tfs * (k1 + 1.0) / (tfs + norm[r])
        return cls(ids, vocab, offsets, rows, weights, df)

    def term_idf(self, term: str) -> float:
        """IDF of a stemmed term; unseen terms get the highest possible weight."""
        i = self.vocab.get(term)
        return _idf(self.n, int(self.df[i]) if i is not None else 0)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Top ``k`` (id, score); ``allowed`` is an optional boolean mask over documents."""
        qterms = set(terms(query))
        if not qterms or not self.n:
            return []
        scores = np.zeros(self.n, dtype=np.float32)
        for term in qterms:
            i = self.vocab.get(term)
            if i is not None:
                a, b = int(self.offsets[i]), int(self.offsets[i + 1])
                scores[self.rows[a:b]] += self.weights[a:b]
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        nonzero = int(np.count_nonzero(scores))
        if nonzero == 0:
            return []
        k = min(k, nonzero)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top]

    # -- persistence ---------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (which must exist and be empty or disposable)."""
        for name in ("offsets", "rows", "weights", "df"):
            np.save(folder / f"bm25-{name}.npy", getattr(self, name), allow_pickle=False)
        vocab = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / "bm25.json").write_text(
            json.dumps({"format": _FORMAT, "ids": self.ids, "vocab": vocab}, ensure_ascii=False),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, folder: Path) -> BM25:
        """Read an index written by ``save``; the postings are memory-mapped."""
        head = json.loads((folder / "bm25.json").read_text(encoding="utf-8"))
        if head.get("format") != _FORMAT:
            raise ValueError(f"unknown BM25 format {head.get('format')!r}")
        arrays = {
            name: np.load(folder / f"bm25-{name}.npy", mmap_mode="r", allow_pickle=False)
            for name in ("offsets", "rows", "weights", "df")
        }
        vocab = {term: i for i, term in enumerate(head["vocab"])}
        return cls(
            list(head["ids"]), vocab, arrays["offsets"], arrays["rows"], arrays["weights"], arrays["df"]
        )


def _idf(n: int, df: int) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))
