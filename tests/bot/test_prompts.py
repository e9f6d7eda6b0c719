"""Prompt templates render strictly with exactly their variables."""

from __future__ import annotations

from typing import Any

import pytest

from bot.prompts import prompts_dir, render
from bot.records import Passage
from despatch.errors import ConfigError

PASSAGE = Passage(
    chunk_id="c",
    doc_id="d",
    text="The target was 12,000.",
    start=0,
    end=22,
    title="Rudd",
    source="s",
    date="2018-04-26",
    speaker="Amber Rudd",
    party="Con",
)

VARIABLES: dict[str, dict[str, Any]] = {
    "answer_system": {"publication": "P", "max_sentences": 3, "n_passages": 2, "refusal": "No."},
    "answer_user": {"passages": [PASSAGE], "question": "What was the target?"},
    "condense": {"history": ["Who is the Home Secretary?"], "question": "When did she start?"},
}


def test_every_template_is_covered() -> None:
    assert {p.stem for p in prompts_dir().glob("*.j2")} == set(VARIABLES)


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_renders_with_exactly_its_variables(name: str) -> None:
    text = render(name, **VARIABLES[name])
    assert text and "{{" not in text
    for key in VARIABLES[name]:
        partial = {k: v for k, v in VARIABLES[name].items() if k != key}
        with pytest.raises(ConfigError, match="needs a variable"):
            render(name, **partial)


def test_user_prompt_numbers_passages_and_names_speakers() -> None:
    text = render("answer_user", passages=[PASSAGE, PASSAGE], question="Q?")
    assert "[1] Rudd (2018-04-26), Amber Rudd (Con) speaking:" in text and "[2]" in text
