"""evals/runner.py: where a gold file's thresholds live and how they are checked, how cases are
scored and aggregated (by metric and by tag), how the gate is applied (minimums, ``max_``
maximums, the default gate), the report and summary, and ``build_bot``'s eval-owned index."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from despatch.errors import ConfigError
from despatch.settings import PROJECT_ROOT
from evals.runner import (
    DEFAULT_GATE,
    aggregate,
    build_bot,
    by_tag,
    describe_model,
    load_thresholds,
    run_eval,
    summary,
    thresholds_path,
    write_report,
)
from evals.scoring import CaseScore
from tests.conftest import make_settings

PASSING = {
    "id": "target",
    "question": "What was the 2015/16 target?",
    "answerable": True,
    "facts": [["12,000"]],
    "evidence": ["the annual target was raised to 12,000"],
    "tags": ["number"],
}
FAILING = {
    "id": "teams",
    "question": "How many ICE teams were there?",
    "answerable": True,
    "facts": [["21"]],
    "tags": ["number"],
}
REFUSE = {"id": "election", "question": "Who won the 2017 election?", "answerable": False}


def _gold(path: Path, *cases: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def _thresholds(path: Path, metrics: Any, **extra: Any) -> Path:
    path.write_text(json.dumps({"metrics": metrics, **extra}), encoding="utf-8")
    return path


def _score(i: int, answerable: bool, refused: bool, **fields: Any) -> CaseScore:
    return CaseScore(str(i), "q", answerable, refused, "", fields.pop("tags", []), **fields)


def test_the_projects_sets_use_evals_thresholds_and_any_other_gold_file_its_neighbour(tmp_path: Path) -> None:
    assert thresholds_path(PROJECT_ROOT / "evals" / "gold" / "founding.jsonl") == (
        PROJECT_ROOT / "evals" / "thresholds" / "founding.json"
    )
    # A newsroom's file named like a project set never picks up the project's gate.
    assert thresholds_path(tmp_path / "founding.jsonl") == tmp_path / "founding.thresholds.json"
    assert (
        thresholds_path(tmp_path / "desk" / "politics.jsonl")
        == tmp_path / "desk" / "politics.thresholds.json"
    )


def test_thresholds_files_are_read_with_their_corpus_relative_to_their_folder(tmp_path: Path) -> None:
    assert load_thresholds(tmp_path / "none.json") == {"corpus": [], "metrics": {}}
    path = _thresholds(
        tmp_path / "desk.thresholds.json",
        {"answer_correctness": 0.8, "max_latency_p95_ms": 900, "retrieval_recall_at_10": 0.9},
        corpus=["stories", "more/hansard"],
    )
    assert load_thresholds(path) == {
        "metrics": {"answer_correctness": 0.8, "max_latency_p95_ms": 900, "retrieval_recall_at_10": 0.9},
        "corpus": [str(tmp_path / "stories"), str(tmp_path / "more/hansard")],
    }
    # The project's own thresholds name their corpus from the project root.
    project = load_thresholds(PROJECT_ROOT / "evals" / "thresholds" / "founding.json")
    assert project["corpus"] == [str(PROJECT_ROOT / "data" / "corpus")]
    assert project["metrics"]["max_invalid_citations"] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"metrics": {"answer_correctness": 0.8,}}', r"malformed JSON on line 1; fix the thresholds file"),
        ('{\n"metrics":\n{"a": }\n}', r"malformed JSON on line 3"),
        ("[0.8]", r'expected \{"corpus": \[\.\.\.\], "metrics": \{name: number\}\}'),
        ('{"metrics": [["answer_correctness", 0.8]]}', r'expected \{"corpus"'),
        (
            '{"metrics": {"answer_corectness": 0.8}}',
            r"unknown metric 'answer_corectness'; the metrics are in",
        ),
        ('{"metrics": {"max_latency": 100}}', r"unknown metric 'max_latency'"),
        ('{"metrics": {"refusal_recall": "0.9"}}', r"refusal_recall must be a number, not '0\.9'"),
        (
            '{"metrics": {"max_invalid_citations": false}}',
            r"max_invalid_citations must be a number, not False",
        ),
        ('{"metrics": {"token_f1": null}}', r"token_f1 must be a number, not None"),
    ],
)
def test_a_bad_thresholds_file_is_a_config_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as raised:
        load_thresholds(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_aggregate_of_hand_made_scores() -> None:
    scores = [
        _score(
            1,
            True,
            False,
            facts_ok=True,
            f1=0.5,
            evidence_found=1,
            evidence_total=2,
            retrieval_hits=[1, 3],
            citations_checked=2,
            citations_supported=2,
            fact_groups=1,
            facts_found=1,
            facts_grounded=1,
            latency_ms=100.0,
            lead_ok=True,
        ),
        _score(
            2,
            True,
            False,
            facts_ok=False,
            f1=0.25,
            evidence_total=1,
            retrieval_hits=[None],
            citations_checked=1,
            citations_supported=0,
            invalid_citations=1,
            fact_groups=2,
            facts_found=1,
            latency_ms=300.0,
        ),
        _score(
            3,
            True,
            True,
            facts_ok=False,
            f1=0.0,
            evidence_total=1,
            retrieval_hits=[8],
            fact_groups=1,
            latency_ms=50.0,
            fallback="endpoint timed out",
        ),
        _score(4, False, True, latency_ms=20.0),
        _score(5, False, False, citations_checked=1, citations_supported=1, latency_ms=200.0),
    ]
    metrics = aggregate(scores, 3)
    assert metrics == {
        "cases": 5,
        "answer_correctness": round(1 / 3, 4),
        "token_f1": 0.25,
        "evidence_recall": 0.25,
        "citation_precision": 0.75,
        "invalid_citations": 1.0,
        "retrieval_recall_at_3": 0.5,  # ranks 1 and 3 of 1, 3, missed, 8
        "retrieval_mrr": round((1 + 1 / 3 + 1 / 8) / 4, 4),
        "fact_recall": 0.5,
        "fact_grounding": 0.5,
        "refusal_precision": 0.5,
        "refusal_recall": 0.5,
        "false_refusal_rate": round(1 / 3, 4),
        "balanced_refusal_accuracy": round(((1 - 1 / 3) + 1 / 2) / 2, 4),
        "answer_precision": round(1 / 3, 4),
        "fact_in_first_sentence": 1.0,  # no factoid case: nothing to miss
        "short_answer_coverage": 1.0,
        "short_answer_exact_match": 1.0,
        "fallback_rate": 0.2,
        "latency_p50_ms": 100.0,
        "latency_p95_ms": 300.0,
    }


def test_aggregate_of_nothing_and_of_unanswerables_only() -> None:
    empty = aggregate([], 5)
    assert empty["cases"] == 0 and empty["false_refusal_rate"] == 0.0
    assert empty["latency_p50_ms"] == 0.0 and empty["latency_p95_ms"] == 0.0
    assert empty["answer_correctness"] == 1.0 and empty["retrieval_recall_at_5"] == 1.0  # no evidence
    refused = aggregate([_score(1, False, True), _score(2, False, False)], 5)
    assert refused["refusal_recall"] == 0.5 and refused["refusal_precision"] == 1.0
    assert refused["false_refusal_rate"] == 0.0 and refused["balanced_refusal_accuracy"] == 0.75


def test_by_tag_counts_every_tag_of_a_case_and_groups_the_untagged() -> None:
    scores = [
        _score(1, True, False, tags=["number", "multi"]),
        _score(2, True, False, tags=["number"], failures=["facts missing: ['21']"]),
        _score(3, True, False, tags=["number"]),
        _score(4, False, True),
    ]
    assert by_tag(scores) == {
        "multi": {"cases": 1, "passed": 1, "pass_rate": 1.0},
        "number": {"cases": 3, "passed": 2, "pass_rate": 0.6667},
        "untagged": {"cases": 1, "passed": 1, "pass_rate": 1.0},
    }
    assert list(by_tag(scores)) == ["multi", "number", "untagged"]


def test_a_run_scores_each_case_against_the_real_bot_and_gates_on_invalid_citations_by_default(
    tmp_path: Path, founding_bot: Any
) -> None:
    gold = _gold(tmp_path / "desk.jsonl", PASSING, FAILING, REFUSE)
    report = run_eval(founding_bot.settings, gold, bot=founding_bot)
    scores = {s.id: s for s in report.cases}
    assert list(scores) == ["target", "teams", "election"]
    assert scores["target"].facts_ok and scores["target"].failures == []
    assert scores["target"].evidence_found == 1 and scores["target"].retrieval_hits == [1]
    assert scores["target"].short_answer == "12,000" and scores["target"].short_ok
    assert scores["teams"].failures == ["facts missing: ['21']"]  # the article says 19
    assert "19 ICE teams" in scores["teams"].answer
    assert scores["election"].refused and scores["election"].failures == []
    m = report.metrics
    assert (m["cases"], m["answer_correctness"], m["fact_recall"], m["evidence_recall"]) == (3, 0.5, 0.5, 1.0)
    assert (m["refusal_recall"], m["refusal_precision"], m["false_refusal_rate"]) == (1.0, 1.0, 0.0)
    assert m["invalid_citations"] == 0.0 and m["retrieval_recall_at_5"] == 1.0
    assert report.thresholds == DEFAULT_GATE == {"max_invalid_citations": 0.0}
    assert report.passed and report.breaches == []
    assert report.by_tag == {
        "number": {"cases": 2, "passed": 1, "pass_rate": 0.5},
        "untagged": {"cases": 1, "passed": 1, "pass_rate": 1.0},
    }
    assert (report.gold, report.answerer) == ("desk.jsonl", "extractive")
    assert report.threshold == founding_bot.scorer.threshold
    assert report.model == describe_model(founding_bot.settings, "extractive", founding_bot.scorer)


def test_the_gate_names_each_breached_minimum_and_maximum(tmp_path: Path, founding_bot: Any) -> None:
    gold = _gold(tmp_path / "desk.jsonl", PASSING, FAILING, REFUSE)
    _thresholds(
        tmp_path / "desk.thresholds.json",  # found beside the gold file
        {
            "answer_correctness": 0.9,
            "refusal_recall": 1.0,  # met exactly: no breach
            "max_invalid_citations": 0,
            "max_false_refusal_rate": 0,
            "max_latency_p50_ms": 0.001,
            "retrieval_recall_at_10": 0.5,  # the run measured recall at 5 only
        },
    )
    report = run_eval(founding_bot.settings, gold, bot=founding_bot)
    assert report.thresholds == {
        "answer_correctness": 0.9,
        "refusal_recall": 1.0,
        "max_invalid_citations": 0.0,
        "max_false_refusal_rate": 0.0,
        "max_latency_p50_ms": 0.001,
        "retrieval_recall_at_10": 0.5,
    }
    p50 = report.metrics["latency_p50_ms"]
    assert report.breaches == [
        "answer_correctness = 0.5 < 0.9",
        f"latency_p50_ms = {p50:g} > 0.001",
        "retrieval_recall_at_10 = 0 < 0.5",
    ]
    assert not report.passed
    text = summary(report)
    assert text.startswith("desk.jsonl (extractive): FAILED\n  cases ")
    assert text.endswith(
        "\n  BREACH answer_correctness = 0.5 < 0.9"
        f"\n  BREACH latency_p50_ms = {p50:g} > 0.001"
        "\n  BREACH retrieval_recall_at_10 = 0 < 0.5"
    )
    # With k = 10 the same gate's recall is measured, and met; --limit scores the first case only.
    _thresholds(tmp_path / "desk.thresholds.json", {"retrieval_recall_at_10": 0.5, "max_retrieval_mrr": 0.5})
    first = run_eval(founding_bot.settings, gold, bot=founding_bot, k=10, limit=1)
    assert first.metrics["cases"] == 1 and first.metrics["retrieval_recall_at_10"] == 1.0
    assert first.breaches == ["retrieval_mrr = 1 > 0.5"]


def test_a_report_is_written_and_the_summary_lists_every_metric(tmp_path: Path, founding_bot: Any) -> None:
    gold = _gold(tmp_path / "desk.jsonl", PASSING, REFUSE)
    report = run_eval(founding_bot.settings, gold, bot=founding_bot, out_dir=tmp_path / "out")
    written = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert written["passed"] and written["answerer"] == "extractive"
    assert written["sets"][0]["metrics"] == report.metrics
    assert [c["id"] for c in written["sets"][0]["cases"]] == ["target", "election"]
    assert (tmp_path / "out" / "report.md").read_text(encoding="utf-8").startswith("# Evaluation: desk.jsonl")
    text = summary(report).splitlines()
    assert text[0] == "desk.jsonl (extractive): PASSED"
    assert len(text) == 1 + len(report.metrics) and "BREACH" not in summary(report)
    assert text[2].split() == ["answer_correctness", "1"]
    # write_report writes the same files, and JUnit XML when asked.
    write_report(report, tmp_path / "again", junit=tmp_path / "again" / "junit.xml")
    assert json.loads((tmp_path / "again" / "report.json").read_text())["sets"][0]["gold"] == "desk.jsonl"
    assert (
        b'<testcase name="target" classname="desk.jsonl"' in (tmp_path / "again" / "junit.xml").read_bytes()
    )


def test_a_run_without_a_corpus_or_with_a_missing_thresholds_file_is_a_config_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "store")
    gold = _gold(tmp_path / "desk.jsonl", PASSING)
    with pytest.raises(ConfigError, match=r"nowhere\.json: no such thresholds file"):
        run_eval(settings, gold, thresholds=tmp_path / "nowhere.json")
    with pytest.raises(
        ConfigError, match=r"No corpus for desk\.jsonl: pass --corpus PATH or set it in the thresholds file"
    ):
        run_eval(settings, gold)
    assert not (tmp_path / "store").exists()  # refused before any index was made


def test_describe_model_names_the_scorer_file_and_its_digest_or_the_llm(tmp_path: Path) -> None:
    from bot.answerability import MODEL_PATH, Model
    from bot.assembly import assemble
    from bot.contextual import MANIFEST
    from bot.reader import MANIFEST as READER

    settings = make_settings(tmp_path / "store")
    digest = hashlib.sha256(READER.read_bytes()).hexdigest()[:12]
    assert describe_model(settings, "extractive", assemble(settings).scorer) == (
        f"extractive, reader answerability model reader.json sha256:{digest}"
    )
    contextual = settings.model_copy(update={"scorer": "contextual"})
    digest = hashlib.sha256(MANIFEST.read_bytes()).hexdigest()[:12]
    assert describe_model(contextual, "extractive", assemble(contextual).scorer) == (
        f"extractive, contextual answerability model contextual.json sha256:{digest}"
    )
    logistic = settings.model_copy(update={"scorer": "logistic"})
    digest = hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()[:12]
    assert describe_model(logistic, "extractive", assemble(logistic).scorer) == (
        f"extractive, logistic answerability model answerability.json sha256:{digest}"
    )
    own = tmp_path / "ours.json"
    own.write_bytes(MODEL_PATH.read_bytes() + b"\n")  # the file it loaded names the report, not the setting
    mine = logistic.model_copy(update={"answer_model": own})
    assert describe_model(mine, "extractive", assemble(mine).scorer).endswith(
        f"model ours.json sha256:{hashlib.sha256(own.read_bytes()).hexdigest()[:12]}"
    )
    assert describe_model(settings, "extractive", Model.untrained()) == (
        "extractive, logistic answerability model (in memory)"
    )
    llm = settings.model_copy(update={"llm_model": "smollm2", "llm_base_url": "http://127.0.0.1:8080/v1"})
    assert describe_model(llm, "llm", None) == "smollm2 at http://127.0.0.1:8080/v1"
    assert describe_model(settings, "llm", None) == f"{settings.llm_model} at the default OpenAI endpoint"


def test_build_bot_indexes_exactly_the_eval_corpus(tmp_path: Path, embedder: Any) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    ferry = folder / "ferry.txt"
    ferry.write_text(
        "date 2019-03-01\nThe Zanzibar ferry committee met on Tuesday. Its chair, Mary Okafor, said "
        "ferry licences would be capped at 40 a year.\n",
        encoding="utf-8",
    )
    bridge = folder / "bridge.txt"
    bridge.write_text(
        "date 2019-04-02\nThe Tamar bridge toll rose to 3 pounds in April. The council said the rise "
        "paid for new cables.\n",
        encoding="utf-8",
    )
    settings = make_settings(tmp_path / "store")
    both = build_bot(settings, [ferry, bridge], embedder=embedder)
    assert sorted(d.title for d in both.store.documents()) == ["Bridge", "Ferry"]
    toll = both.ask("What did the Tamar bridge toll rise to?")
    assert not toll.refused and "3 pounds" in toll.answer
    # The same store, a smaller corpus: the bridge story is removed, so it can no longer answer.
    ferry_only = build_bot(settings, [ferry], embedder=embedder)
    assert [d.title for d in ferry_only.store.documents()] == ["Ferry"]
    assert ferry_only.ask("What did the Tamar bridge toll rise to?").refused
    gold = _gold(
        tmp_path / "ferry.jsonl",
        {"id": "cap", "question": "How many ferry licences a year?", "answerable": True, "facts": [["40"]]},
    )
    assert run_eval(settings, gold, bot=ferry_only).metrics["answer_correctness"] == 1.0
    empty = folder / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"The eval corpus has bad files: .*empty\.txt: file is empty"):
        build_bot(settings, [ferry, empty], embedder=embedder)
