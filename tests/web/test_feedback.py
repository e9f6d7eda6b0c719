"""The feedback database: one vote per answer per session, rotation, export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from web.feedback import COLUMNS, Feedback

ANSWER = {
    "question": "Who assured Rudd of total support?",
    "answer": "Theresa May did. [1]",
    "refused": False,
    "answerer": "extractive",
    "citations": [{"n": 1, "quote": "total support"}],
}


def test_the_last_vote_on_an_answer_counts(tmp_path: Path) -> None:
    fb = Feedback(tmp_path / "feedback.sqlite3")
    fb.record("s1", 1, ANSWER, "up")
    fb.record("s1", 1, ANSWER, "down")
    fb.record("s1", 1, ANSWER, "down")
    fb.record("s2", 1, ANSWER, "up")  # another session
    fb.record("s1", 3, {**ANSWER, "answer": "Another answer. [1]"}, "up")  # another answer
    rows = list(fb.rows())
    assert len(rows) == 3
    mine = [r for r in rows if r["session"] == "s1" and r["answer"].startswith("1:")]
    assert [r["vote"] for r in mine] == ["down"]
    assert json.loads(mine[0]["citations"]) == ANSWER["citations"]


def test_bad_votes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'up' or 'down'"):
        Feedback(tmp_path / "f.sqlite3").record("s", 1, ANSWER, "sideways")


def test_rotation_archives_the_oldest_tenth(tmp_path: Path) -> None:
    fb = Feedback(tmp_path / "feedback.sqlite3", max_rows=100)
    for i in range(101):
        fb.record(f"s{i}", 1, ANSWER, "up")
    kept = list(fb.rows())
    archive = (tmp_path / "feedback-archive.jsonl").read_text().splitlines()
    assert len(kept) == 90 and len(archive) == 11
    assert {json.loads(line)["session"] for line in archive}.isdisjoint({r["session"] for r in kept})


def test_export_csv_and_jsonl(tmp_path: Path) -> None:
    fb = Feedback(tmp_path / "feedback.sqlite3")
    assert fb.export("csv").strip() == ",".join(COLUMNS)
    fb.record("s1", 1, ANSWER, "up")
    rows = list(csv.DictReader(io.StringIO(fb.export("csv"))))
    assert [r["vote"] for r in rows] == ["up"] and rows[0]["question"] == ANSWER["question"]
    (line,) = fb.export("jsonl").splitlines()
    assert json.loads(line)["text"] == ANSWER["answer"]


def test_despatch_feedback_exports_from_beside_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from entry.cli import main

    store = tmp_path / "store"
    Feedback(store / "feedback.sqlite3").record("s1", 1, ANSWER, "down")
    assert main(["feedback", "--store", str(store), "--format", "jsonl"]) == 0
    assert json.loads(capsys.readouterr().out)["vote"] == "down"
    out = tmp_path / "votes.csv"
    assert main(["feedback", "--store", str(store), "--out", str(out)]) == 0
    assert next(iter(csv.DictReader(out.open())))["vote"] == "down"


def test_a_vote_taken_back_is_forgotten(tmp_path: Path) -> None:
    fb = Feedback(tmp_path / "feedback.sqlite3")
    fb.record("s1", 1, ANSWER, "up")
    fb.retract("s1", 1, ANSWER)
    assert list(fb.rows()) == []


def test_exports_are_typed_and_defuse_formulas(tmp_path: Path) -> None:
    fb = Feedback(tmp_path / "feedback.sqlite3")
    fb.record("s1", 1, {**ANSWER, "question": '=HYPERLINK("http://evil.example","x")'}, "up")
    (row,) = list(csv.DictReader(io.StringIO(fb.export("csv"))))
    assert row["question"].startswith("'=HYPERLINK")
    (line,) = fb.export("jsonl").splitlines()
    data = json.loads(line)
    assert data["refused"] is False and data["citations"] == ANSWER["citations"]
    assert data["question"].startswith("=HYPERLINK")  # JSONL keeps the text as asked
