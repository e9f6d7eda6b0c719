"""The citation check: numbers and names must be in the passage; spans are exact."""

from __future__ import annotations

from bot.citations import check
from bot.records import Citation, Passage

TEXT = (
    "The report said the Home Office set a target of 7,200 voluntary departures. "
    "For 2015/16, the annual target was raised to 12,000. Nicholas Soames offered support."
)
PASSAGE = Passage("c1", "d1", TEXT, 100, 100 + len(TEXT), "Title", "src")


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
    turn = Passage("c2", "d2", "We will cap immigration.", 0, 24, "Cap", "src", speaker="Damian Green")
    assert check("Damian Green said: “We will cap immigration.”", turn, idf).ok
    assert not check("Gerald Kaufman said: “We will cap immigration.”", turn, idf).ok
