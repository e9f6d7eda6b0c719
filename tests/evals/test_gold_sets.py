"""The gold sets are what the brief asks for, and their evidence is real source text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from despatch.errors import InputError
from evals.gold import load_gold
from evals.scoring import FACTOID_TAGS
from evals.squad import convert
from index.json_records import SAFE_ID
from index.reading import read_file
from tests.conftest import FOUNDING, HANSARD, SQUAD

GOLD = Path(__file__).resolve().parents[2] / "evals" / "gold"


def test_founding_gold_set_shape() -> None:
    cases = load_gold(GOLD / "founding.jsonl")
    assert len(cases) >= 35
    assert sum(1 for c in cases if not c.answerable) >= 10
    assert sum(1 for c in cases if "multi" in c.tags) >= 6
    assert sum(1 for c in cases if c.history) >= 5
    assert {"injection", "false-premise"} <= {t for c in cases for t in c.tags}
    text = read_file(FOUNDING, 10**8)[0].text
    for c in cases:
        for ev in c.evidence:
            assert ev in text, (c.id, ev)


def test_hansard_gold_set_shape() -> None:
    cases = load_gold(GOLD / "hansard.jsonl")
    assert len(cases) >= 25
    assert sum(1 for c in cases if {"who", "say"} & set(c.tags)) >= 10
    texts = " ".join(read_file(p, 10**8)[0].text for p in HANSARD.glob("*.txt"))
    for c in cases:
        for ev in c.evidence:
            assert ev in texts, (c.id, ev)


@pytest.mark.parametrize("name", ["dev", "heldout", "newsroom"])
def test_fresh_gold_sets_shape(name: str) -> None:
    """Written from the sources by a helper that never saw the code; heldout is never tuned on."""
    cases = load_gold(GOLD / f"{name}.jsonl")
    assert len(cases) >= 40
    assert sum(1 for c in cases if not c.answerable) >= 15
    assert sum(1 for c in cases if c.history) >= 5
    assert sum(1 for c in cases if FACTOID_TAGS & set(c.tags)) >= 20
    texts = read_file(FOUNDING, 10**8)[0].text + " ".join(
        read_file(p, 10**8)[0].text for p in HANSARD.glob("*.txt")
    )
    for c in cases:
        for ev in c.evidence:
            assert ev in texts, (c.id, ev)


def test_heldout_questions_are_not_in_the_training_sets() -> None:
    # A question counts wherever it is asked: as the case, or in a case's history.
    def asked(path: Path) -> set[str]:
        return {" ".join(str(q).lower().split()) for c in load_gold(path) for q in [c.question, *c.history]}

    train = GOLD.parent / "train"
    for held_out in ("heldout", "newsroom"):
        held = asked(GOLD / f"{held_out}.jsonl")
        for path in [*(GOLD / f"{n}.jsonl" for n in ("founding", "hansard", "dev")), *train.glob("*.jsonl")]:
            assert not held & asked(path), (held_out, path.name, sorted(held & asked(path)))


def test_the_newsroom_held_out_set_has_near_content_unanswerables_of_every_kind() -> None:
    cases = load_gold(GOLD / "newsroom.jsonl")
    assert len(cases) >= 60
    kinds = {"year-figure", "attribute", "unsaid", "followup", "near-topic"}
    unanswerable = [c for c in cases if not c.answerable]
    assert len(unanswerable) >= 20
    assert all(len(kinds & set(c.tags)) == 1 for c in unanswerable)
    assert {k for c in unanswerable for k in c.tags} >= kinds


def test_parlparse_gold_set_shape() -> None:
    """Divisions (counts, members' votes, yes/no, absent members) and speakers' words, on the
    invented parlparse sitting; evidence is text of its debates and division records."""
    cases = load_gold(GOLD / "parlparse.jsonl")
    assert len(cases) >= 15
    assert sum(1 for c in cases if "vote" in c.tags) >= 8
    assert sum(1 for c in cases if not c.answerable) >= 3
    sitting = Path(__file__).resolve().parents[2] / "data" / "corpora" / "parlparse-2010-01-06"
    texts = " ".join(d.text for p in sitting.glob("*.xml") for d in read_file(p, 10**8))
    for c in cases:
        for ev in c.evidence:
            assert ev in texts, (c.id, ev)


def test_bad_gold_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text(
        '{"id": "a", "question": "q", "answerable": true, "facts": [["x"]]}\n'
        '{"id": "b", "question": "q", "answerable": false, "facts": [["x"]]}\n'
    )
    with pytest.raises(InputError, match=r"g\.jsonl:2: an unanswerable case has no facts"):
        load_gold(path)


def test_squad_conversion(tmp_path: Path) -> None:
    corpus, gold = convert(SQUAD, tmp_path)
    cases = load_gold(gold)
    records = [json.loads(line) for line in corpus.read_text().splitlines()]
    assert len(records) == 294 and len(cases) == 2805
    assert sum(1 for c in cases if not c.answerable) == 1527
    ids = {r["id"]: r["text"] for r in records}
    assert len(ids) == 294 and all(SAFE_ID.fullmatch(i) for i in ids)  # ids ingest accepts
    first = next(c for c in cases if c.answerable)
    assert first.paragraph in ids and first.facts[0][0] in ids[first.paragraph]
