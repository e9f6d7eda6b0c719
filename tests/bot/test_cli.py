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
        json.dumps({"question": "When did she take over?", "history": ["Who is the Home Secretary?"]}),
        "{not json",
        "What was the deportation target for 2017?",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["ask", "--jsonl", "--store", str(settings.store)]) == 1  # one bad line
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == 4
    assert "Soames" in rows[0]["answer"]
    assert "July 2016" in rows[1]["answer"] and rows[1]["resolved_question"] != rows[1]["question"]
    assert rows[2]["line"] == 3 and "bad JSON" in rows[2]["error"]
    assert rows[3]["refused"] is True and rows[3]["related"]


def test_ask_without_store_explains(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Anything?", "--store", str(tmp_path / "none")]) == 2
    assert "despatch ingest" in capsys.readouterr().err
