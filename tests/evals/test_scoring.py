"""Scoring functions against hand-computed references."""

from __future__ import annotations

from bot.records import Answer, Citation, Passage
from evals.gold import GoldCase
from evals.scoring import normalise, score_case, squad_normalise, token_f1

DOC = "For 2015/16, the annual target was raised to 12,000. These targets were split."


def _answer(text: str, quote_span: tuple[int, int], refused: bool = False) -> Answer:
    p = Passage(chunk_id="c1", doc_id="d1", text=DOC, start=0, end=len(DOC), title="T", source="s")
    cite = Citation.of(1, p, *quote_span, 1.0)
    return Answer(
        question="q",
        resolved_question="q",
        answer=text,
        refused=refused,
        answerer="extractive",
        citations=[] if refused else [cite],
        timings_ms={"total": 5.0},
    )


def test_normalise_quotes_dashes_thousands() -> None:
    assert normalise("“Total  support” – 12,000") == '"total support" - 12000'
    assert squad_normalise("The Normans, in France!") == "normans in france"


def test_token_f1_reference() -> None:
    assert token_f1("the cat sat", "cat sat down") == 2 * (2 / 2 * 2 / 3) / (2 / 2 + 2 / 3)
    assert token_f1("", "") == 1.0


def test_correct_answer_scores_clean() -> None:
    case = GoldCase("x", "q", True, [["12,000", "12000"]], ["annual target was raised to 12,000"])
    answer = _answer("For 2015/16, the annual target was raised to 12,000. [1]", (0, 52))
    score = score_case(case, answer, lambda d: DOC, lambda s, p: True, [("d1", DOC)])
    assert score.facts_ok and score.evidence_found == 1 and score.invalid_citations == 0
    assert score.retrieval_hits == [1] and score.citations_supported == 1 and not score.failures


def test_wrong_quote_counts_as_invalid() -> None:
    case = GoldCase("x", "q", True, [["12,000"]], [])
    answer = _answer("The target was 12,000. [1]", (0, 52))
    score = score_case(case, answer, lambda d: "something else entirely" * 5, lambda s, p: True, [])
    assert score.invalid_citations == 1
    assert any("does not quote" in f for f in score.failures)


def test_marker_without_citation_is_invalid() -> None:
    case = GoldCase("x", "q", True, [["12,000"]], [])
    answer = _answer("The target was 12,000. [1] It was split. [2]", (0, 52))
    score = score_case(case, answer, lambda d: DOC, lambda s, p: True, [])
    assert score.invalid_citations == 1 and "marker [2] names no citation" in score.failures


def test_unanswerable_must_be_refused() -> None:
    case = GoldCase("u", "q", False)
    answered = score_case(case, _answer("Something. [1]", (0, 52)), lambda d: DOC, lambda s, p: True, [])
    refused = score_case(case, _answer("No.", (0, 52), refused=True), lambda d: DOC, lambda s, p: True, [])
    assert answered.failures == ["answered an unanswerable question"] and not refused.failures


def test_squad_paragraph_retrieval_rank() -> None:
    case = GoldCase("s", "q", True, [["12,000"]], [], paragraph="squad:A:1")
    answer = _answer("For 2015/16, the annual target was raised to 12,000. [1]", (0, 52))
    score = score_case(
        case,
        answer,
        lambda d: DOC,
        lambda s, p: True,
        [("squad:A:0", "x"), ("squad:A:1", DOC)],
        "squad:A:1",
    )
    assert score.retrieval_hits == [2]


def test_first_sentence_and_short_answer_are_scored() -> None:
    from dataclasses import replace

    from bot.records import ShortAnswer
    from evals.runner import aggregate

    case = GoldCase("f", "q", True, [["12,000"]], [], tags=["number"])
    lead = _answer(
        "These targets were split. [1] For 2015/16, the annual target was raised to 12,000. [1]", (0, 52)
    )
    first = score_case(case, lead, lambda d: DOC, lambda s, p: True, [])
    assert first.facts_ok and first.first_ok is False and first.factoid  # right fact, not first
    exact = replace(
        _answer("For 2015/16, the annual target was raised to 12,000. [1]", (0, 52)),
        short_answer=ShortAnswer(text="12,000", n=1, start=45, end=51),
    )
    good = score_case(case, exact, lambda d: DOC, lambda s, p: True, [])
    assert good.first_ok is True and good.short_ok is True and good.facts_found == 1
    wrong = replace(exact, short_answer=ShortAnswer(text="2015/16", n=1, start=4, end=11))
    assert score_case(case, wrong, lambda d: DOC, lambda s, p: True, []).short_ok is False
    refused = score_case(case, _answer("No.", (0, 52), refused=True), lambda d: DOC, lambda s, p: True, [])
    metrics = aggregate([first, good, refused], 5)
    assert metrics["fact_in_first_sentence"] == 0.5  # of the two answered factoid cases
    assert metrics["short_answer_exact_match"] == 1.0 and metrics["short_answer_coverage"] == 0.5
    assert metrics["false_refusal_rate"] == round(1 / 3, 4) and metrics["fact_recall"] == round(2 / 3, 4)


def test_unsupported_citation_is_a_failure() -> None:
    case = GoldCase("x", "q", True, [["12,000"]], [])
    answer = _answer("For 2015/16, the annual target was raised to 12,000. [1]", (0, 52))
    score = score_case(case, answer, lambda d: DOC, lambda s, p: False, [])
    assert score.citations_supported == 0 and score.citations_checked == 1
    assert "citation [1] does not support its sentence" in score.failures


def test_facts_match_whole_tokens_only() -> None:
    from evals.scoring import contains

    assert contains("The target was 12,000 a year.", "12000")
    assert not contains("It rose to 450,000 people.", "5000")
    assert not contains("In 2019 it changed.", "19")
    assert not contains("Mayhew spoke.", "May") and contains("Theresa May spoke.", "May")
    case = GoldCase("x", "q", True, [["19"]], [])
    score = score_case(
        case, _answer("In 2019 the target was set. [1]", (0, 52)), lambda d: DOC, lambda s, p: True, []
    )
    assert not score.facts_ok and score.facts_found == 0


def test_an_unsupported_citation_is_counted_and_reported() -> None:
    case = GoldCase("x", "q", True, [["12,000"]], [])
    answer = _answer("For 2015/16, the annual target was raised to 12,000. [1]", (0, 52))
    score = score_case(case, answer, lambda d: DOC, lambda s, p: False, [])
    assert score.citations_checked == 1 and score.citations_supported == 0
    assert "citation [1] does not support its sentence" in score.failures


def test_a_fact_stated_but_not_in_the_cited_quote_is_not_grounded() -> None:
    case = GoldCase("x", "q", True, [["12,000"]], [])
    # The answer says 12,000 but cites only "These targets were split."
    start = DOC.index("These")
    answer = _answer("The target was 12,000. [1]", (start, len(DOC)))
    score = score_case(case, answer, lambda d: DOC, lambda s, p: True, [])
    assert score.facts_found == 1 and score.facts_grounded == 0
    grounded = score_case(
        case, _answer("The target was 12,000. [1]", (0, 52)), lambda d: DOC, lambda s, p: True, []
    )
    assert grounded.facts_grounded == 1


def test_the_risk_coverage_curve_trades_coverage_for_precision() -> None:
    from evals.runner import aggregate
    from evals.scoring import CaseScore, risk_coverage

    def case(i: int, answerable: bool, confidence: float | None, right: bool, refused: bool) -> CaseScore:
        return CaseScore(str(i), "q", answerable, refused, "", [], confidence=confidence, lead_ok=right)

    scores = [
        case(1, True, 0.9, True, False),
        case(2, True, 0.8, True, False),
        case(3, False, 0.7, False, False),  # answered an unanswerable question
        case(4, True, 0.3, True, True),  # refused under the threshold; its lead would have been right
        case(5, False, 0.2, False, True),
        case(6, True, None, False, True),  # refused by a gate: never answered at any threshold
    ]
    curve = {round(p["threshold"], 2): p for p in risk_coverage(scores, steps=10)}
    assert curve[0.0]["precision"] == round(3 / 5, 4) and curve[0.0]["coverage"] == 0.75
    assert curve[0.5]["precision"] == round(2 / 3, 4) and curve[0.5]["coverage"] == 0.5
    assert curve[0.8]["precision"] == 1.0 and curve[0.8]["coverage"] == 0.5
    assert curve[1.0]["coverage"] == 0.0
    assert aggregate(scores, 5)["answer_precision"] == round(2 / 3, 4)
