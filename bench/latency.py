"""Answer latency at archive sizes of 1k, 10k and 100k chunks, by stage, in a warm process.

Archives come from ``bench.archive``. Embedding 100k chunks with the real model takes over an
hour on two CPU cores, so archive stores are built with ``PoolEmbedder``: every distinct
source sentence is embedded once with the real model, and a chunk's vector is the normalised
mean of its sentences' vectors. Questions are still embedded by the real model at query time,
and everything else (Chroma, BM25, fusion, sentence selection, citation checks) is the product.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.archive import sentence_pool, write_archive
from bench.stats import p50_p95
from despatch.settings import PROJECT_ROOT, Settings, load_settings
from index.sentences import sentences

CACHE = PROJECT_ROOT / "bench" / ".cache"
STAGES = ("embed", "dense", "lexical", "fusion", "select", "score", "cite", "total")


class PoolEmbedder:
    """Chunk vectors from precomputed sentence vectors (see the module docstring)."""

    def __init__(self, real: Any, pool: Sequence[str] | None = None) -> None:
        self.real = real
        pool = tuple(pool) if pool is not None else sentence_pool()
        key = hashlib.sha256("\n".join(pool).encode()).hexdigest()[:12]
        path = CACHE / f"pool-{key}.npy"
        if path.exists():
            vectors = np.load(path)
        else:
            CACHE.mkdir(parents=True, exist_ok=True)
            vectors = real.embed(list(pool))
            np.save(path, vectors)
        self.index = {s: i for i, s in enumerate(pool)}
        self.vectors = vectors

    @property
    def max_wordpieces(self) -> int:
        return int(self.real.max_wordpieces)

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        return list(self.real.count_wordpieces(texts))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.vectors.shape[1]), dtype=np.float32)
        missing: list[tuple[int, str]] = []
        for row, text in enumerate(texts):
            ids = [self.index.get(text[s:e]) for s, e in sentences(text)]
            known = [i for i in ids if i is not None]
            if known:
                out[row] = self.vectors[known].mean(axis=0)
            else:
                missing.append((row, text))
        if missing:
            real = self.real.embed([t for _, t in missing])
            for (row, _), vec in zip(missing, real, strict=True):
                out[row] = vec
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


def archive_store(chunks: int, real: Any, seed: int = 7, pool: bool = True) -> tuple[Settings, Any]:
    """A store of about ``chunks`` chunks of the synthetic archive, built once and cached.

    ``pool=False`` embeds every chunk with the real model (fine for small archives).
    """
    from bot.assembly import assemble

    documents = max(1, round(chunks / 4.6))  # about 4.6 chunks per synthetic article
    folder = CACHE / f"archive-{seed}-{documents}{'' if pool else '-real'}"
    settings = load_settings(store=folder / "store")
    marker = folder / "built.json"
    if not marker.exists():
        files = write_archive(folder / "docs", documents, seed)
        began = time.perf_counter()
        parts = assemble(settings, create=True, embedder=PoolEmbedder(real) if pool else real)
        summary = parts.indexer().ingest(files)
        marker.write_text(
            json.dumps({"chunks": summary.chunks_written, "seconds": time.perf_counter() - began})
        )
    return settings, assemble(settings).store


def questions(n: int) -> list[str]:
    """At least ``n`` real questions: the gold sets, then SQuAD questions."""
    from evals.gold import load_gold

    qs = [
        c.question
        for g in ("founding", "hansard")
        for c in load_gold(PROJECT_ROOT / "evals" / "gold" / f"{g}.jsonl")
        if not c.history
    ]
    data = json.loads(
        (PROJECT_ROOT / "data" / "corpora" / "squad-v2-dev" / "squad-v2-dev-part-a.json").read_text()
    )
    squad = [
        q["question"]
        for a in data["data"]
        for p in a["paragraphs"]
        for q in p["qas"]
        if not q["is_impossible"]
    ]
    qs += squad[:: max(1, len(squad) // n)]
    return qs[: max(n, 1)]


def timed_answers(bot: Any, n: int) -> list[dict[str, float]]:
    """The stage timings (ms) of ``n`` real questions' answers, after 5 warm-up questions that are
    not measured (nor cached for the measured ones)."""
    qs = questions(n + 5)
    for q in qs[:5]:
        bot.ask(q)
    return [bot.ask(q).timings_ms for q in qs[5:]]


def measure(chunks: int, n_questions: int, real: Any, pool: bool = True) -> dict[str, Any]:
    from bot.assembly import assemble

    settings, store = archive_store(chunks, real, pool=pool)
    began = time.perf_counter()
    bot = assemble(settings, embedder=real).bot()
    bot.retriever.view()
    warm = time.perf_counter() - began
    rows = timed_answers(bot, n_questions)
    stages = {s: p50_p95([r.get(s, 0.0) for r in rows]) for s in STAGES}
    return {
        "chunks": store.count_chunks(),
        "questions": len(rows),
        "index_load_s": round(warm, 2),
        "stages_ms": stages,
    }
