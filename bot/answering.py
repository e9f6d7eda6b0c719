"""Answerers behind one interface, and the offline extractive answerer.

The extractive answerer describes every sentence of the retrieved passages with the features
of ``bot.answerability`` and asks the fitted scorer whether it *answers* the question
(``bot.candidates``). The answer leads with the most probable sentence (the one that holds the
answer), adds the neighbour that carries the question's focus when the answer sentence alone
does not, and points at the exact answering span (``short_answer``) for factoid questions
(``bot.composing``). When no sentence answers, it refuses, says why, and lists the closest
passages as related (``bot.refusals``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from bot.candidates import Candidate, CandidateRanker
from bot.citations import Idf
from bot.composing import attributed, compose, render
from bot.questions import QuestionInfo, analyse
from bot.records import Answer, AnswerMeta, Passage, Question
from bot.refusals import REFUSAL, gate, premise_holds, refusal, why_not
from bot.scorer import SentenceScorer
from index.embedding import Embedder

__all__ = ["REFUSAL", "Answerer", "Candidate", "ExtractiveAnswerer", "attributed"]


class Answerer(Protocol):
    """The seam ``Bot`` uses: how an answerer rewrites follow-ups and words its answer.

    ``Bot`` always computes the extractive answer first (it gates refusals and is the
    fallback); ``stream`` turns it into this answerer's answer, yielding text as it grows and
    then the final ``Answer``.
    """

    name: str

    def condense(self, question: str, history: Sequence[Any]) -> str | None: ...

    def stream(
        self, asked: Question, passages: Sequence[Passage], history: Sequence[Any], extractive: Answer
    ) -> Iterator[str | Answer]: ...


class ExtractiveAnswerer:
    """Composes an answer from verbatim, cited sentences of the passages."""

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        idf: Idf,
        scorer: SentenceScorer,
        max_sentences: int = 3,
        embed_sentences: int = 8,
    ) -> None:
        self.idf = idf
        self.max_sentences = max_sentences
        self.ranker = CandidateRanker(embedder, idf, scorer, embed_sentences)

    @property
    def scorer(self) -> SentenceScorer:
        return self.ranker.scorer

    @scorer.setter
    def scorer(self, scorer: SentenceScorer) -> None:
        self.ranker.scorer = scorer

    def condense(self, question: str, history: Sequence[Any]) -> str | None:
        """Follow-ups are resolved by rules (``bot.followup``) alone: no rewrite here."""
        return None

    def stream(
        self, asked: Question, passages: Sequence[Passage], history: Sequence[Any], extractive: Answer
    ) -> Iterator[str | Answer]:
        """The extractive answer is already the final one."""
        yield extractive.answer
        yield extractive

    def answer(
        self,
        asked: Question | str,
        passages: Sequence[Passage],
        history: Sequence[Any] = (),
        query_vector: np.ndarray | None = None,
    ) -> Answer:
        """``query_vector``, the question's embedding when retrieval already computed it."""
        began = time.perf_counter()
        info = analyse(asked)
        parsed = {"analyse": _ms(began)}  # spaCy's reading of the question
        question = asked.search_text if isinstance(asked, Question) else asked
        gated = gate(info, passages)
        if gated:
            return refusal(self.name, self.idf, question, passages, gated, {**parsed, "select": _ms(began)})
        cands = self.ranker.candidates(info, passages, query_vector, parsed)
        t0 = time.perf_counter()
        ranked = self.ranker.order(info, cands)
        t1 = time.perf_counter()
        # select: the whole choice, its parts (analyse, embed_sentences, score) included
        timings = {**parsed, "select": _ms(began, t1), "score": _ms(t0, t1)}
        best = ranked[0] if ranked else None
        confidence = best.p if best else 0.0
        if best is None or confidence < self.scorer.threshold:
            reason = why_not(info, passages)
            below = refusal(self.name, self.idf, question, passages, reason, timings, confidence)
            if best is not None:  # what it would have led with: the eval's risk-coverage curve
                best_sentence = attributed(best.sentence.text, best.passage)
                return replace(below, meta=below.meta.updated(best_sentence=best_sentence))
            return below
        if info.atype == "reason" and not premise_holds(info, best):
            reason = "the sources don't say what the question takes for granted"
            return refusal(self.name, self.idf, question, passages, reason, timings, confidence)
        chosen = compose(info, best, ranked, self.scorer.threshold, self.max_sentences)
        t2 = time.perf_counter()
        text, cites, short = render(info, chosen, self.idf)
        timings["cite"] = _ms(t2)
        if not cites:
            reason = "no sentence passed the citation check"
            return refusal(self.name, self.idf, question, passages, reason, timings)
        meta = AnswerMeta(confidence=round(confidence, 4), answer_type=info.atype)
        return Answer(
            question=question,
            resolved_question=question,
            answer=text,
            refused=False,
            answerer=self.name,
            citations=cites,
            timings_ms=timings,
            meta=meta,
            short_answer=short,
        )

    def candidates(
        self, info: QuestionInfo, passages: Sequence[Passage], query_vector: np.ndarray | None = None
    ) -> list[Candidate]:
        """Every distinct sentence of ``passages`` with its features (``bot.candidates``)."""
        return self.ranker.candidates(info, passages, query_vector)

    def gate(self, info: QuestionInfo, passages: Sequence[Passage]) -> str | None:
        """Why the question is refused before any sentence is scored, or None."""
        return gate(info, passages)


def _ms(start: float, end: float | None = None) -> float:
    return round(((end or time.perf_counter()) - start) * 1000, 2)
