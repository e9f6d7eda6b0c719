"""evals/gold.py: reading gold JSONL (every field, defaults, blank lines, script fields), rejecting
each kind of bad line as an InputError naming ``file:line``, and writing cases back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from despatch.errors import DespatchError, InputError
from evals.gold import FIELDS, GoldCase, load_gold, write_gold

GOOD = {"id": "target", "question": "What was the 2015/16 target?", "answerable": True, "facts": [["12,000"]]}
REFUSE = {"id": "election", "question": "Who won the 2017 election?", "answerable": False}


def _write(path: Path, *rows: dict[str, Any] | str) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_every_field_is_read_and_optional_ones_default_to_empty(tmp_path: Path) -> None:
    full = {
        "id": "multi",
        "question": "What was the target, and how many teams split it?",
        "answerable": True,
        "facts": [["12,000", "12000"], ["19"]],
        "evidence": ["the annual target was raised to 12,000", "the 19 ICE teams"],
        "history": ["What targets did the Home Office set?"],
        "tags": ["number", "multi"],
        "paragraph": "squad:Rudd:0",
        "source": "2018-04-26-rudd-removal-targets.txt",
    }
    cases = load_gold(_write(tmp_path / "g.jsonl", full, REFUSE))
    assert cases == [
        GoldCase(
            id="multi",
            question="What was the target, and how many teams split it?",
            answerable=True,
            facts=[["12,000", "12000"], ["19"]],
            evidence=["the annual target was raised to 12,000", "the 19 ICE teams"],
            history=["What targets did the Home Office set?"],
            tags=["number", "multi"],
            paragraph="squad:Rudd:0",
            source="2018-04-26-rudd-removal-targets.txt",
        ),
        GoldCase(id="election", question="Who won the 2017 election?", answerable=False),
    ]
    refuse = cases[1]
    assert (refuse.facts, refuse.evidence, refuse.history, refuse.tags) == ([], [], [], [])
    assert refuse.paragraph is None and refuse.source is None


def test_blank_lines_are_skipped_and_an_integer_id_becomes_a_string(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.jsonl", "", {**GOOD, "id": 7}, "   ", {**REFUSE, "id": 8}, "")
    cases = load_gold(path)
    assert [c.id for c in cases] == ["7", "8"]
    assert [c.answerable for c in cases] == [True, False]


def test_the_scripted_models_fields_are_accepted_but_not_kept(tmp_path: Path) -> None:
    """``reply`` and ``rewrite`` are read by tests/scripted_llm.py, not by the scorer."""
    scripted = {**GOOD, "reply": "It was {1:12,000}. [1]", "rewrite": "What was the 2015/16 target?"}
    (case,) = load_gold(_write(tmp_path / "g.jsonl", scripted))
    assert case == GoldCase("target", "What was the 2015/16 target?", True, [["12,000"]])
    assert "reply" not in FIELDS and "rewrite" not in FIELDS


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"Expecting property name enclosed in double quotes"),
        ('["id", "question"]', r"a case is a JSON object"),
        ({**GOOD, "histroy": []}, r"unknown field 'histroy' \(the fields are: answerable, evidence, facts,"),
        ({"question": "q", "answerable": True, "facts": [["x"]]}, r'missing field "id"'),
        ({"id": "a", "answerable": False}, r'missing field "question"'),
        ({"id": "a", "question": "q"}, r'missing field "answerable"'),
        ({**GOOD, "id": True}, r'"id" must be a non-empty string'),
        ({**GOOD, "id": "   "}, r'"id" must be a non-empty string'),
        ({**GOOD, "id": ["a"]}, r'"id" must be a non-empty string'),
        ({**GOOD, "question": "  "}, r'"question" must be a non-empty string'),
        ({**GOOD, "answerable": 1}, r'"answerable" must be true or false'),
        ({**GOOD, "facts": [["12,000", 12000]]}, r'"facts" must be a list of lists of strings, e\.g\.'),
        ({**GOOD, "evidence": "the annual target"}, r'"evidence" must be a list of strings'),
        ({**GOOD, "evidence": [["nested"]]}, r'"evidence" must be a list of strings'),
        ({**GOOD, "tags": ["number", 3]}, r'"tags" must be a list of strings'),
        ({**GOOD, "history": "What was it?"}, r'"history" must be a list of earlier questions'),
        ({**REFUSE, "evidence": ["12,000"]}, r"an unanswerable case has no facts or evidence"),
        ({**GOOD, "facts": []}, r"an answerable case needs at least one fact group"),
        ({**GOOD, "facts": [["12,000"], []]}, r"empty fact group"),
    ],
)
def test_a_bad_line_is_an_input_error_naming_its_line(
    tmp_path: Path, line: dict[str, Any] | str, message: str
) -> None:
    path = _write(tmp_path / "desk.jsonl", REFUSE, "", line)  # the bad case is on line 3
    with pytest.raises(InputError, match=message) as raised:
        load_gold(path)
    assert raised.value.path == f"{path}:3"
    assert str(raised.value).startswith(f"{path}:3: ")
    assert raised.value.reason.endswith("; fix this gold line (see evals/README.md)")
    assert isinstance(raised.value, DespatchError)


def test_a_duplicate_id_names_the_second_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.jsonl", GOOD, REFUSE, {**REFUSE, "id": "target"})
    with pytest.raises(InputError, match=r"g\.jsonl:3: duplicate id 'target'; give each case its own id"):
        load_gold(path)
    # An integer id and the same id as a string are the same case.
    clash = _write(tmp_path / "h.jsonl", {**GOOD, "id": 5}, {**REFUSE, "id": "5"})
    with pytest.raises(InputError, match=r"h\.jsonl:2: duplicate id '5'"):
        load_gold(clash)


def test_files_that_cannot_be_read_or_hold_no_case(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.jsonl"
    with pytest.raises(
        InputError, match=r"nowhere\.jsonl: cannot read gold file \(No such file or directory\)"
    ):
        load_gold(missing)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"blank\.jsonl: no gold cases$") as raised:
        load_gold(blank)
    assert raised.value.path == str(blank)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"id": "a", "question": "Caf\xe9?", "answerable": false}\n')
    with pytest.raises(InputError, match=r"latin\.jsonl: not UTF-8 \(byte 28\); save the gold file as UTF-8"):
        load_gold(latin)


def test_write_gold_round_trips_and_leaves_out_empty_fields(tmp_path: Path) -> None:
    cases = [
        GoldCase(
            "café",
            "Who said “total support”?",
            True,
            [["Nicholas Soames", "Soames"]],
            ["the total support of this side of the House"],
            tags=["who"],
            source="rudd.txt",
        ),
        GoldCase("u1", "Who won the 2017 election?", False, history=["Who is the Home Secretary?"]),
    ]
    path = tmp_path / "out.jsonl"
    write_gold(cases, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "id": "café",
            "question": "Who said “total support”?",
            "answerable": True,
            "facts": [["Nicholas Soames", "Soames"]],
            "evidence": ["the total support of this side of the House"],
            "tags": ["who"],
            "source": "rudd.txt",
        },
        {
            "id": "u1",
            "question": "Who won the 2017 election?",
            "answerable": False,
            "history": ["Who is the Home Secretary?"],
        },
    ]
    assert "“total support”" in lines[0] and "café" in lines[0]  # written as UTF-8, not \u escapes
    assert load_gold(path) == cases
