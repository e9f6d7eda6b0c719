"""Composing an answer: which sentences, in what order, and how they are written and cited."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from bot.candidates import Candidate
from bot.composing import attributed, compose, render
from bot.questions import analyse
from bot.records import Passage
from tests.bot.fakes import ConstantScorer, ranker, unit_idf

QUESTION = "What target did the Home Office set for voluntary departures in 2015/16?"
ARTICLE = (
    "Ministers faced questions on Monday. "
    "The Home Office set goals for voluntary departures in 2015/16. "
    "The figure was 12,000. "
    "Critics said the departures target was cruel."
)


def passage(text: str, doc_id: str = "d1", start: int = 100, **fields: Any) -> Passage:
    return Passage(
        chunk_id=f"{doc_id}-c",
        doc_id=doc_id,
        text=text,
        start=start,
        end=start + len(text),
        title="Removal targets",
        source="The Guardian",
        **fields,
    )


def cands(question: str, passages: list[Passage], probs: dict[str, float]) -> list[Candidate]:
    """The real candidates of ``passages``, each with the probability its text's key in ``probs``
    gives (0.01 otherwise), ranked best first."""
    out = []
    for c in ranker(ConstantScorer(0.0)).candidates(analyse(question), passages):
        p = next((v for k, v in probs.items() if k in c.sentence.text), 0.01)
        out.append(replace(c, p=p))
    return sorted(out, key=lambda c: -c.p)


def texts(chosen: list[Candidate]) -> list[str]:
    return [c.sentence.text for c in chosen]


def test_best_first_then_the_neighbour_carrying_the_missing_focus() -> None:
    info = analyse(QUESTION)
    ranked = cands(QUESTION, [passage(ARTICLE)], {"12,000": 0.9})
    best = ranked[0]
    chosen = compose(info, best, ranked, threshold=0.3)
    assert chosen[0] is best
    # The best lacks "set", "departures", "2015/16": its neighbour has them, though rated low;
    # the later sentence with "departures" is not adjacent, and Monday's says nothing asked.
    assert texts(chosen) == [
        "The figure was 12,000.",
        "The Home Office set goals for voluntary departures in 2015/16.",
    ]


def test_no_neighbour_when_the_best_lacks_nothing() -> None:
    info = analyse(QUESTION)
    ranked = cands(QUESTION, [passage(ARTICLE)], {"Home Office set": 0.9})
    assert texts(compose(info, ranked[0], ranked, threshold=0.3)) == [
        "The Home Office set goals for voluntary departures in 2015/16."
    ]


def test_sentences_under_the_floor_are_not_added() -> None:
    info = analyse(QUESTION)
    docs = [
        passage("The Home Office set a target of 12,000 voluntary departures in 2015/16.", "a"),
        passage("The 2015/16 target for departures was set high.", "b"),
        passage("The Home Office set voluntary departures goals in 2015/16 again.", "c"),
    ]
    # The floor is max(threshold, 0.6 x best) = 0.54: 0.6 is added, 0.5 is not.
    ranked = cands(QUESTION, docs, {"12,000": 0.9, "high": 0.6, "again": 0.5})
    assert texts(compose(info, ranked[0], ranked, threshold=0.3)) == [docs[0].text, docs[1].text]
    # The fitted threshold is a floor too.
    assert texts(compose(info, ranked[0], ranked, threshold=0.65)) == [docs[0].text]


def test_overlapping_and_repeated_sentences_are_skipped() -> None:
    info = analyse(QUESTION)
    lead = "The Home Office set a target of 12,000 voluntary departures in 2015/16."
    ranked = cands(QUESTION, [passage(lead, "a"), passage(lead.upper(), "b")], {"Home": 0.9, "HOME": 0.8})
    assert [c.p for c in ranked] == [0.9, 0.8]  # the repeat, in capitals, is above the floor
    best = ranked[0]
    s = best.sentence
    overlapping = replace(
        best, sentence=replace(s, start=s.start + 5, end=s.end + 10, text="other words"), p=0.85
    )
    chosen = compose(info, best, [best, overlapping, *ranked[1:]], threshold=0.3)
    assert chosen == [best]
    # The same sentence moved to a document of its own is added.
    elsewhere = replace(overlapping, passage=replace(best.passage, doc_id="z"))
    assert compose(info, best, [best, elsewhere], threshold=0.3) == [best, elsewhere]


def test_at_most_max_sentences() -> None:
    info = analyse(QUESTION)
    docs = [passage(f"The Home Office set {n} voluntary departures in 2015/16.", f"d{n}") for n in range(5)]
    ranked = cands(QUESTION, docs, {"set": 0.9})
    assert len(compose(info, ranked[0], ranked, threshold=0.3, max_sentences=2)) == 2
    assert len(compose(info, ranked[0], ranked, threshold=0.3)) == 3


def test_render_numbers_markers_in_order_and_quotes_exact_spans() -> None:
    info = analyse(QUESTION)
    article = passage(ARTICLE)
    ranked = cands(QUESTION, [article], {"12,000": 0.9})
    chosen = compose(info, ranked[0], ranked, threshold=0.3)
    text, cites, short = render(info, chosen, unit_idf)
    assert text == (
        "The figure was 12,000. [1] The Home Office set goals for voluntary departures in 2015/16. [2]"
    )
    assert [int(m) for m in re.findall(r"\[(\d+)\]", text)] == [c.n for c in cites] == [1, 2]
    document = " " * article.start + article.text  # the passage is document_text[start:end]
    for c, cand in zip(cites, chosen, strict=True):
        assert c.quote == document[c.start : c.end] == cand.sentence.text
        assert c.score == round(cand.p, 4)
    assert short is not None and short.n == 1
    assert short.text == document[short.start : short.end] and "12,000" in short.text


def test_render_attributes_a_transcript_sentence_to_its_speaker() -> None:
    question = "What did Alison Thewliss say about the targets?"
    info = analyse(question)
    turn = passage(
        "The targets were a litany of callous incompetence.", speaker="Alison Thewliss", party="SNP"
    )
    ranked = cands(question, [turn], {"litany": 0.9})
    text, cites, _ = render(info, ranked[:1], unit_idf)
    assert text == "Alison Thewliss (SNP) said: “The targets were a litany of callous incompetence.” [1]"
    assert cites[0].speaker == "Alison Thewliss"
    assert cites[0].quote == turn.text


def test_attributed() -> None:
    sentence = "The targets were a litany of callous incompetence."
    assert attributed(sentence, passage(sentence)) == sentence
    turn = passage(sentence, speaker="Alison Thewliss", party="SNP")
    assert attributed(sentence, turn) == f"Alison Thewliss (SNP) said: “{sentence}”"
    assert attributed(sentence, passage(sentence, speaker="Alison Thewliss")) == (
        f"Alison Thewliss said: “{sentence}”"
    )
