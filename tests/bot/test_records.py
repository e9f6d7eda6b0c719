"""The bot's typed records: questions, answers and their meta, as API clients see them."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter

from bot.records import Answer, AnswerMeta, Citation, Passage, Question


def test_a_question_with_context_searches_with_it() -> None:
    assert Question("What was it raised to?").search_text == "What was it raised to?"
    leaning = Question("What was it raised to?", context="What was the cap?")
    assert leaning.search_text == "What was it raised to? (following: What was the cap?)"


def test_meta_is_typed_but_reads_and_serialises_as_the_dict_it_was() -> None:
    """Unset fields are absent: from ``in``, ``get``, indexing and the JSON."""
    meta = AnswerMeta(reason="no sentence passed the citation check", confidence=0.25)
    assert "fallback" not in meta and meta.get("fallback") is None and meta["confidence"] == 0.25
    with pytest.raises(KeyError):
        meta["llm_raw"]
    assert meta.to_json() == {"reason": "no sentence passed the citation check", "confidence": 0.25}
    assert meta.updated(index="t1").to_json()["index"] == "t1" and "index" not in meta


def test_an_answers_json_round_trips_through_the_record() -> None:
    meta = AnswerMeta(answer_type="date", retrieved=["c1", "c2"], filters={"party": "Labour"}, confidence=0.9)
    answer = Answer(
        question="q", resolved_question="q", answer="a [1]", refused=False, answerer="x", meta=meta
    )
    data = json.loads(json.dumps(answer.to_json()))
    assert data["meta"] == {
        "confidence": 0.9,
        "answer_type": "date",
        "retrieved": ["c1", "c2"],
        "filters": {"party": "Labour"},
    }
    assert Answer(**data).meta == meta  # a client's JSON read back is the same record


def test_an_unknown_meta_key_is_refused() -> None:
    with pytest.raises(TypeError):
        Answer(
            question="q",
            resolved_question="q",
            answer="a",
            refused=False,
            answerer="x",
            meta={"colour": 1},  # type: ignore[arg-type]
        )


def test_a_citations_json_and_its_openapi_schema_have_the_same_keys() -> None:
    """The API serves ``Citation.to_json`` (no party) and documents the record through pydantic:
    the schema must describe what is served, so ``party`` is in neither."""
    text = "Mr Soames said he gave the Home Secretary his total support."
    passage = Passage(
        chunk_id="c1",
        doc_id="d1",
        text=text,
        start=10,
        end=10 + len(text),
        title="Rudd",
        source="Hansard",
        speaker="Nicholas Soames",
        party="Con",
    )
    served = Citation.of(1, passage, 10, 20, 0.5).to_json()
    schema = TypeAdapter(Answer).json_schema(mode="serialization")["$defs"]["Citation"]
    assert "party" not in served and set(schema["properties"]) == set(served)
    assert set(schema["required"]) <= set(served)
    assert served["speaker"] == "Nicholas Soames" and served["quote"] == text[:10]
