"""Answerers behind one interface, and the offline extractive answerer.

The extractive answerer describes every sentence of the retrieved passages with the features
of ``bot.answerability`` and asks the fitted model whether it *answers* the question. The
answer leads with the most probable sentence (the one that holds the answer), adds the
neighbour that carries the question's focus when the answer sentence alone does not, and
points at the exact answering span (``short_answer``) for factoid questions. When no sentence
answers, it refuses, says why, and lists the closest passages as related.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from bot import citations
from bot.answerability import FEATURES, Sentence, answer_entities, features
from bot.citations import Idf
from bot.questions import QuestionInfo, analyse
from bot.records import NO_MATCH, Answer, AnswerMeta, Citation, Passage, Question, ShortAnswer
from bot.scorer import SentenceScorer
from bot.short_answer import short_answer
from bot.text import numbers, terms
from index.embedding import Embedder
from index.nlp import Entity
from index.nlp import entities as annotate

REFUSAL = "The indexed coverage doesn't answer this question."

_COUNTRY = frozenset(terms("UK Britain British United Kingdom Great"))
_WEAK_VERBS = frozenset(terms("think thought believe feel want do did make made happen get got"))
_ENTITY_CACHE = 4096  # passages annotated at answer time (stores written before annotation existed)
_ASKED = {
    "person": "who it was",
    "organisation": "which organisation",
    "place": "where",
    "date": "when",
    "number": "the number asked for",
    "money": "the amount of money",
    "percent": "the percentage",
    "reason": "why",
    "definition": "what it stands for",
    "vote": "how members voted",
}


class Answerer(Protocol):
    """The seam ``Bot`` uses: how an answerer rewrites follow-ups and words its answer.

    ``Bot`` always computes the extractive answer first (it gates refusals and is the
    fallback); ``stream`` turns it into this answerer's answer, yielding text as it grows and
    then the final ``Answer``.
    """

    name: str

    def condense(self, question: str, history: Sequence[Any]) -> str | None: ...

    def stream(
        self, question: str, passages: Sequence[Passage], history: Sequence[Any], extractive: Answer
    ) -> Iterator[str | Answer]: ...


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, its features and the model's P(answers)."""

    passage: Passage
    sentence: Sentence
    x: tuple[float, ...]
    p: float = 0.0


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
        self.embedder = embedder
        self.idf = idf
        self.scorer = scorer
        self.max_sentences = max_sentences
        self.embed_sentences = embed_sentences
        self._entities: OrderedDict[str, tuple[Entity, ...]] = OrderedDict()
        self._entities_lock = threading.Lock()

    def condense(self, question: str, history: Sequence[Any]) -> str | None:
        """Follow-ups are resolved by rules (``bot.followup``) alone: no rewrite here."""
        return None

    def stream(
        self, question: str, passages: Sequence[Passage], history: Sequence[Any], extractive: Answer
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
        question = asked.search_text if isinstance(asked, Question) else asked
        refusal = self.gate(info, passages)
        if refusal:
            return self.refuse(question, passages, refusal, {"select": _ms(began)})
        cands = self.candidates(info, passages, query_vector)
        t0 = time.perf_counter()
        ranked = self.order(cands)
        t1 = time.perf_counter()
        timings = {"select": _ms(began, t1), "score": _ms(t0, t1)}
        best = ranked[0] if ranked else None
        confidence = best.p if best else 0.0
        if best is None or confidence < self.scorer.threshold:
            reason = self._why_not(info, passages)
            below = self.refuse(question, passages, reason, timings, confidence=confidence)
            if best is not None:  # what it would have led with: the eval's risk-coverage curve
                best_sentence = attributed(best.sentence.text, best.passage)
                return replace(below, meta=below.meta.updated(best_sentence=best_sentence))
            return below
        if info.atype == "reason" and not self._premise_holds(info, best):
            reason = "the sources don't say what the question takes for granted"
            return self.refuse(question, passages, reason, timings, confidence=confidence)
        chosen = self._compose(info, best, ranked)
        t2 = time.perf_counter()
        text, cites, short = self._render(info, chosen)
        timings["cite"] = _ms(t2)
        if not cites:
            return self.refuse(question, passages, "no sentence passed the citation check", timings)
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

    # -- scoring sentences --------------------------------------------------------------------
    def candidates(
        self, info: QuestionInfo, passages: Sequence[Passage], query_vector: np.ndarray | None = None
    ) -> list[Candidate]:
        """Every distinct sentence of ``passages`` with its features (``p`` not yet set)."""
        q_terms = frozenset(info.content)
        weight = {t: self.idf(t) for t in q_terms}
        total = sum(weight.values()) or 1.0
        rarest = max(weight.values(), default=0.0) or 1.0
        q_pairs = set(zip(info.content, info.content[1:], strict=False))

        def coverage(have: frozenset[str]) -> float:
            return sum(weight[t] for t in q_terms & have) / total

        def missing(have: frozenset[str]) -> float:
            return max((weight[t] for t in q_terms - have), default=0.0) / rarest

        drafts: list[tuple[Passage, Sentence]] = []
        seen: set[tuple[str, int, int]] = set()
        for rank, passage in enumerate(passages):
            ents = self._passage_entities(passage)
            context = frozenset(terms(f"{passage.speaker or ''} {passage.party or ''}"))
            spans = citations.passage_sentences(passage)
            texts = [passage.text[s - passage.start : e - passage.start] for s, e in spans]
            ordered = [terms(t) for t in texts]
            sent_terms = [frozenset(t) for t in ordered]
            title = frozenset(terms(passage.title))
            for i, (start, end) in enumerate(spans):
                if (passage.doc_id, start, end) in seen:
                    continue
                seen.add((passage.doc_id, start, end))
                window = sent_terms[i].union(*sent_terms[max(i - 1, 0) : i + 2])
                own = tuple(
                    Entity(passage.start + e.start, passage.start + e.end, e.label)
                    for e in ents
                    if passage.start + e.start >= start and passage.start + e.end <= end
                )
                sentence = Sentence(
                    start=start,
                    end=end,
                    text=texts[i],
                    terms=sent_terms[i],
                    window_terms=window,
                    entities=own,
                    context_terms=context,
                    speaker=passage.speaker,
                    party=passage.party,
                    rank=rank,
                    dense=passage.dense,
                    lexical=coverage(sent_terms[i] | context),
                    lexical_window=coverage(window | context),
                    missing=missing(window | context | title),
                    bigrams=len(q_pairs & set(zip(ordered[i], ordered[i][1:], strict=False))) / len(q_pairs)
                    if q_pairs
                    else 0.0,
                )
                drafts.append((passage, sentence))
        drafts = self._embed_shortlist(info, drafts, query_vector)
        return [Candidate(p, s, tuple(round(v, 4) for v in features(info, s, q_terms))) for p, s in drafts]

    def rank(
        self, info: QuestionInfo, passages: Sequence[Passage], query_vector: np.ndarray | None = None
    ) -> list[Candidate]:
        """Candidates by the scorer's probability that they answer, best first (ties: source order)."""
        return self.order(self.candidates(info, passages, query_vector))

    def order(self, cands: list[Candidate]) -> list[Candidate]:
        """``cands`` scored by the scorer, best first."""
        probs = self.scorer.score(
            np.asarray([c.x for c in cands], dtype=float).reshape(len(cands), len(FEATURES))
        )
        scored = [Candidate(c.passage, c.sentence, c.x, float(p)) for c, p in zip(cands, probs, strict=True)]
        # A year or figure the question names is a constraint, not a hint: a sentence about
        # 2014/15 does not answer a question about 2015/16, however alike they read. The
        # "numbers" feature already measures it (and the fit ranks by the same test).
        held = FEATURES.index("numbers")
        return sorted(scored, key=lambda c: (c.x[held] < 1.0, -c.p, c.sentence.rank, c.sentence.start))

    def _embed_shortlist(
        self, info: QuestionInfo, drafts: list[tuple[Passage, Sentence]], query_vector: np.ndarray | None
    ) -> list[tuple[Passage, Sentence]]:
        """Embedding sentences is the answerer's one costly step: only the best few by the cheap
        features are embedded; the rest keep their passage's similarity to the question."""
        if not drafts or self.embed_sentences <= 0:
            return drafts

        def cheap(item: tuple[Passage, Sentence]) -> float:
            s = item[1]
            typed = bool(answer_entities(info, s))
            return 0.5 * s.lexical + 0.2 * s.lexical_window + 0.35 * s.dense + 0.2 * typed - 0.02 * s.rank

        order = sorted(range(len(drafts)), key=lambda i: -cheap(drafts[i]))[: self.embed_sentences]
        texts = [drafts[i][1].text for i in order]
        if query_vector is None:
            vectors = np.asarray(self.embedder.embed([info.text, *texts]))
            qvec, vectors = vectors[0], vectors[1:]
        else:
            qvec, vectors = np.asarray(query_vector), np.asarray(self.embedder.embed(texts))
        out = list(drafts)
        for i, sim in zip(order, vectors @ qvec, strict=True):
            p, s = out[i]
            out[i] = (p, Sentence(**{**s.__dict__, "dense": float(sim)}))
        return out

    def _passage_entities(self, passage: Passage) -> tuple[Entity, ...]:
        if passage.entities is not None:
            return passage.entities
        with self._entities_lock:
            cached = self._entities.get(passage.chunk_id)
            if cached is not None:
                self._entities.move_to_end(passage.chunk_id)
                return cached
        found = annotate([passage.text])[0]
        with self._entities_lock:
            self._entities[passage.chunk_id] = found
            while len(self._entities) > _ENTITY_CACHE:
                self._entities.popitem(last=False)
        return found

    # -- refusing -----------------------------------------------------------------------
    def gate(self, info: QuestionInfo, passages: Sequence[Passage]) -> str | None:
        """Why the question is refused before any sentence is scored, or None."""
        if info.injection:
            return "the question contains instructions, which Despatch does not follow"
        if not passages:
            return NO_MATCH
        if not info.content:
            return "it asks nothing the sources could answer"
        vocabulary: set[str] = set()
        for p in passages:
            vocabulary |= set(terms(f"{p.text} {p.speaker or ''} {p.party or ''} {p.title}"))
            vocabulary |= numbers(p.text)
        # The country goes by several names ("Britain", "the UK"): one of them is enough.
        if vocabulary & _COUNTRY:
            vocabulary |= _COUNTRY
        missing = [k for k in info.keys if k not in vocabulary]
        if missing:
            return f"the sources found never mention {', '.join(missing)}"
        return None

    @staticmethod
    def _why_not(info: QuestionInfo, passages: Sequence[Passage]) -> str:
        """Say what the sources have and what they lack: "mention X but not when"."""
        asked = _ASKED.get(info.atype)
        if info.head:
            asked = f"which {info.head}"
        elif info.atype == "say" and info.speaker:
            asked = f"what {info.speaker} said about it"
        elif asked is None:
            asked = "an answer to it"
        text = " ".join(f"{p.text} {p.speaker or ''} {p.title}" for p in passages).lower()
        mentioned = [c for c in info.constraints if c.lower() in text]
        if mentioned:
            return f"the sources mention {' and '.join(mentioned)} but not {asked}"
        return f"no passage says {asked}"

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
            start, end = citations.balanced_span(passage, start, end)
            related.append(Citation.of(n, passage, start, end, passage.score))
        meta = AnswerMeta(reason=reason, confidence=round(confidence, 4))
        text = f"{REFUSAL} The closest passages are listed as related." if related else REFUSAL
        return Answer(
            question=question,
            resolved_question=question,
            answer=text,
            refused=True,
            answerer=self.name,
            related=related,
            timings_ms=timings,
            meta=meta,
        )

    def _premise_holds(self, info: QuestionInfo, best: Candidate) -> bool:
        """A "why did X do Y" question presupposes X did Y: the sources must say so together.

        Every predicate word (content that is not a name or number) must be stated around the
        best sentence, and the named people must share that sentence with part of it.
        """
        keys = set(info.keys)
        predicate = set(info.content) - keys - _WEAK_VERBS
        s = best.sentence
        title = set(terms(best.passage.title))
        window = set(s.window_terms) | s.context_terms | title | numbers(s.text)
        here = set(s.terms) | s.context_terms | title
        if not predicate <= window or not keys <= window:
            return False
        return not keys or not predicate or bool(predicate & here)

    # -- composing ------------------------------------------------------------------------
    def _compose(self, info: QuestionInfo, best: Candidate, ranked: list[Candidate]) -> list[Candidate]:
        """The answering sentence first; then the neighbour carrying the focus it lacks; then
        other sentences the model rates close to the best."""
        chosen = [best]
        s = best.sentence
        lacking = (set(info.focus) | set(info.keys)) - (s.terms | s.context_terms)
        if lacking:
            neighbours = [
                c
                for c in ranked
                if c.passage.doc_id == best.passage.doc_id
                and c is not best
                and (abs(c.sentence.end - s.start) < 3 or abs(c.sentence.start - s.end) < 3)
            ]
            helpful = [c for c in neighbours if lacking & c.sentence.terms]
            if helpful:
                chosen.append(max(helpful, key=lambda c: len(lacking & c.sentence.terms)))
        # Other sentences the model also thinks answer (a second phrasing, another part of a
        # question asking for several things), never a repeat of one already chosen.
        floor = max(self.scorer.threshold, (0.4 if info.multi else 0.6) * best.p)
        for cand in ranked[1:]:
            if len(chosen) >= self.max_sentences or cand.p < floor:
                break
            if any(_overlaps(cand, c) or _same_text(cand, c) for c in chosen):
                continue
            chosen.append(cand)
        return chosen

    def _render(
        self, info: QuestionInfo, chosen: list[Candidate]
    ) -> tuple[str, list[Citation], ShortAnswer | None]:
        parts: list[str] = []
        cites: list[Citation] = []
        short: ShortAnswer | None = None
        for i, cand in enumerate(chosen):
            p, s = cand.passage, cand.sentence
            start, end = citations.balanced_span(p, s.start, s.end)
            text = p.text[start - p.start : end - p.start]
            claim = citations.Claim.of(text, p)
            sentence = claim.shown()
            support = citations.check(claim, p, self.idf)
            if not support.ok:
                continue  # never shown: the check is the last word, for every answerer
            n = len(cites) + 1
            cites.append(Citation.of(n, p, support.start, support.end, cand.p))
            parts.append(f"{sentence} [{n}]")
            if i == 0:
                short = short_answer(info, s, n, support.start, support.end, p)
        return " ".join(parts), cites, short


def attributed(text: str, passage: Passage) -> str:
    """A sentence as the answer shows it: a transcript's with its speaker ("X (Lab) said: “...”")."""
    return citations.Claim.of(text, passage).shown()


def _overlaps(a: Candidate, b: Candidate) -> bool:
    sa, sb = a.sentence, b.sentence
    return a.passage.doc_id == b.passage.doc_id and sa.start < sb.end and sb.start < sa.end


def _same_text(a: Candidate, b: Candidate) -> bool:
    return " ".join(a.sentence.text.lower().split()) == " ".join(b.sentence.text.lower().split())


def _ms(start: float, end: float | None = None) -> float:
    return round(((end or time.perf_counter()) - start) * 1000, 2)
