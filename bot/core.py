"""The ``Bot``: resolve follow-ups, retrieve, answer, verify."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from bot.answering import Answerer, ExtractiveAnswerer
from bot.citations import check, similarity
from bot.divisions import DivisionAnswerer
from bot.followup import resolve
from bot.records import Answer, Passage, Question
from bot.retrieval import Filters, HybridRetriever
from bot.scope import scoped
from bot.scorer import SentenceScorer
from despatch.errors import RequestError
from despatch.settings import Settings
from index.cleaning import scrub
from index.embedding import Embedder
from index.store import Store


class Bot:
    """Answers questions from a store with the parts it is given (``bot.assembly`` builds them);
    build it once and reuse it (the models stay loaded)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        retriever: HybridRetriever,
        divisions: DivisionAnswerer,
        extractive: ExtractiveAnswerer,
        answerer: Answerer,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.retriever = retriever
        self.divisions = divisions
        self.extractive = extractive  # every answer's first draft, refusal gate and fallback
        self.answerer = answerer

    @property
    def scorer(self) -> SentenceScorer:
        """The sentence scorer the extractive answerer decides with."""
        return self.extractive.scorer

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts under the embedding model."""
        return similarity(self.embedder, a, b)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term in the current view of the store."""
        return self.retriever.idf(term)

    def search(
        self, question: str, k: int, filters: Filters | None = None, mode: str = "hybrid"
    ) -> list[Passage]:
        """The ``k`` passages retrieval finds for ``question`` (mode: hybrid, dense or lexical)."""
        return self.retriever.search(question, k, filters, mode).passages

    def supports(self, sentence: str, passage: Passage) -> bool:
        """Whether ``passage`` passes the citation check for ``sentence``."""
        return check(sentence, passage, self.idf, self.similarity).ok

    def document_text(self, doc_id: str) -> str | None:
        """The full text of a committed document, or None."""
        doc = self.store.document(doc_id)
        return doc.text if doc else None

    def ask(
        self, question: str, history: Sequence[Any] | None = None, filters: Filters | None = None
    ) -> Answer:
        """Answer ``question``; ``history`` holds earlier turns: questions as strings, chat turns,
        ``{"question", "answer"}`` objects or earlier answers' own JSON (``bot.followup``)."""
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
        # NFKC: fullwidth digits and letters ("２０１５/１６") read as the years and names they are.
        question = unicodedata.normalize("NFKC", scrub(question)).strip()  # history: normalise_history
        limit = self.settings.max_question_chars
        if len(question) > limit:
            # Every entry point (the CLI, --jsonl, evals) meets the limit the web layer applies.
            raise RequestError(
                413,
                f"The question is {len(question)} characters long; the limit is {limit}. Shorten it, "
                "or raise DESPATCH_MAX_QUESTION_CHARS.",
            )
        condensed = self.answerer.condense(question, history) if history else None
        asked = Question(condensed) if condensed else resolve(question, history)
        resolved = asked.search_text
        filters = scoped(resolved, filters, lambda: self.retriever.view().people())
        division = self.divisions.answer(asked, filters)
        if division is not None:
            # A vote is answered from its division record alone, whichever answerer is set.
            yield division.answer
            total = (time.perf_counter() - began) * 1000
            yield replace(
                division,
                question=question,
                resolved_question=resolved,
                timings_ms={**division.timings_ms, "total": round(total, 2)},
                meta=division.meta.updated(
                    resolved_by="llm" if condensed else "rules", filters=_shown(filters)
                ),
            )
            return
        t0 = time.perf_counter()
        retrieval = self.retriever.search(resolved, self.settings.top_k, filters)
        timings = {"resolve": (t0 - began) * 1000, **retrieval.timings_ms}
        extractive = self.extractive.answer(asked, retrieval.passages, history or (), retrieval.query_vector)
        answer = extractive
        for event in self.answerer.stream(asked, retrieval.passages, history or (), extractive):
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
            meta=answer.meta.updated(
                resolved_by="llm" if condensed else "rules",
                retrieved=[p.chunk_id for p in retrieval.passages],
                filters=_shown(filters),
                index=retrieval.token,
            ),
        )


def _shown(filters: Filters | None) -> dict[str, str]:
    """The filters an answer was found under, for its meta (empty ones left out)."""
    if filters is None:
        return {}
    return {k: v for k, v in vars(filters).items() if v}
