"""report.html in a real browser: the chart is drawn, and a hostile gold question is text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.report import EvalReport, Suite, write_suite
from evals.scoring import CaseScore

XSS = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>What was the target?'


def _report() -> EvalReport:
    failed = CaseScore(
        id="xss",
        question=XSS,
        answerable=True,
        refused=False,
        answer="The target was <b>12,000</b>. [1]",
        tags=["number"],
        failures=["facts missing: ['13,000']"],
        citations=[{"n": 1, "title": "<script>window.pwned=3</script>", "quote": "raised to 12,000"}],
    )
    passed = CaseScore(id="ok", question="q", answerable=False, refused=True, answer="", tags=[])
    metrics = {"cases": 2.0, "answer_correctness": 0.0, "refusal_recall": 1.0, "latency_p50_ms": 90.0}
    return EvalReport(
        gold="desk.jsonl",
        answerer="extractive",
        metrics=metrics,
        thresholds={"answer_correctness": 0.8, "refusal_recall": 0.9},
        breaches=["answer_correctness = 0 < 0.8"],
        by_tag={"number": {"cases": 1, "passed": 0, "pass_rate": 0.0}},
        cases=[failed, passed],
        model="test",
    )


def test_report_html_shows_the_chart_and_escapes_gold_text(tmp_path: Path, browser: Any) -> None:
    write_suite(Suite("extractive", "test", [_report()]), tmp_path)
    page = browser.new_page()
    try:
        page.goto((tmp_path / "report.html").as_uri())
        chart = page.locator("figure.chart svg")
        box = chart.bounding_box()
        assert chart.is_visible() and box is not None and box["width"] > 300 and box["height"] > 100
        # One bar per share metric (answer_correctness and refusal_recall), coloured by verdict.
        labels = chart.text_content() or ""
        assert "answer_correctness" in labels and "refusal_recall" in labels
        case = page.locator("div.case")
        assert XSS in case.inner_text()  # shown as the text it is
        assert "<script>window.pwned=3</script>" in case.inner_text()
        assert "The target was <b>12,000</b>." in case.inner_text()
        assert case.locator("img, script").count() == 0
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert page.locator("td.fail").first.inner_text() == "BREACH"
        curve = page.locator("figure.curve svg")
        box = curve.bounding_box()
        assert curve.is_visible() and box is not None and box["width"] > 300
        assert "risk-coverage" in (curve.text_content() or "")
    finally:
        page.close()
