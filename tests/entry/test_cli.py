"""`despatch ask` on the command line: text, --json and --jsonl."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from entry.cli import main


def test_ask_prints_answer_and_sources(founding_store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    settings, _ = founding_store
    assert main(["ask", "Who assured Rudd of total support?", "--store", str(settings.store)]) == 0
    out = capsys.readouterr().out
    assert "Soames" in out and "Sources:" in out and "[1] Rudd removal targets (2018-04-26)" in out


def test_ask_json(founding_store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    settings, _ = founding_store
    assert main(["ask", "What was the 2015/16 target?", "--json", "--store", str(settings.store)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "12,000" in data["answer"] and data["citations"][0]["quote"]


def test_ask_jsonl_loads_once_and_answers_each_line(
    founding_store: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = founding_store
    lines = [
        "Who assured Rudd of total support?",
        json.dumps(
            {
                "question": "And for 2015/16?",
                "history": ["What voluntary departures target was set for 2014/15?"],
            }
        ),
        "{not json",
        "What was the deportation target for 2017?",
        json.dumps({"question": "And for 2015/16?", "history": "not a list"}),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["ask", "--jsonl", "--store", str(settings.store)]) == 1  # two bad lines
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == 5
    assert rows[4]["line"] == 5 and '"history" must be a list' in rows[4]["error"]
    assert "Soames" in rows[0]["answer"]
    assert "12,000" in rows[1]["answer"] and rows[1]["resolved_question"] != rows[1]["question"]
    assert rows[2]["line"] == 3 and "bad JSON" in rows[2]["error"]
    assert rows[3]["refused"] is True and rows[3]["related"]


def test_ask_without_store_explains(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Anything?", "--store", str(tmp_path / "none")]) == 2
    assert "despatch ingest" in capsys.readouterr().err


@pytest.mark.parametrize("day", ["abc", "2010-W01-3", "20100106", "2010-1-6", "2010-02-30"])
def test_ask_refuses_a_date_that_is_not_a_real_day(
    day: str, founding_store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad --date-from is a usage error (exit 2) saying the form, never a traceback or a
    filter that silently matches nothing."""
    settings, _ = founding_store
    with pytest.raises(SystemExit) as stop:
        main(["ask", "What was the 2015/16 target?", "--date-from", day, "--store", str(settings.store)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --date-from: {day!r} is not a real day; write it as YYYY-MM-DD" in err


def test_ask_refuses_a_backwards_range(founding_store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    settings, _ = founding_store
    args = ["ask", "What was the 2015/16 target?", "--store", str(settings.store)]
    assert main([*args, "--date-from", "2018-05-01", "--date-to", "2018-04-01"]) == 2
    assert "--date-from 2018-05-01 is after --date-to 2018-04-01; swap them" in capsys.readouterr().err
    assert main([*args, "--json", "--date-from", "2018-04-26", "--date-to", "2018-04-26"]) == 0
    assert "12,000" in json.loads(capsys.readouterr().out)["answer"]
    # A blank name is no filter (as in the chat and the API), not one that matches nothing.
    assert main([*args, "--json", "--speaker", "  ", "--party", ""]) == 0
    captured = capsys.readouterr()
    assert "12,000" in json.loads(captured.out)["answer"] and "no sources match" not in captured.err


def test_ask_says_when_the_filters_match_nothing(
    founding_store: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = founding_store
    args = ["ask", "What was the 2015/16 target?", "--store", str(settings.store)]
    assert main([*args, "--date-from", "2030-01-01"]) == 0
    captured = capsys.readouterr()
    assert "doesn't answer" in captured.out and "no sources match these filters" in captured.err
    assert main(args) == 0
    assert "no sources match" not in capsys.readouterr().err
    # --jsonl: every line is answered (a refusal), and the hint is said once
    monkeypatch.setattr("sys.stdin", io.StringIO("What was the 2015/16 target?\nWho is Amber Rudd?\n"))
    assert main(["ask", "--jsonl", "--store", str(settings.store), "--date-from", "2030-01-01"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2 and captured.err.count("no sources match these filters") == 1


def test_ask_refuses_a_question_over_the_limit(
    founding_store: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI meets the same question limit as the web layer (500 characters by default)."""
    settings, _ = founding_store
    long = " ".join(["What was the 2015/16 target?"] * 40)  # 1,159 characters
    assert main(["ask", long, "--store", str(settings.store)]) == 2
    err = capsys.readouterr().err
    assert "1159 characters long; the limit is 500" in err and "DESPATCH_MAX_QUESTION_CHARS" in err
    # --jsonl: the long line is a failed line with its reason; the next line is still answered.
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{long}\nWhat was the 2015/16 target?\n"))
    assert main(["ask", "--jsonl", "--store", str(settings.store)]) == 1
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["line"] == 1 and "the limit is 500" in first["error"]
    assert second["refused"] is False and "12,000" in second["answer"]
