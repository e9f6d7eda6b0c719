"""Scoring sentences: every distinct sentence of the retrieved passages becomes a ``Candidate``
with the features of ``bot.answerability``, and the ``SentenceScorer`` ranks them by how likely
each answers the question. Embedding sentences is the one costly step, so only a shortlist is
embedded, and each sentence's vector is kept in a bounded cache (readers ask many questions
about the same stories); passages stored without entities are annotated here, with a bounded
cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot import citations
from bot.answerability import FEATURES, Sentence, answer_entities, features
from bot.citations import Idf
from bot.questions import QuestionInfo
from bot.records import Passage
from bot.scorer import Candidates, SentenceScorer
from bot.text import terms
from index.embedding import Embedder
from index.nlp import Entity
from index.nlp import entities as annotate

_ENTITY_CACHE = 4096  # passages annotated at answer time (stores written before annotation existed)
_VECTOR_CACHE = 20_000  # sentence vectors kept (384 float32 each: about 30 MB)


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, its features and the model's P(answers)."""

    passage: Passage
    sentence: Sentence
    x: tuple[float, ...]
    p: float = 0.0


class CandidateRanker:
    """The candidates of a question's passages, scored by ``scorer``."""

    def __init__(
        self, embedder: Embedder, idf: Idf, scorer: SentenceScorer, embed_sentences: int = 8
    ) -> None:
        self.embedder = embedder
        self.idf = idf
        self.scorer = scorer
        self.embed_sentences = embed_sentences
        self._entities: OrderedDict[str, tuple[Entity, ...]] = OrderedDict()
        self._entities_lock = threading.Lock()
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()

    def candidates(
        self,
        info: QuestionInfo,
        passages: Sequence[Passage],
        query_vector: np.ndarray | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Candidate]:
        """Every distinct sentence of ``passages`` with its features (``p`` not yet set);
        ``timings`` gets the milliseconds spent embedding sentences (``embed_sentences``)."""
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
        t0 = time.perf_counter()
        drafts = self._embed_shortlist(info, drafts, query_vector)
        if timings is not None:
            timings["embed_sentences"] = round((time.perf_counter() - t0) * 1000, 2)
        return [Candidate(p, s, tuple(round(v, 4) for v in features(info, s, q_terms))) for p, s in drafts]

    def rank(
        self, info: QuestionInfo, passages: Sequence[Passage], query_vector: np.ndarray | None = None
    ) -> list[Candidate]:
        """Candidates by the scorer's probability that they answer, best first (ties: source order)."""
        return self.order(info, self.candidates(info, passages, query_vector))

    def order(self, info: QuestionInfo, cands: list[Candidate]) -> list[Candidate]:
        """``cands`` scored by the scorer, best first."""
        probs = self.scorer.score(
            Candidates(
                info.text,
                tuple(citations.Claim.of(c.sentence.text, c.passage).shown() for c in cands),
                np.asarray([c.x for c in cands], dtype=float).reshape(len(cands), len(FEATURES)),
            )
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
        qvec = np.asarray(self.embedder.embed([info.text])[0] if query_vector is None else query_vector)
        vectors = self.sentence_vectors(texts)
        out = list(drafts)
        for i, sim in zip(order, vectors @ qvec, strict=True):
            p, s = out[i]
            out[i] = (p, Sentence(**{**s.__dict__, "dense": float(sim)}))
        return out

    def sentence_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """The sentences' vectors, from the cache or embedded now. Each new sentence is embedded
        on its own, so its vector is the same whichever question meets it first (in a batch,
        padding to another sentence's length moves the last digits)."""
        found: dict[str, np.ndarray] = {}
        with self._vectors_lock:
            for text in texts:
                if (vector := self._vectors.get(text)) is not None:
                    self._vectors.move_to_end(text)
                    found[text] = vector
        new = [t for t in dict.fromkeys(texts) if t not in found]
        for text in new:
            found[text] = np.asarray(self.embedder.embed([text]), dtype=np.float32)[0]
        with self._vectors_lock:
            for text in new:
                self._vectors[text] = found[text]
            while len(self._vectors) > _VECTOR_CACHE:
                self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

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
