"""The citation check: numbers and names must be in the passage; spans are exact."""

from __future__ import annotations

import pytest

from bot.citations import balanced_span, check
from bot.records import Citation, Passage

TEXT = (
    "The report said the Home Office set a target of 7,200 voluntary departures. "
    "For 2015/16, the annual target was raised to 12,000. Nicholas Soames offered support."
)
PASSAGE = Passage(
    chunk_id="c1", doc_id="d1", text=TEXT, start=100, end=100 + len(TEXT), title="Title", source="src"
)


def idf(term: str) -> float:
    return 1.0


def test_verbatim_sentence_cites_its_exact_span() -> None:
    support = check("For 2015/16, the annual target was raised to 12,000.", PASSAGE, idf)
    assert support.ok
    quote = Citation.of(1, PASSAGE, support.start, support.end, support.score).quote
    assert quote == "For 2015/16, the annual target was raised to 12,000."


def test_paraphrase_with_the_same_facts_passes() -> None:
    support = check("The annual target for 2015/16 was raised to 12,000", PASSAGE, idf, lambda a, b: 0.8)
    assert support.ok and support.missing == ()


def test_wrong_number_fails() -> None:
    support = check("For 2015/16, the annual target was raised to 15,000.", PASSAGE, idf, lambda a, b: 0.9)
    assert not support.ok and "15000" in support.missing


def test_missing_name_fails() -> None:
    support = check("Alison Thewliss offered support.", PASSAGE, idf, lambda a, b: 0.9)
    assert not support.ok and "thewliss" in support.missing


def test_unrelated_claim_fails() -> None:
    assert not check("The weather was sunny in Glasgow.", PASSAGE, idf, lambda a, b: 0.1).ok


def test_speaker_counts_as_passage_content() -> None:
    turn = Passage(
        chunk_id="c2",
        doc_id="d2",
        text="We will cap immigration.",
        start=0,
        end=24,
        title="Cap",
        source="src",
        speaker="Damian Green",
    )
    assert check("Damian Green said: “We will cap immigration.”", turn, idf).ok
    assert not check("Gerald Kaufman said: “We will cap immigration.”", turn, idf).ok


def _passage(text: str) -> Passage:
    return Passage(chunk_id="c", doc_id="d", text=text, start=100, end=100 + len(text), title="t", source="s")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # opens here, closes in a later paragraph: the opening mark is trimmed
        (
            "“For 2015/16, the annual target was raised to 12,000.",
            "For 2015/16, the annual target was raised to 12,000.",
        ),
        # closes a quotation opened earlier: the closing mark is trimmed
        (
            "These targets were split between the 19 ICE teams across the UK.”",
            "These targets were split between the 19 ICE teams across the UK.",
        ),
        # balanced already, including a source that types ” for “
        ("Ms Rudd said the Home Office used ”local targets” for “internal performance management”.", None),
        ("She said “it was wrong.”", None),
    ],
)
def test_balanced_span_trims_dangling_marks(text: str, expected: str | None) -> None:
    p = _passage(text)
    start, end = balanced_span(p, p.start, p.end)
    shown = text[start - p.start : end - p.start]
    assert shown == (expected or text)
    assert shown.count("“") + shown.count("”") + shown.count('"') in (0, 2, 4)


def test_balanced_span_takes_in_the_closing_sentence() -> None:
    text = "She said “it was wrong. It was bad.” Then she left."
    p = _passage(text)
    first_end = p.start + text.index("wrong.") + len("wrong.")
    start, end = balanced_span(p, p.start, first_end)
    assert text[start - p.start : end - p.start] == "She said “it was wrong. It was bad.”"


def test_balanced_span_cuts_an_unclosed_quotation() -> None:
    text = (
        "The report said: “For 2014/15 the Home Office set a target of 7,200 voluntary departures. "
        "“For 2015/16 it rose."
    )
    p = _passage(text)
    end = p.start + text.index("departures.") + len("departures.")
    start, end = balanced_span(p, p.start, end)
    shown = text[start - p.start : end - p.start]
    assert shown == "For 2014/15 the Home Office set a target of 7,200 voluntary departures."
