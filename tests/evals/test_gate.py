"""The evaluation gate: the founding, Hansard, dev and held-out sets must meet their
thresholds; SQuAD is scored and reported. Reports are kept under artifacts/evals/ for CI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from despatch.settings import PROJECT_ROOT
from entry.cli import main
from evals.runner import run_eval, summary
from evals.squad import convert
from tests.conftest import SQUAD, make_settings

ARTIFACTS = PROJECT_ROOT / "artifacts" / "evals"


@pytest.mark.parametrize("name", ["founding", "hansard", "dev", "heldout", "parlparse"])
def test_gold_set_meets_thresholds(name: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "store")
    report = run_eval(settings, PROJECT_ROOT / "evals" / "gold" / f"{name}.jsonl", out_dir=ARTIFACTS / name)
    print(summary(report))
    assert report.metrics["invalid_citations"] == 0
    assert report.thresholds, "a gated gold set must have thresholds"
    assert report.passed, report.breaches
    assert (ARTIFACTS / name / "report.md").read_text().startswith(f"# Evaluation: {name}.jsonl")


def test_squad_is_scored_and_reported(tmp_path: Path) -> None:
    corpus, gold = convert(SQUAD, tmp_path / "squad", every=4)
    report = run_eval(make_settings(tmp_path / "store"), gold, [corpus], out_dir=ARTIFACTS / "squad")
    print(summary(report))
    assert report.metrics["cases"] > 600
    assert report.metrics["invalid_citations"] == 0
    assert report.metrics["retrieval_recall_at_5"] > 0.8  # sanity, not a gate: see docs/retrieval.md


def test_eval_cli_exits_nonzero_below_thresholds(tmp_path: Path, capsys: Any) -> None:
    gold = tmp_path / "tiny.jsonl"
    gold.write_text(
        '{"id": "t1", "question": "What was the 2015/16 target?", "answerable": true, '
        '"facts": [["12,000"]], "evidence": ["the annual target was raised to 12,000"]}\n'
        '{"id": "t2", "question": "Who won the 2017 election?", "answerable": false}\n'
    )
    strict = tmp_path / "strict.json"
    strict.write_text('{"metrics": {"answer_correctness": 1.0, "max_latency_p50_ms": 0.001}}')
    store = str(tmp_path / "store")
    args = [
        "eval",
        "--gold",
        str(gold),
        "--corpus",
        str(PROJECT_ROOT / "data" / "corpus"),
        "--store",
        store,
        "--out",
        str(tmp_path / "out"),
    ]
    assert main([*args, "--thresholds", str(strict)]) == 1  # nobody answers in 0.001 ms
    assert "BREACH latency_p50_ms" in capsys.readouterr().out
    lenient = tmp_path / "lenient.json"
    lenient.write_text('{"metrics": {"answer_correctness": 1.0, "refusal_recall": 1.0}}')
    assert main([*args, "--thresholds", str(lenient)]) == 0
    assert (tmp_path / "out" / "report.json").exists()
