"""Small fakes of the answerer's parts for unit tests of the logic around them: an embedder that
must never be called and a scorer that gives every row one probability. Both implement the real
interfaces (``index.embedding.Embedder``'s counting and embedding, ``bot.scorer.SentenceScorer``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.candidates import CandidateRanker
from bot.scorer import Candidates, SentenceScorer


class NoEmbedder:
    """For embed_sentences=0: the ranker must count wordpieces but never embed."""

    max_wordpieces = 256

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("embedded with embed_sentences=0")


class ConstantScorer:
    """Scores every row ``p``."""

    name = "constant"
    threshold = 0.3
    source: Path | None = None

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def score(self, candidates: Candidates) -> np.ndarray:
        rows = candidates.rows
        return np.full(len(rows), self.p)


def unit_idf(term: str) -> float:
    """Every term weighs the same."""
    return 1.0


def ranker(scorer: SentenceScorer | None = None) -> CandidateRanker:
    """A ranker over the fakes that never embeds (its sentences are scored by ``scorer``)."""
    return CandidateRanker(NoEmbedder(), unit_idf, scorer or ConstantScorer(), embed_sentences=0)  # type: ignore[arg-type]
