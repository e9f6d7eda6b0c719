"""`despatch eval` as a newsroom's CI runs it: JUnit per case, a baseline comparison that names
regressions, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from despatch.settings import PROJECT_ROOT
from entry.cli import main

CORPUS = PROJECT_ROOT / "data" / "corpus"
PASSING = {
    "id": "target",
    "question": "What was the 2015/16 target?",
    "answerable": True,
    "facts": [["12,000"]],
    "evidence": ["the annual target was raised to 12,000"],
}
FAILING = {"id": "teams", "question": "How many ICE teams were there?", "answerable": True, "facts": [["21"]]}
REFUSE = {"id": "election", "question": "Who won the 2017 election?", "answerable": False}


def _gold(path: Path, *cases: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def _args(tmp_path: Path, gold: Path, out: str, *extra: str) -> list[str]:
    thresholds = tmp_path / "t.json"
    thresholds.write_text('{"metrics": {"max_invalid_citations": 0}}')
    return [
        "eval",
        "--gold",
        str(gold),
        "--corpus",
        str(CORPUS),
        "--store",
        str(tmp_path / "store"),
        "--thresholds",
        str(thresholds),
        "--out",
        str(tmp_path / out),
        *extra,
    ]


def test_junit_has_one_testcase_per_case_and_baseline_regressions_fail_the_run(
    tmp_path: Path, capsys: Any
) -> None:
    gold = _gold(tmp_path / "desk.jsonl", PASSING, FAILING, REFUSE)
    junit = tmp_path / "first" / "junit.xml"
    assert main(_args(tmp_path, gold, "first", "--junit", str(junit))) == 0

    suites = {s.get("name"): s for s in ET.parse(junit).getroot().iter("testsuite")}
    cases = {c.get("name"): c for c in suites["desk.jsonl"].iter("testcase")}
    assert set(cases) == {"target", "teams", "election"}
    assert all(c.get("classname") == "desk.jsonl" for c in cases.values())
    assert cases["target"].find("failure") is None and cases["election"].find("failure") is None
    failure = cases["teams"].find("failure")
    assert failure is not None and failure.get("type") == "fact missing"
    assert "facts missing: ['21']" in str(failure.get("message"))
    assert "Answer: " in str(failure.text) and "19 ICE teams" in str(failure.text)  # the answer shown
    assert [c.get("name") for c in suites["desk.jsonl thresholds"].iter("testcase")] == [
        "max_invalid_citations"
    ]
    first = json.loads((tmp_path / "first" / "report.json").read_text())
    assert first["passed"] and first["answerer"] == "extractive" and "answerability model" in first["model"]

    # A planted regression: the case that passed now asks for a figure the source does not give.
    changed = _gold(tmp_path / "desk.jsonl", {**PASSING, "facts": [["13,000"]]}, FAILING, REFUSE)
    capsys.readouterr()
    junit2 = tmp_path / "second.xml"
    args = _args(tmp_path, changed, "second", "--baseline", str(tmp_path / "first"), "--junit", str(junit2))
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "REGRESSION desk.jsonl::target" in out and "1 regressions, 0 fixed" in out
    second = json.loads((tmp_path / "second" / "report.json").read_text())
    assert second["comparison"]["regressions"] == ["desk.jsonl::target"] and not second["passed"]
    assert second["comparison"]["deltas"]["desk.jsonl"]["answer_correctness"] == -0.5
    regressed = next(c for c in ET.parse(junit2).getroot().iter("testcase") if c.get("name") == "target")
    assert str(regressed.find("failure").get("message")).startswith("REGRESSION: facts missing")  # type: ignore[union-attr]
    assert main([*args, "--allow-regressions", "1"]) == 0  # allowed, the same run passes
    # A case fixed since the baseline is named as fixed.
    baseline = str(tmp_path / "second" / "report.json")
    gold = _gold(tmp_path / "desk.jsonl", PASSING, FAILING, REFUSE)
    assert main(_args(tmp_path, gold, "third", "--baseline", baseline)) == 0
    third = json.loads((tmp_path / "third" / "report.json").read_text())
    assert third["comparison"]["fixed"] == ["desk.jsonl::target"] and third["comparison"]["regressions"] == []


def test_thresholds_breached_exit_1_and_bad_input_exits_2(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(PASSING) + "\n" + '{"id": "x", "question": "q", "answerable": false, "facts": [["y"]]}\n'
    )
    assert main(_args(tmp_path, bad, "out")) == 2
    assert f"{bad}:2: an unanswerable case has no facts" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(PASSING) + "\n{not json\n")
    assert main(_args(tmp_path, broken, "out")) == 2
    assert f"{broken}:2:" in capsys.readouterr().err
    gold = _gold(tmp_path / "desk.jsonl", PASSING)
    assert main(_args(tmp_path, gold, "out", "--baseline", str(tmp_path / "nowhere"))) == 2
    assert "cannot read the baseline report" in capsys.readouterr().err
    strict = tmp_path / "strict.json"
    strict.write_text('{"metrics": {"max_latency_p50_ms": 0.001}}')
    assert main([*_args(tmp_path, gold, "out"), "--thresholds", str(strict)]) == 1
    assert "BREACH latency_p50_ms" in capsys.readouterr().out


def test_the_ci_recipe_runs_a_command_this_cli_accepts() -> None:
    """examples/ci/github-actions-evals.yml stays in step with `despatch eval`'s options."""
    import shlex

    import yaml

    from entry.cli import _parser

    recipe = yaml.safe_load((PROJECT_ROOT / "examples" / "ci" / "github-actions-evals.yml").read_text())
    steps = recipe["jobs"]["evals"]["steps"]
    run = next(s["run"] for s in steps if "despatch eval" in s.get("run", ""))
    command = run[run.index("despatch eval") :].replace("\\\n", " ").split("\n")[0]
    expanded = command.replace("$GOLD", recipe["env"]["GOLD"]).replace("${CORPUS:+--corpus $CORPUS}", "")
    expanded = expanded.replace("$baseline", "--baseline baseline/report.json")
    args = _parser().parse_args(shlex.split(expanded)[1:])
    assert args.out == "eval-report" and args.junit == "eval-report/junit.xml"
    assert args.baseline == "baseline/report.json" and len(args.gold) == 2
    assert "./scripts/setup.sh" in next(s["run"] for s in steps if "Install" in s.get("name", ""))


def test_gold_and_thresholds_mistakes_exit_2_naming_the_line(tmp_path: Path, capsys: Any) -> None:
    mistakes = [
        ({**PASSING, "answerable": "no"}, '"answerable" must be true or false'),
        ({**PASSING, "facts": "12,000"}, '"facts" must be a list of lists of strings'),
        ({**PASSING, "facts": ["12,000", "99,999"]}, '"facts" must be a list of lists of strings'),
        ({**PASSING, "question": 5}, '"question" must be a non-empty string'),
        ({**PASSING, "histroy": ["What?"]}, "unknown field 'histroy'"),
        ({k: v for k, v in PASSING.items() if k != "id"}, 'missing field "id"'),
    ]
    for i, (case, message) in enumerate(mistakes):
        gold = tmp_path / f"m{i}.jsonl"
        gold.write_text(json.dumps(REFUSE) + "\n" + json.dumps(case) + "\n")
        assert main(_args(tmp_path, gold, "out")) == 2, case
        err = capsys.readouterr().err
        assert f"{gold}:2: " in err and message in err, err
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe{bad")
    assert (
        main(_args(tmp_path, binary, "out")) == 2 and "save the gold file as UTF-8" in capsys.readouterr().err
    )
    gold = _gold(tmp_path / "desk.jsonl", PASSING)
    for metrics, message in (
        ('{"answer_corectness": 0.9}', "unknown metric 'answer_corectness'"),
        ('{"max_invalid_citations": "zero"}', "max_invalid_citations must be a number"),
    ):
        bad = tmp_path / "bad-thresholds.json"
        bad.write_text('{"metrics": ' + metrics + "}")
        assert main([*_args(tmp_path, gold, "out"), "--thresholds", str(bad)]) == 2
        assert message in capsys.readouterr().err
    for flag, value in (("--allow-regressions", "-1"), ("--limit", "0"), ("-k", "0")):
        with pytest.raises(SystemExit) as exit_:
            main([*_args(tmp_path, gold, "out"), flag, value])
        assert exit_.value.code == 2


def test_a_gold_file_without_thresholds_is_warned_and_each_store_holds_one_corpus(
    tmp_path: Path, capsys: Any
) -> None:
    gold = _gold(tmp_path / "founding.jsonl", PASSING)  # a newsroom file named like the project's set
    args = ["eval", "--gold", str(gold), "--corpus", str(CORPUS), "--store", str(tmp_path / "stores")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "no thresholds file for founding.jsonl" in err and "founding.thresholds.json" in err
    # The same store folder, another corpus: the founding article is no longer there to answer.
    hansard = PROJECT_ROOT / "data" / "corpora" / "hansard-2010-immigration"
    other = [*args[:4], str(hansard), *args[5:], "--out", str(tmp_path / "o")]
    main(other)
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["sets"][0]["cases"][0]["failures"]  # 12,000 is not in the Hansard transcripts


def test_members_give_the_eval_corpus_speakers_their_party(tmp_path: Path) -> None:
    """``--members`` reaches the eval's own index: parlparse voters and speakers get their party,
    as ``despatch ingest --members`` gives them; a members file that cannot be read is exit 2."""
    from bot.assembly import assemble
    from despatch.settings import load_settings

    sitting = PROJECT_ROOT / "data" / "corpora" / "parlparse-2010-01-06"
    people = PROJECT_ROOT / "data" / "members" / "people.json"
    case = {"id": "vote", "question": "How did Alice Hartley vote in division 41?", "answerable": True}
    gold = _gold(tmp_path / "pp.jsonl", {**case, "facts": [["no"]]})
    args = [a if a != str(CORPUS) else str(sitting) for a in _args(tmp_path, gold, "out")]
    assert main([*args, "--members", str(tmp_path / "missing.json")]) == 2
    assert main([*args, "--members", str(people)]) == 0
    store = assemble(load_settings(store=tmp_path / "store" / "pp")).store
    parties = {c.meta.party for c in store.iter_chunks()}
    assert {"Labour", "Conservative"} <= parties
