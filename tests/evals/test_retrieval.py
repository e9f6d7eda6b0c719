"""evals.retrieval: recall@k and MRR of each retrieval mode, over a real store."""

from __future__ import annotations

from typing import Any

from bot.records import Passage
from despatch.settings import PROJECT_ROOT
from evals.gold import GoldCase, load_gold
from evals.retrieval import MODES, _rank, compare, markdown


def passage(n: int, text: str, url: str | None = None) -> Passage:
    return Passage(chunk_id=f"c{n}", doc_id=f"d{n}", text=text, start=0, end=len(text), title="t", url=url)


def test_rank_finds_the_gold_paragraph_or_the_evidence() -> None:
    found = [passage(1, "Nothing here."), passage(2, "The target was  raised to 12,000.", url="squad:p:2")]
    by_evidence = GoldCase("a", "q?", True, evidence=["raised to 12,000"])
    assert _rank(by_evidence, found) == 2  # whitespace normalised, as the scorer compares
    by_paragraph = GoldCase("b", "q?", True, evidence=["raised to 12,000"], paragraph="squad:p:2")
    assert _rank(by_paragraph, found) == 2
    # A case with a gold paragraph is judged by the paragraph alone, not by its evidence.
    elsewhere = GoldCase("c", "q?", True, evidence=["raised to 12,000"], paragraph="squad:p:9")
    assert _rank(elsewhere, found) is None


def test_compare_scores_every_mode_on_answerable_cases_only(founding_bot: Any) -> None:
    cases = load_gold(PROJECT_ROOT / "evals" / "gold" / "founding.jsonl")
    answerable = sum(c.answerable for c in cases)
    assert 0 < answerable < len(cases)
    results = compare(founding_bot, cases, k=5)
    assert set(results) == set(MODES)
    for scores in results.values():
        assert scores["questions"] == answerable
        assert 0.0 <= scores["mrr"] <= scores["recall@5"] <= 1.0
    # One article of a few chunks: hybrid retrieval finds nearly every answer's evidence.
    assert results["hybrid"]["recall@5"] >= 0.9
    table = markdown(results, 5).splitlines()
    assert table[0] == "| retrieval | questions | recall@5 | MRR |" and len(table) == 2 + len(MODES)
    assert table[-1].startswith(f"| hybrid (RRF) | {answerable} | ")
