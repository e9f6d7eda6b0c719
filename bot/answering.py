"""Answerers behind one interface, and the offline extractive answerer.

The extractive answerer picks the retrieved sentences that best answer the question (by
the question's form, exact names and numbers, the speaker of a transcript turn, lexical
coverage and embedding similarity), quotes them verbatim, and cites each one. It refuses
when no sentence is a confident answer, when the question names something the retrieved
sources never mention, or when the question carries instructions.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bot import citations
from bot.citations import Idf
from bot.questions import QuestionInfo, analyse
from bot.records import Answer, Citation, Passage
from bot.text import is_year, numbers, terms
from index.embedding import Embedder

_DATEISH = re.compile(
    r"\b(?:1[89]|20)\d\d\b|\b(?:January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
)
_YEARISH = re.compile(
    r"\b(?:1[89]|20)\d\d\b|\b\d{1,2} (?:January|February|March|April|May|June|July|"
    r"August|September|October|November|December)\b"
)
_QUOTE_OR_SPEECH = re.compile(r"[“”\"]|\b(?:said|says|told|tells|claimed|argued|warned|admitted)\b")
_PERSONISH = re.compile(r"\b(?:MP|Minister|Secretary|Mr|Ms|Mrs|Dr|Sir|Lord|Lady)\b|[A-Z][a-z]+ [A-Z][a-z]+")

_WEAK_VERBS = frozenset(terms("think thought believe feel want do did make made happen get got"))

_CACHE_SIZE = 4096  # sentence vectors kept (about 6 MB)

REFUSAL = "The indexed coverage doesn't answer this question."


class Answerer(Protocol):
    """Answers a (resolved) question from retrieved passages."""

    name: str

    def answer(self, question: str, passages: Sequence[Passage], history: Sequence[Any] = ()) -> Answer: ...


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    rank: int
    start: int  # document offsets
    end: int
    text: str
    lexical: float
    bonus: float
    terms: frozenset[str]
    dense: float = 0.0

    @property
    def score(self) -> float:
        return 0.5 * self.lexical + 0.35 * self.dense + self.bonus


class ExtractiveAnswerer:
    """Composes an answer from verbatim, cited sentences of the passages."""

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        idf: Idf,
        threshold: float,
        max_sentences: int = 3,
        embed_sentences: int = 12,
    ) -> None:
        self.embedder = embedder
        self.idf = idf
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.embed_sentences = embed_sentences
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Any] = (),
        query_vector: np.ndarray | None = None,
    ) -> Answer:
        """``query_vector``, the question's embedding when retrieval already computed it."""
        began = time.perf_counter()
        info = analyse(question)
        refusal = self._gate(info, passages)
        if refusal:
            return self.refuse(question, passages, refusal, {"select": _ms(began)})
        candidates = self._candidates(info, passages, query_vector)
        t1 = time.perf_counter()
        ranked = sorted(candidates, key=lambda c: -c.score)
        best = ranked[0] if ranked else None
        confidence = best.score * self._key_coverage(info, best) if best else 0.0
        timings = {"select": _ms(began, t1)}
        if best is None or confidence < self.threshold:
            return self.refuse(
                question, passages, "no passage answers it confidently", timings, confidence=confidence
            )
        if info.form == "why" and not self._premise_holds(info, best):
            return self.refuse(
                question,
                passages,
                "the sources don't say what the question takes for granted",
                timings,
                confidence=confidence,
            )
        chosen = self._compose(info, best, ranked)
        t2 = time.perf_counter()
        answer = self._render(chosen)
        timings["cite"] = _ms(t2)
        if not answer[1]:
            return self.refuse(question, passages, "no sentence passed the citation check", timings)
        meta = {"confidence": round(confidence, 4), "form": info.form}
        return Answer(question, question, answer[0], False, self.name, answer[1], [], timings, meta)

    # -- refusing -----------------------------------------------------------------------
    def _gate(self, info: QuestionInfo, passages: Sequence[Passage]) -> str | None:
        if info.injection:
            return "the question contains instructions, which Despatch does not follow"
        if not passages:
            return "nothing in the index matches it"
        if not info.content:
            return "it asks nothing the sources could answer"
        vocabulary: set[str] = set()
        for p in passages:
            vocabulary |= set(terms(f"{p.text} {p.speaker or ''} {p.party or ''} {p.title}"))
            vocabulary |= numbers(p.text)
        missing = [k for k in info.keys if k not in vocabulary]
        if missing:
            return f"the sources found never mention {', '.join(missing)}"
        return None

    def refuse(
        self,
        question: str,
        passages: Sequence[Passage],
        reason: str,
        timings: dict[str, float],
        confidence: float = 0.0,
    ) -> Answer:
        """A refusal that shows the closest passages as related."""
        q_terms = set(terms(question))
        related = []
        for n, passage in enumerate(passages[:3], start=1):
            start, end, _ = citations.best_span(q_terms, passage, self.idf, "")
            related.append(Citation.of(n, passage, start, end, passage.score))
        meta = {"reason": reason, "confidence": round(confidence, 4)}
        text = f"{REFUSAL} The closest passages are listed as related." if related else REFUSAL
        return Answer(question, question, text, True, self.name, [], related, timings, meta)

    # -- choosing sentences -----------------------------------------------------------------
    def _candidates(
        self, info: QuestionInfo, passages: Sequence[Passage], query_vector: np.ndarray | None
    ) -> list[Candidate]:
        q_terms = set(info.content)
        total = sum(self.idf(t) for t in q_terms) or 1.0
        speaker_terms = set(terms(info.speaker)) if info.speaker else set()
        out: list[Candidate] = []
        for rank, passage in enumerate(passages):
            context = set(terms(f"{passage.speaker or ''} {passage.party or ''}"))
            speaks = bool(speaker_terms) and speaker_terms <= context
            for start, end in citations.passage_sentences(passage):
                text = passage.text[start - passage.start : end - passage.start]
                s_terms = set(terms(text))
                covered = q_terms & (s_terms | context)
                lexical = sum(self.idf(t) for t in covered) / total
                bonus = self._form_bonus(info, text, passage, speaks) - 0.02 * rank
                bonus += self._key_bonus(info, s_terms | numbers(text))
                if len(text) < 25:
                    bonus -= 0.1  # fragments make poor answers
                out.append(Candidate(passage, rank, start, end, text, lexical, bonus, frozenset(s_terms)))
        if not out:
            return out
        # Embedding sentences is the answerer's one costly step: only the best few by the cheap
        # features are embedded; the rest keep their passage's similarity to the question.
        ranked = sorted(out, key=lambda c: -(0.5 * c.lexical + 0.35 * c.passage.dense + c.bonus))
        shortlist = ranked[: max(self.embed_sentences, 1)]
        if self.embed_sentences <= 0:
            return [Candidate(**{**c.__dict__, "dense": c.passage.dense}) for c in shortlist]
        texts = (
            [c.text for c in shortlist]
            if query_vector is not None
            else [info.text] + [c.text for c in shortlist]
        )
        vectors = np.asarray(self.embedder.embed(texts))
        qvec = np.asarray(query_vector) if query_vector is not None else vectors[0]
        sims = (vectors if query_vector is not None else vectors[1:]) @ qvec
        return [Candidate(**{**c.__dict__, "dense": float(s)}) for c, s in zip(shortlist, sims, strict=True)]

    @staticmethod
    def _key_bonus(info: QuestionInfo, have: set[str]) -> float:
        """Exact names and, above all, exact numbers of the question; a sentence with none of
        the question's numbers is rarely its answer."""
        numeric = {k for k in info.keys if k[:1].isdigit()}
        found = set(info.keys) & have
        bonus = 0.03 * len(found - numeric) + 0.2 * len(found & numeric)
        if numeric and not found & numeric:
            bonus -= 0.3
        return bonus

    @staticmethod
    def _form_bonus(info: QuestionInfo, text: str, passage: Passage, speaks: bool) -> float:
        """Reward the kind of thing the question asks for; a sentence without it rarely answers."""
        if info.form == "number":
            return 0.12 if _answer_elements(info, text) else -0.15
        if info.form == "when":
            if _answer_elements(info, text):
                return 0.2
            return 0.0 if _DATEISH.search(text) else -0.15
        if info.form == "who":
            return 0.08 if (passage.speaker or _PERSONISH.search(text)) else -0.08
        if info.form == "say":
            return (0.25 if speaks else 0.0) + (0.05 if _QUOTE_OR_SPEECH.search(text) else 0.0)
        return 0.0

    def _premise_holds(self, info: QuestionInfo, best: Candidate) -> bool:
        """A "why did X do Y" question presupposes X did Y: the sources must say so together.

        Every predicate word (content that is not a name or number) must be stated around the
        best sentence, and the named people must share that sentence with part of it.
        """
        keys = set(info.keys)
        predicate = set(info.content) - keys - _WEAK_VERBS
        window = self._window(best)
        p = best.passage
        here = set(best.terms) | set(terms(f"{p.speaker or ''} {p.title}"))
        if not predicate <= window or not keys <= window:
            return False
        return not keys or not predicate or bool(predicate & here)

    def _window(self, best: Candidate) -> set[str]:
        p = best.passage
        window = set(best.terms) | set(terms(f"{p.speaker or ''} {p.title}")) | numbers(best.text)
        for s, e in citations.passage_sentences(p):
            if abs(s - best.end) < 3 or abs(e - best.start) < 3:  # neighbours
                window |= set(terms(p.text[s - p.start : e - p.start]))
        return window

    def _key_coverage(self, info: QuestionInfo, best: Candidate) -> float:
        """Share of the question's names and numbers found around the best sentence."""
        if not info.keys:
            return 1.0
        window = self._window(best)
        found = sum(1 for k in info.keys if k in window)
        return 0.5 + 0.5 * found / len(info.keys)

    def _compose(self, info: QuestionInfo, best: Candidate, ranked: list[Candidate]) -> list[Candidate]:
        chosen = [best]
        covered_keys = {k for k in info.keys if k in best.terms or k in numbers(best.text)}
        covered = set(best.terms)
        elements = _answer_elements(info, best.text)
        floor = max(self.threshold, (0.6 if info.multi else 0.8) * best.score)
        for cand in ranked[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if cand.score < floor:
                break
            if any(_overlaps(cand, c) or _same_text(cand, c) for c in chosen):
                continue
            new_keys = {k for k in info.keys if k in cand.terms or k in numbers(cand.text)} - covered_keys
            new_content = (set(info.content) & cand.terms) - covered
            new_elements = _answer_elements(info, cand.text) - elements
            if new_keys or new_elements or (new_content and not info.multi):
                chosen.append(cand)
                covered_keys |= new_keys
                covered |= cand.terms
                elements |= new_elements
        return chosen

    def _render(self, chosen: list[Candidate]) -> tuple[str, list[Citation]]:
        parts: list[str] = []
        cites: list[Citation] = []
        for cand in chosen:
            sentence = _attributed(cand)
            support = citations.check(sentence, cand.passage, self.idf)
            if not support.ok:
                continue  # never shown: the check is the last word, for every answerer
            n = len(cites) + 1
            cites.append(Citation.of(n, cand.passage, support.start, support.end, cand.score))
            parts.append(f"{sentence} [{n}]")
        return " ".join(parts), cites


def _answer_elements(info: QuestionInfo, text: str) -> set[str]:
    """What would answer a question of this form: quantities, dates, or people."""
    if info.form == "number":
        return {n for n in numbers(text) - set(info.keys) if not is_year(n)}
    if info.form == "when":
        return {m.group(0) for m in _YEARISH.finditer(text)} - set(info.keys)
    if info.form == "who":
        return {m.group(0) for m in _PERSONISH.finditer(text) if m.group(0).lower() not in info.text.lower()}
    return set()


def _attributed(cand: Candidate) -> str:
    text = citations.without_source_notes(cand.text)
    speaker = cand.passage.speaker
    if not speaker:
        return text
    party = f" ({cand.passage.party})" if cand.passage.party else ""
    return f"{speaker}{party} said: “{text.strip('“”')}”"


def _overlaps(a: Candidate, b: Candidate) -> bool:
    return a.passage.doc_id == b.passage.doc_id and a.start < b.end and b.start < a.end


def _same_text(a: Candidate, b: Candidate) -> bool:
    return " ".join(a.text.lower().split()) == " ".join(b.text.lower().split())


def _ms(start: float, end: float | None = None) -> float:
    return round(((end or time.perf_counter()) - start) * 1000, 2)
