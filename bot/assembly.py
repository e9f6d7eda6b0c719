"""The one place that builds Despatch's parts from ``Settings``.

Entry points (the CLI, the server start-up), the evaluations and the benchmarks all get their
store, embedding model, indexer and ``Bot`` from ``assemble``; it is also the only caller of
``go_offline``, which must run before any model or tokenizer is loaded.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from despatch.errors import ConfigError
from despatch.offline import go_offline
from despatch.settings import Settings

if TYPE_CHECKING:
    from bot.core import Bot
    from bot.scorer import SentenceScorer
    from index.embedding import Embedder, SentenceTransformerEmbedder
    from index.ingest import Indexer
    from index.onnx_embedding import OnnxEmbedder
    from index.store import Store


class Parts:
    """The parts of one Despatch process over one store; each is built on first use."""

    def __init__(self, settings: Settings, create: bool, embedder: Embedder | None) -> None:
        self.settings = settings
        self._create = create
        self._embedder = embedder

    @cached_property
    def store(self) -> Store:
        from index.store import Store

        return Store.open(self.settings, create=self._create)

    @cached_property
    def embedder(self) -> Embedder | SentenceTransformerEmbedder | OnnxEmbedder:
        if self._embedder is not None:
            return self._embedder
        s = self.settings
        if s.embed_backend == "torch":
            from index.embedding import SentenceTransformerEmbedder

            return SentenceTransformerEmbedder(s.model_path, s.device, s.batch_size)
        if s.device == "cuda":
            raise ConfigError(
                f"DESPATCH_EMBED_BACKEND={s.embed_backend} runs on the CPU; for DESPATCH_DEVICE=cuda "
                "set DESPATCH_EMBED_BACKEND=torch"
            )
        from index.onnx_embedding import OnnxEmbedder

        # DESPATCH_DEVICE=auto means "CUDA when torch has it"; the ONNX backends are CPU-only.
        return OnnxEmbedder(
            s.model_path, s.onnx_cache, quantized=s.embed_backend == "onnx-int8", batch_size=s.batch_size
        )

    @cached_property
    def scorer(self) -> SentenceScorer:
        from bot.scorer import build_scorer

        return build_scorer(self.settings)

    def indexer(self) -> Indexer:
        """An ``Indexer`` writing into the store with the embedding model."""
        from index.ingest import Indexer

        return Indexer(self.settings, self.store, self.embedder)  # type: ignore[arg-type]

    def bot(self, answerer: str | None = None, scorer: SentenceScorer | None = None) -> Bot:
        """A ``Bot`` over the store (``answerer`` overrides ``Settings.answerer``, ``scorer``
        the scorer ``Settings.scorer`` names)."""
        from bot.core import Bot

        return Bot(self.settings, self.store, self.embedder, answerer, scorer or self.scorer)


def assemble(settings: Settings, *, create: bool = False, embedder: Embedder | None = None) -> Parts:
    """Set the process up to stay offline and return its parts, built lazily.

    ``create`` makes an empty store when there is none; ``embedder`` replaces the model named
    by the settings (the benchmarks pass a cheaper one).
    """
    go_offline(settings)
    return Parts(settings, create, embedder)
