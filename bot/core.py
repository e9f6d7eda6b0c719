"""The ``Bot``: resolve follow-ups, retrieve, answer, verify."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from bot.answerability import Model
from bot.answering import Answerer, ExtractiveAnswerer
from bot.citations import similarity
from bot.followup import resolve
from bot.records import Answer
from bot.retrieval import Filters, HybridRetriever
from despatch.settings import Settings
from index.embedding import Embedder, SentenceTransformerEmbedder
from index.store import Store


class FairLock:
    """A lock granted in arrival order: under load no reader's question waits behind later ones
    (``threading.Lock`` makes no such promise, which showed as a long p99 tail)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()


class Bot:
    """Answers questions from a store; build it once and reuse it (the model stays loaded)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        answerer: str | None = None,
        model: Model | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.retriever = HybridRetriever(store, embedder)
        self._compute = FairLock()
        if model is None:
            model = Model.load(settings.answer_model) if settings.answer_model else Model.load()
        self.extractive = ExtractiveAnswerer(
            embedder, self._idf, model, embed_sentences=settings.embed_sentences
        )
        self.answerer: Answerer = self.extractive
        if (answerer or settings.answerer) == "llm":
            from bot.llm import LLMAnswerer

            self.answerer = LLMAnswerer.from_settings(settings, self.extractive, self._idf, embedder)

    @classmethod
    def from_settings(cls, settings: Settings, answerer: str | None = None) -> Bot:
        """Open the store and the embedding model the settings name."""
        from despatch.offline import go_offline

        go_offline(settings)
        store = Store.open(settings)
        embedder = SentenceTransformerEmbedder(settings.model_path, settings.device, settings.batch_size)
        return cls(settings, store, embedder, answerer)

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts under the embedding model."""
        return similarity(self.embedder, a, b)

    def _idf(self, term: str) -> float:
        return self.retriever.current().bm25.term_idf(term)

    def brief(self, question: str) -> str:
        """The short answer to a self-contained question (or its answer text); "" when refused."""
        answer = self.ask(question)
        if answer.refused:
            return ""
        return answer.short_answer.text if answer.short_answer else answer.answer

    def ask(
        self, question: str, history: Sequence[Any] | None = None, filters: Filters | None = None
    ) -> Answer:
        """Answer ``question``; ``history`` holds earlier questions (strings or chat turns)."""
        answer: Answer | None = None
        for event in self.stream(question, history, filters):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None  # stream always ends with the answer
        return answer

    def stream(
        self, question: str, history: Sequence[Any] | None = None, filters: Filters | None = None
    ) -> Iterator[str | Answer]:
        """Yield verified answer text as it grows, then the final ``Answer``."""
        began = time.perf_counter()
        question = question.strip()
        resolved = resolve(question, history, self.brief)
        condensed = None
        if history and self.answerer is not self.extractive:
            from bot.llm import LLMAnswerer

            assert isinstance(self.answerer, LLMAnswerer)
            condensed = self.answerer.condense(question, history)
            resolved = condensed or resolved
        t0 = time.perf_counter()
        retrieval = self.retriever.search(resolved, self.settings.top_k, filters)
        timings = {"resolve": (t0 - began) * 1000, **retrieval.timings_ms}
        extractive = self.extractive.answer(
            resolved, retrieval.passages, history or (), retrieval.query_vector
        )
        answer = extractive
        if extractive.refused or self.answerer is self.extractive:
            yield extractive.answer
        else:
            from bot.llm import LLMAnswerer

            assert isinstance(self.answerer, LLMAnswerer)
            for event in self.answerer.stream(resolved, retrieval.passages, history or (), extractive):
                if isinstance(event, Answer):
                    answer = event
                else:
                    yield event
        timings.update(answer.timings_ms)
        timings["total"] = (time.perf_counter() - began) * 1000
        yield replace(
            answer,
            question=question,
            resolved_question=resolved,
            timings_ms={k: round(v, 2) for k, v in timings.items()},
            meta={
                **answer.meta,
                "resolved_by": "llm" if condensed else "rules",
                "retrieved": [p.chunk_id for p in retrieval.passages],
            },
        )
