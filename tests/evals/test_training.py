"""The scorer's training data: mechanical checks, generated near-misses, XQuAD cases, and the
committed files matching their manifest."""

from __future__ import annotations

import hashlib
import json

from evals.gold import GoldCase, load_gold
from evals.training import (
    HELD_OUT,
    SET_ASIDE,
    TRAIN,
    answered_somewhere,
    check_case,
    near_duplicates,
    near_misses,
    xquad_cases,
)

TEXTS = {
    "a.txt": "The Home Office set a target of 12,800 voluntary departures for 2015/16. It employs 40 staff."
}


def _terms(text: str) -> set[str]:
    from bot.text import numbers, terms

    return {*terms(text), *numbers(text)}


def test_evidence_must_be_verbatim_and_hold_the_facts() -> None:
    ok = GoldCase("1", "What was the target?", True, [["12,800"]], ["a target of 12,800"], source="a.txt")
    assert check_case(ok, TEXTS) is None
    retyped = GoldCase("2", "What was the target?", True, [["12,800"]], ["a target of 12800"], source="a.txt")
    assert check_case(retyped, TEXTS) == "evidence not verbatim"
    elsewhere = GoldCase("3", "How many staff?", True, [["41"]], ["It employs 40 staff."], source="a.txt")
    assert check_case(elsewhere, TEXTS) == "fact not in evidence"
    assert check_case(GoldCase("4", "Q?", False, source="b.txt"), TEXTS) == "unknown source"


def test_an_unanswerable_whose_key_terms_share_a_sentence_is_caught() -> None:
    sentences = [_terms(s) for s in TEXTS["a.txt"].split(". ")]
    assert answered_somewhere("How many staff does it employ?", sentences)
    assert not answered_somewhere("What was the Home Office's budget for 2015/16?", sentences)


def test_near_misses_swap_a_year_for_one_the_sources_do_not_pair_with_the_question() -> None:
    texts = {"a.txt": TEXTS["a.txt"] + " In 2013 the office moved. Nothing happened in 2011."}
    sentences = [_terms(s) for s in texts["a.txt"].split(". ")]
    case = GoldCase("c1", "What target did the Home Office set for 2015?", True, [["12,800"]], ["12,800"])
    made = near_misses([case], texts, sentences)
    assert len(made) == 1 and not made[0].answerable
    assert made[0].question != case.question and "2015" not in made[0].question
    assert made[0].tags[:2] == ["unanswerable", "near-miss"]


def test_near_duplicates_of_held_out_questions_are_found() -> None:
    held = [GoldCase("h", "When did the Caribbean migrants come to Britain?", False)]
    cases = [
        GoldCase("t1", "When did the Caribbean migrants come to Britain", False),
        GoldCase("t2", "Who chaired the Home Affairs Committee?", False),
    ]
    assert near_duplicates(cases, held) == {"t1"}


def test_xquad_cases_pair_each_question_with_the_rest_of_its_article() -> None:
    cases = xquad_cases()
    answerable = [c for c in cases if c.answerable]
    others = [c for c in cases if not c.answerable]
    assert len(answerable) == 838
    assert others and all("xquad-other" in c.tags and c.paragraph for c in others)
    assert {c.question for c in others} <= {c.question for c in answerable}


def test_committed_training_files_match_the_manifest_and_share_no_held_out_question() -> None:
    manifest = json.loads((TRAIN / "MANIFEST.json").read_text(encoding="utf-8"))
    held = {
        " ".join(str(q).lower().split())
        for p in HELD_OUT
        for c in load_gold(p)
        for q in [c.question, *c.history]
    }
    # The annotators' raw files (evals/train/annotated/) hold a few held-out questions word for
    # word; building the training files drops them, and the near-misses generated from the rest.
    held_cases = [c for p in [*HELD_OUT, SET_ASIDE] for c in load_gold(p)]
    total = unanswerable = 0
    for name, digest in manifest["sha256"].items():
        path = TRAIN / f"{name}.jsonl"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
        cases = load_gold(path)
        assert len(cases) == manifest["files"][name]["cases"]
        assert not held & {" ".join(str(q).lower().split()) for c in cases for q in [c.question, *c.history]}
        assert not near_duplicates(cases, held_cases), name  # word sets, Jaccard >= 0.8
        if name in ("newsroom", "xquad-newsroom", "near-misses"):
            total += len(cases)
            unanswerable += sum(not c.answerable for c in cases)
    assert total >= 1500 and unanswerable / total >= 0.4
