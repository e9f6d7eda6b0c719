"""Candidate sentences: one per distinct sentence, full feature rows, the number rule in order()."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import bot.candidates as candidates_module
from bot.answerability import FEATURES
from bot.candidates import Candidate, CandidateRanker
from bot.questions import analyse
from bot.records import Passage
from bot.scorer import Candidates
from tests.bot.fakes import ranker as fake_ranker

TEXT = (
    "The Home Office set a target of 7,200 voluntary departures for 2014/15. "
    "For 2015/16, the annual target was raised to 12,000. "
    "Nicholas Soames offered his support."
)
SECOND = TEXT.index("For 2015/16")


class FixedScorer:
    """Scores each row by a value looked up from the row's position."""

    name = "fixed"
    threshold = 0.3
    source: Path | None = None

    def __init__(self, probs: Sequence[float]) -> None:
        self.probs = list(probs)
        self.rows_seen: np.ndarray | None = None
        self.seen: Candidates | None = None

    def score(self, candidates: Candidates) -> np.ndarray:
        rows = candidates.rows
        self.rows_seen, self.seen = rows, candidates
        return np.asarray(self.probs[: len(rows)], dtype=float)


def passage(text: str, start: int, doc_id: str = "d1", chunk_id: str = "c1", entities=()) -> Passage:  # type: ignore[no-untyped-def]
    return Passage(
        chunk_id=chunk_id,
        doc_id=doc_id,
        text=text,
        start=start,
        end=start + len(text),
        title="Rudd under pressure",
        source="The Guardian",
        entities=entities,
    )


def ranker(scorer: FixedScorer | None = None) -> CandidateRanker:
    return fake_ranker(scorer or FixedScorer([]))


QUESTION = "What was the voluntary departures target for 2015/16?"


def test_one_candidate_per_distinct_sentence() -> None:
    info = analyse(QUESTION)
    whole = passage(TEXT, 100)
    # A second chunk of the same document overlapping the first from its second sentence.
    tail = passage(TEXT[SECOND:], 100 + SECOND, chunk_id="c2")
    other_doc = passage(TEXT, 100, doc_id="d2", chunk_id="c3")
    cands = ranker().candidates(info, [whole, tail, other_doc])
    spans = [(c.passage.doc_id, c.sentence.start, c.sentence.end) for c in cands]
    assert len(spans) == len(set(spans)) == 6  # three sentences in each of two documents
    for c in cands:
        p = c.passage
        assert c.sentence.text == p.text[c.sentence.start - p.start : c.sentence.end - p.start]
        assert c.p == 0.0
    assert [c.sentence.rank for c in cands] == [0, 0, 0, 2, 2, 2]


def test_features_have_one_value_per_feature() -> None:
    info = analyse(QUESTION)
    cands = ranker().candidates(info, [passage(TEXT, 0)])
    assert cands
    assert all(len(c.x) == len(FEATURES) for c in cands)
    numbers = FEATURES.index("numbers")
    by_text = {c.sentence.text: c for c in cands}
    assert by_text["For 2015/16, the annual target was raised to 12,000."].x[numbers] == 1.0
    assert by_text["Nicholas Soames offered his support."].x[numbers] == 0.0


def test_no_passages_no_candidates() -> None:
    assert ranker().candidates(analyse(QUESTION), []) == []


def test_order_puts_sentences_holding_the_questions_numbers_first() -> None:
    info = analyse(QUESTION)
    cands = ranker().candidates(info, [passage(TEXT, 0)])
    # The scorer prefers every other sentence to the one holding 2015/16.
    probs = [0.1 if "2015/16" in c.sentence.text else 0.9 for c in cands]
    scorer = FixedScorer(probs)
    ranked = ranker(scorer).order(info, cands)
    assert "2015/16" in ranked[0].sentence.text
    assert ranked[0].p == pytest.approx(0.1)
    assert [c.p for c in ranked[1:]] == [0.9, 0.9]
    assert scorer.rows_seen is not None and scorer.rows_seen.shape == (len(cands), len(FEATURES))
    # The scorer is given the texts too: the question as read and each sentence as shown.
    assert scorer.seen is not None and scorer.seen.question == info.text
    assert scorer.seen.sentences == tuple(c.sentence.text for c in cands)


def test_order_breaks_ties_by_passage_rank_then_position() -> None:
    info = analyse("Who offered support?")
    first = passage("Nicholas Soames offered support. Others stayed quiet.", 0, doc_id="a")
    second = passage("Alison Thewliss offered support.", 0, doc_id="b", chunk_id="c2")
    cands = ranker().candidates(info, [first, second])
    ranked = ranker(FixedScorer([0.5] * len(cands))).order(info, list(reversed(cands)))
    assert [(c.sentence.rank, c.sentence.start) for c in ranked] == [(0, 0), (0, 33), (1, 0)]


def test_order_of_nothing_is_nothing() -> None:
    assert ranker(FixedScorer([])).order(analyse(QUESTION), []) == []


def test_entity_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(candidates_module, "_ENTITY_CACHE", 2)
    r = ranker()
    info = analyse("Who offered support?")
    texts = [
        "Nicholas Soames offered support.",
        "Alison Thewliss spoke.",
        "Amber Rudd resigned as Home Secretary on Sunday.",
    ]
    unannotated = [
        passage(t, 50, doc_id=f"d{i}", chunk_id=f"c{i}", entities=None) for i, t in enumerate(texts)
    ]
    cands = r.candidates(info, unannotated)
    assert len(cands) == 3
    assert list(r._entities) == ["c1", "c2"]  # the oldest was evicted
    assert any(e.label == "DATE" for e in r._entities["c2"])
    # Entities found at answer time become document offsets on the sentence.
    soames = cands[0].sentence
    assert [(e.start, e.end, e.label) for e in soames.entities] == [(50, 65, "PERSON")]
    assert soames.text[soames.entities[0].start - soames.start : soames.entities[0].end - soames.start] == (
        "Nicholas Soames"
    )


def test_candidate_is_frozen() -> None:
    cands = ranker().candidates(analyse(QUESTION), [passage(TEXT, 0)])
    with pytest.raises(AttributeError):
        cands[0].p = 1.0  # type: ignore[misc]
    assert isinstance(cands[0], Candidate)


def test_sentence_vectors_are_each_embedded_once_alone_and_kept_in_a_bounded_cache(
    embedder: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real model: a sentence met again is not embedded again, and its vector is the one it
    gets embedded on its own, whatever it was asked with."""
    from tests.conftest import CountingEmbedder

    counting = CountingEmbedder(embedder)
    ranker = CandidateRanker(counting, fake_ranker().idf, FixedScorer([0.5]))  # type: ignore[arg-type]
    a = "For 2015/16, the annual target was raised to 12,000."
    b = "Nicholas Soames offered his support to the Home Secretary in the Commons on Monday."
    both = ranker.sentence_vectors([a, b])
    assert counting.embedded == 2
    alone = np.asarray(embedder.embed([b]))[0]  # type: ignore[attr-defined]
    np.testing.assert_array_equal(both[1], alone)
    again = ranker.sentence_vectors([b, a, b])
    assert counting.embedded == 2  # all three from the cache
    np.testing.assert_array_equal(again, both[[1, 0, 1]])
    monkeypatch.setattr(candidates_module, "_VECTOR_CACHE", 2)
    ranker.sentence_vectors(["A third sentence, new to the cache."])  # evicts a, the least recent
    assert counting.embedded == 3
    ranker.sentence_vectors([b])
    assert counting.embedded == 3
    ranker.sentence_vectors([a])
    assert counting.embedded == 4
