"""The composition root: the one place that turns ``Settings`` into Despatch's ready parts.

Entry points (the CLI, the server start-up), set-up steps, the evaluations and the benchmarks get
their store, embedding model, indexer, retriever, scorer, answerers and ``Bot`` from
``assemble``. Implementations are chosen by name from small dictionaries of named constructors:
``EMBEDDERS`` (``DESPATCH_EMBED_BACKEND``), ``PREPARERS`` (``DESPATCH_PREPARER``), ``SCORERS``
(``DESPATCH_SCORER``) and ``ANSWERERS`` (``DESPATCH_ANSWERER``); a new implementation is one
module plus one entry. Parts
build nothing until first used, and ``Bot`` builds nothing itself.

Going offline is one explicit call, ``offline(settings)``: ``assemble`` makes it first, and a
step that loads a model without the other parts (a set-up script, a fit) calls it itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from despatch.errors import ConfigError
from despatch.offline import go_offline
from despatch.settings import Settings

if TYPE_CHECKING:
    from bot.answering import Answerer, ExtractiveAnswerer, Idf
    from bot.core import Bot
    from bot.divisions import DivisionAnswerer
    from bot.retrieval import HybridRetriever
    from bot.scorer import SentenceScorer
    from index.embedding import Embedder
    from index.ingest import Indexer, Preparer
    from index.store import Store

T = TypeVar("T")


def _torch(s: Settings) -> Embedder:
    from index.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(s.model_path, s.device, s.batch_size)


def _onnx(s: Settings) -> Embedder:
    from index.onnx_embedding import OnnxEmbedder

    if s.device == "cuda":
        raise ConfigError(
            f"DESPATCH_EMBED_BACKEND={s.embed_backend} runs on the CPU; for DESPATCH_DEVICE=cuda "
            "set DESPATCH_EMBED_BACKEND=torch"
        )
    # DESPATCH_DEVICE=auto means "CUDA when torch has it"; the ONNX backends are CPU-only.
    return OnnxEmbedder(
        s.model_path,
        s.onnx_cache,
        quantized=s.embed_backend == "onnx-int8",
        batch_size=s.batch_size,
        threads=s.embed_threads,
    )


# The embedding backends by name (DESPATCH_EMBED_BACKEND); the precision each makes is in
# index.embedding.BACKENDS.
EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "torch": _torch,
    "onnx": _onnx,
    "onnx-int8": _onnx,
}


def _embedder(s: Settings) -> Embedder:
    """The embedding model ``Settings.embed_backend`` names (also what a worker process builds)."""
    return _named(EMBEDDERS, "DESPATCH_EMBED_BACKEND", s.embed_backend)(s)


def _inline(s: Settings, indexer: Indexer) -> Preparer:
    return indexer.chunker


def _worker(s: Settings, indexer: Indexer) -> Preparer:
    from index.preparing import WorkerPreparer

    return WorkerPreparer(s, _offline_embedder)  # type: ignore[arg-type]  # as in Parts.indexer


def _offline_embedder(s: Settings) -> Embedder:
    """What a worker process builds: offline first, as in every process, then the model."""
    offline(s)
    return _embedder(s)


# Where the documents API prepares a pushed story (DESPATCH_PREPARER): in a child process at
# lower CPU priority, or in the serving process.
PREPARERS: dict[str, Callable[[Settings, Indexer], Preparer]] = {
    "worker": _worker,
    "inline": _inline,
}


def _logistic(path: Path | None) -> SentenceScorer:
    from bot.answerability import Model

    return Model.load(path) if path else Model.load()


def _boosted(path: Path | None) -> SentenceScorer:
    from bot.boosted import BoostedScorer

    return BoostedScorer.load(path)


def _contextual(path: Path | None) -> SentenceScorer:
    from bot.contextual import ContextualScorer

    return ContextualScorer.load(path)


def _reader(path: Path | None) -> SentenceScorer:
    from bot.reader import ReaderScorer

    return ReaderScorer.load(path)


# The sentence scorers by name (DESPATCH_SCORER); each takes its model file (None: the shipped
# one, fitted by ``python -m evals.fit``).
SCORERS: dict[str, Callable[[Path | None], SentenceScorer]] = {
    "logistic": _logistic,
    "boosted": _boosted,
    "contextual": _contextual,
    "reader": _reader,
}


def _extractive(s: Settings, extractive: ExtractiveAnswerer, idf: Idf, embedder: Embedder) -> Answerer:
    return extractive


def _llm(s: Settings, extractive: ExtractiveAnswerer, idf: Idf, embedder: Embedder) -> Answerer:
    from bot.llm import LLMAnswerer

    return LLMAnswerer.from_settings(s, extractive, idf, embedder)


# The answerers by name (DESPATCH_ANSWERER, --answerer). Each gets the extractive answer's maker,
# which gates refusals and is every answerer's fallback.
ANSWERERS: dict[str, Callable[[Settings, ExtractiveAnswerer, Idf, Embedder], Answerer]] = {
    "extractive": _extractive,
    "llm": _llm,
}


def _named(table: Mapping[str, T], setting: str, name: str) -> T:
    try:
        return table[name]
    except KeyError:
        raise ConfigError(f"Unknown {setting}={name!r}; choose one of: {', '.join(table)}") from None


class Parts:
    """The parts of one Despatch process over one store; each is built on first use."""

    def __init__(
        self,
        settings: Settings,
        create: bool = False,
        embedder: Embedder | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self._create = create
        if embedder is not None:
            self.__dict__["embedder"] = embedder  # cached_property reads it from here
        if store is not None:
            self.__dict__["store"] = store

    @cached_property
    def store(self) -> Store:
        from index.store import Store

        return Store.open(self.settings, create=self._create)

    @cached_property
    def embedder(self) -> Embedder:
        return _embedder(self.settings)

    @cached_property
    def scorer(self) -> SentenceScorer:
        """The scorer ``Settings.scorer`` names, from ``Settings.answer_model`` or its shipped
        file, answering from ``Settings.answer_threshold`` when that is set."""
        s = self.settings
        scorer = _named(SCORERS, "DESPATCH_SCORER", s.scorer)(s.answer_model)
        if s.answer_threshold is not None:
            from bot.scorer import with_threshold

            scorer = with_threshold(scorer, s.answer_threshold)
        return scorer

    def prepare(self) -> None:
        """The set-up step (``scripts/setup.sh``): seed tiktoken's cache from the installed
        package and export the embedding model to ONNX (fp32 and int8), so nothing downloads
        or exports at first use."""
        from index.onnx_export import export_all
        from index.tokens import seed_cache

        s = self.settings
        seed_cache(s.tiktoken_cache, s.encoding)
        export_all(s.model_path, s.onnx_cache)

    def indexer(self) -> Indexer:
        """An ``Indexer`` writing into the store with the embedding model; single documents (the
        documents API) are prepared where ``Settings.preparer`` says."""
        from index.ingest import Indexer

        indexer = Indexer(self.settings, self.store, self.embedder)  # type: ignore[arg-type]
        make = _named(PREPARERS, "DESPATCH_PREPARER", self.settings.preparer)
        indexer.preparer = make(self.settings, indexer)
        return indexer

    @cached_property
    def retriever(self) -> HybridRetriever:
        """Hybrid retrieval over the store, after checking its vectors match the embedder's."""
        from bot.retrieval import HybridRetriever
        from index.embedding import space_of

        s = self.settings
        space = space_of(self.embedder)
        if space is not None:
            self.store.check_vectors(space)  # vectors from another backend would rank nonsense
        return HybridRetriever(
            self.store,
            self.embedder,
            exact_max=s.exact_search_max_chunks,
            cache=self.store.view_cache(s) if s.save_views else None,
            wait_s=s.view_wait_ms / 1000,
            lexical=s.lexical,
        )

    @cached_property
    def divisions(self) -> DivisionAnswerer:
        from bot.divisions import DivisionAnswerer

        return DivisionAnswerer(self.retriever, self.store, self.settings.top_k)

    def extractive(self, scorer: SentenceScorer | None = None) -> ExtractiveAnswerer:
        """The extractive answerer with ``scorer`` (default: the one ``Settings.scorer`` names)."""
        from bot.answering import ExtractiveAnswerer

        return ExtractiveAnswerer(
            self.embedder,
            self.retriever.idf,
            scorer or self.scorer,
            embed_sentences=self.settings.embed_sentences,
        )

    def answerer(self, name: str, extractive: ExtractiveAnswerer) -> Answerer:
        """The answerer ``name`` (``ANSWERERS``) over ``extractive``."""
        make = _named(ANSWERERS, "DESPATCH_ANSWERER", name)
        return make(self.settings, extractive, self.retriever.idf, self.embedder)

    def bot(self, answerer: str | None = None, scorer: SentenceScorer | None = None) -> Bot:
        """A ``Bot`` over the store (``answerer`` overrides ``Settings.answerer``, ``scorer``
        the scorer ``Settings.scorer`` names)."""
        from bot.core import Bot

        extractive = self.extractive(scorer)
        return Bot(
            self.settings,
            self.store,
            self.embedder,
            self.retriever,
            self.divisions,
            extractive,
            self.answerer(answerer or self.settings.answerer, extractive),
        )


def offline(settings: Settings) -> Settings:
    """Keep this process off the network (no hub downloads, no telemetry, tiktoken from the
    project's cache); call before any model or tokenizer loads. Returns ``settings``."""
    go_offline(settings)
    return settings


def assemble(
    settings: Settings,
    *,
    create: bool = False,
    embedder: Embedder | None = None,
    store: Store | None = None,
) -> Parts:
    """Take the process offline and return its parts, each built on first use.

    ``create`` makes an empty store when there is none; ``embedder`` replaces the model named
    by the settings (the benchmarks pass a cheaper one) and ``store`` an already open store.
    """
    offline(settings)
    return Parts(settings, create, embedder, store)
