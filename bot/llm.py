"""The LLM answerer: a LangChain chat model on any OpenAI-compatible endpoint, whose
streamed text is parsed sentence by sentence, and only verified sentences reach the user.

A marker naming no provided passage is removed; a sentence is kept only if at least one of
its cited passages passes the citation check; a sentence with no citation is dropped. If
nothing supported remains, the extractive answer is used and ``meta.fallback`` says why.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from bot import citations
from bot.answering import REFUSAL, ExtractiveAnswerer
from bot.citations import MARKER, Idf, strip_markers
from bot.followup import normalise_history
from bot.prompts import render
from bot.questions import analyse
from bot.records import Answer, AnswerMeta, Citation, Passage, Question
from bot.refusals import refusal
from bot.text import numbers, terms
from despatch.errors import AnswerError, ConfigError
from despatch.settings import Settings
from index.embedding import Embedder

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<=[.!?”\"\]])\s+(?=[A-Z“\"(\[])")


class LLMAnswerer:
    """Answers with a chat model, keeping only sentences whose citations check out."""

    name = "llm"

    def __init__(
        self,
        chat_model: Any,
        fallback: ExtractiveAnswerer,
        idf: Idf,
        embedder: Embedder,
        publication: str = "the newsroom",
        max_sentences: int = 4,
    ) -> None:
        self.chat_model = chat_model
        self.fallback = fallback
        self.idf = idf
        self.embedder = embedder
        self.publication = publication
        self.max_sentences = max_sentences

    @classmethod
    def from_settings(
        cls, settings: Settings, fallback: ExtractiveAnswerer, idf: Idf, embedder: Embedder
    ) -> LLMAnswerer:
        if not settings.llm_base_url:
            raise ConfigError(
                "The llm answerer needs an OpenAI-compatible endpoint: set DESPATCH_LLM_BASE_URL "
                "(for example http://127.0.0.1:8080/v1) and DESPATCH_LLM_MODEL, or use --answerer extractive"
            )
        from langchain_openai import ChatOpenAI

        model = ChatOpenAI(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,  # type: ignore[arg-type]
            temperature=0.0,
            max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
            timeout=settings.llm_timeout_s,
            max_retries=1,
            streaming=True,
        )
        return cls(model, fallback, idf, embedder, publication=settings.publication)

    # -- follow-ups -------------------------------------------------------------------------
    def condense(self, question: str, history: Sequence[Any]) -> str | None:
        """The question rewritten to stand alone, or None when the model's rewrite is unusable."""
        turns = normalise_history(history)
        if not turns:
            return None
        prompt = render("condense", history=[t.question for t in turns], question=question)
        try:
            reply = self._invoke(prompt).strip().splitlines()
        except AnswerError as exc:  # the endpoint failed: the rule-based resolution stands
            log.warning("condense prompt failed: %s", exc)
            return None
        text = reply[0].strip(" \"'") if reply else ""
        if not text:
            return None
        known = set(terms(question)) | {t for turn in turns for t in terms(turn.question)}
        mine = set(terms(text))
        keeps_keys = set(analyse(question).keys) <= mine | numbers(text)
        if (
            not text
            or len(text) > 3 * len(question) + 120
            or not mine
            or len(mine - known) > len(mine) / 2
            or not keeps_keys
        ):
            return None  # it answered, wandered off, invented or lost the question's own names
        return text

    def _invoke(self, prompt: str) -> str:
        """The model's whole reply; any failure of the endpoint becomes ``AnswerError``."""
        from langchain_core.messages import HumanMessage

        try:
            return str(self.chat_model.invoke([HumanMessage(content=prompt)]).content)
        except Exception as exc:  # openai, httpx and LangChain raise many types: translated here
            raise AnswerError(
                f"LLM endpoint failed: {exc}; check DESPATCH_LLM_BASE_URL and DESPATCH_LLM_MODEL"
            ) from exc

    # -- answering ---------------------------------------------------------------------------
    def answer(
        self, asked: Question | str, passages: Sequence[Passage], history: Sequence[Any] = ()
    ) -> Answer:
        result: Answer | None = None
        for event in self.stream(asked, passages, history):
            if isinstance(event, Answer):
                result = event
        assert result is not None
        return result

    def stream(
        self,
        asked: Question | str,
        passages: Sequence[Passage],
        history: Sequence[Any] = (),
        extractive: Answer | None = None,
    ) -> Iterator[str | Answer]:
        """Yield each verified sentence as the model finishes it, then the final ``Answer``; the
        model is asked the resolved question (``Question.search_text``)."""
        from langchain_core.messages import HumanMessage, SystemMessage

        began = time.perf_counter()
        question = asked.search_text if isinstance(asked, Question) else asked
        extractive = extractive or self.fallback.answer(asked, passages, history)
        if extractive.refused:
            yield extractive.answer
            yield extractive
            return
        messages = [
            SystemMessage(
                content=render(
                    "answer_system",
                    publication=self.publication,
                    max_sentences=self.max_sentences,
                    n_passages=len(passages),
                    refusal=REFUSAL,
                )
            ),
            HumanMessage(content=render("answer_user", passages=passages, question=question)),
        ]
        state = _Verified(passages, self.idf, self._similarity)
        raw = ""
        try:
            buffer = ""
            for piece in self._reply(messages):
                raw += piece
                buffer += piece
                *complete, buffer = _split_sentences(buffer)
                for sentence in complete:
                    shown = state.add(sentence)
                    if shown:
                        yield shown
            if buffer.strip():
                shown = state.add(buffer)
                if shown:
                    yield shown
        except AnswerError as exc:  # the endpoint failed: the extractive answer stands
            log.warning("%s", exc)
            yield from self._fall_back(extractive, f"llm_error: {exc}", raw, state, began)
            return
        if not state.citations and _is_refusal(raw):
            # The model read the passages and found no answer: say so, as the extractive
            # answerer does, with the closest passages as related.
            reason = "the LLM found no answer in the passages"
            refused = refusal(self.name, self.idf, question, passages, reason, {})
            yield refused.answer
            yield replace(refused, meta=refused.meta.updated(llm_raw=raw[:2000]))
            return
        if not state.citations:
            yield from self._fall_back(extractive, "llm_unsupported", raw, state, began)
            return
        timings = {"llm": round((time.perf_counter() - began) * 1000, 2)}
        meta = AnswerMeta(dropped_sentences=state.dropped, removed_markers=state.removed, llm_raw=raw[:2000])
        yield Answer(
            question=question,
            resolved_question=question,
            answer=" ".join(state.sentences),
            refused=False,
            answerer=self.name,
            citations=state.citations,
            timings_ms=timings,
            meta=meta,
        )

    def _reply(self, messages: list[Any]) -> Iterator[str]:
        """The model's reply as it streams; any failure of the endpoint becomes ``AnswerError``."""
        try:
            for chunk in self.chat_model.stream(messages):
                yield str(chunk.content)
        except Exception as exc:  # openai, httpx and LangChain raise many types: translated here
            raise AnswerError(
                f"LLM endpoint failed: {exc}; check DESPATCH_LLM_BASE_URL and DESPATCH_LLM_MODEL"
            ) from exc

    def _fall_back(
        self, extractive: Answer, reason: str, raw: str, state: _Verified, began: float
    ) -> Iterator[str | Answer]:
        yield extractive.answer
        meta = extractive.meta.updated(
            fallback=reason,
            llm_raw=raw[:2000],
            dropped_sentences=state.dropped,
            removed_markers=state.removed,
        )
        timings = {**extractive.timings_ms, "llm": round((time.perf_counter() - began) * 1000, 2)}
        yield replace(extractive, answerer=self.name, meta=meta, timings_ms=timings)

    def _similarity(self, a: str, b: str) -> float:
        return citations.similarity(self.embedder, a, b)


def _is_refusal(raw: str) -> bool:
    """Whether the model's reply is the refusal sentence the system prompt gives it."""
    words = re.findall(r"[a-z']+", strip_markers(raw).lower().replace("\u2019", "'"))
    want = re.findall(r"[a-z']+", REFUSAL.lower().replace("\u2019", "'"))
    return words[: len(want)] == want


class _Verified:
    """The verified answer as it grows: sentences, citations numbered by first appearance."""

    def __init__(self, passages: Sequence[Passage], idf: Idf, similarity: citations.Similarity) -> None:
        self.passages = list(passages)
        self.idf = idf
        self.similarity = similarity
        self.sentences: list[str] = []
        self.citations: list[Citation] = []
        self.dropped = 0
        self.removed = 0

    def add(self, sentence: str) -> str | None:
        """Check one sentence; return it renumbered if it survives, else None."""
        sentence = sentence.strip()
        if not sentence or sentence.strip().rstrip(".") == REFUSAL.rstrip("."):
            return None
        markers = [int(m) for m in MARKER.findall(sentence)]
        valid = [m for m in dict.fromkeys(markers) if 1 <= m <= len(self.passages)]
        self.removed += len(markers) - len([m for m in markers if 1 <= m <= len(self.passages)])
        claim = strip_markers(sentence)
        claim = re.sub(r"\s+([.,;:!?])", r"\1", claim)
        numbers: list[int] = []
        for m in valid:
            passage = self.passages[m - 1]
            support = citations.check(claim, passage, self.idf, self.similarity)
            if not support.ok:
                continue
            numbers.append(self._number(passage, support))
        if not numbers:
            self.dropped += 1
            return None
        body = claim.rstrip()
        text = f"{body} {''.join(f'[{n}]' for n in dict.fromkeys(numbers))}"
        self.sentences.append(text)
        return text

    def _number(self, passage: Passage, support: citations.Support) -> int:
        for c in self.citations:
            if c.chunk_id == passage.chunk_id and (c.start, c.end) == (support.start, support.end):
                return c.n
        n = len(self.citations) + 1
        self.citations.append(Citation.of(n, passage, support.start, support.end, support.score))
        return n


def _split_sentences(text: str) -> list[str]:
    """Split streamed text after sentence ends; the last piece may be incomplete."""
    parts = _SENTENCE_END.split(text)
    return parts if parts else [""]
