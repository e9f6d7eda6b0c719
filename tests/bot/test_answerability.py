"""The answerability features and model, on hand-made sentences (no index needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.answerability import FEATURES, MODEL_PATH, Model, Sentence, answer_entities, expansion, features
from bot.questions import analyse
from bot.text import terms
from despatch.errors import ConfigError
from index.nlp import entities


def _sentence(text: str, start: int = 1000, speaker: str | None = None) -> Sentence:
    ents = tuple(
        type(e)(start + e.start, start + e.end, e.label) for e in entities([text])[0]
    )  # document offsets
    t = frozenset(terms(text))
    return Sentence(start, start + len(text), text, t, t, ents, frozenset(), speaker, None, 0, 0.5, 0.5, 0.5)


def test_expansion_of_an_acronym() -> None:
    s = _sentence("Targets were split between 19 Immigration Compliance and Enforcement (ICE) teams.")
    span = expansion(s)
    assert span is not None
    assert s.text[span[0] - s.start : span[1] - s.start] == "Immigration Compliance and Enforcement"
    assert expansion(_sentence("These targets were split between the 19 ICE teams.")) is None


def test_answer_entities_are_new_and_of_the_expected_type() -> None:
    info = analyse("When did Amber Rudd take over from Theresa May?")
    s = _sentence("Ms Rudd, who took over from Theresa May as Home Secretary in July 2016, spoke.")
    found = [s.text[e.start - s.start : e.end - s.start] for e in answer_entities(info, s)]
    assert found == ["July 2016"]
    who = analyse("Who took over from Theresa May in July 2016?")
    names = [s.text[e.start - s.start : e.end - s.start] for e in answer_entities(who, s)]
    assert "Theresa May" not in names  # the question already gives it


def related_and_answer() -> tuple[list[float], list[float]]:
    """Features of a sentence only about "On what date did Amber Rudd resign?", and of its answer."""
    info = analyse("On what date did Amber Rudd resign?")
    q = frozenset(info.content)
    related = features(
        info, _sentence("Jeremy Corbyn has also called on Ms Rudd to resign over Windrush."), q
    )
    answer = features(info, _sentence("Amber Rudd resigned on 29 April 2018 after the Windrush scandal."), q)
    return related, answer


def test_a_related_sentence_lacks_what_an_answer_has() -> None:
    related, answer = related_and_answer()
    hit = FEATURES.index("type_hit")
    assert related[hit] == 0.0 and answer[hit] == 1.0
    assert len(answer) == len(FEATURES)


def test_the_committed_model_matches_the_features_and_names_its_data() -> None:
    model = Model.load()
    raw = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert model.features == FEATURES
    assert 0.0 < model.threshold < 1.0
    assert set(raw["fitted_on"]["sets"]) == {
        "squad",
        "founding",
        "hansard",
        "dev",
        "newsroom",
        "near-misses",
        "xquad",
        "xquad-newsroom",
    }
    assert "heldout" not in json.dumps(raw["fitted_on"]) and "gold/newsroom" not in json.dumps(
        raw["fitted_on"]
    )
    p = model.predict(np.zeros((2, len(FEATURES))))
    assert p.shape == (2,) and np.all((p > 0) & (p < 1))


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    raw = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    raw["features"] = raw["features"][:-1]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match=r"python -m evals\.fit"):
        Model.load(path)
