"""The composition root: every part from Settings, implementations chosen by name."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot import assembly
from bot.answering import ExtractiveAnswerer
from bot.records import Answer, Passage, Question
from bot.scorer import Candidates
from despatch.errors import ConfigError
from tests.conftest import make_settings

QUESTION = "What target did the Home Office set for voluntary departures in 2015/16?"


@dataclass(frozen=True)
class Never:
    """A scorer that rates every sentence 0: a new scorer is this class and one SCORERS entry."""

    name: str = "never"
    threshold: float = 0.5
    source: Path | None = None

    def score(self, candidates: Candidates) -> np.ndarray:
        rows = candidates.rows
        return np.zeros(len(rows))


class Shouting:
    """An answerer that words the extractive answer in capitals: one class, one ANSWERERS entry."""

    name = "shouting"

    def condense(self, question: str, history: Sequence[Any]) -> str | None:
        return None

    def stream(
        self, asked: Question, passages: Sequence[Passage], history: Sequence[Any], extractive: Answer
    ) -> Iterator[str | Answer]:
        yield replace(extractive, answer=extractive.answer.upper(), answerer=self.name)


def test_the_bot_gets_every_part_from_the_root(founding_store: Any, embedder: Any) -> None:
    settings, store = founding_store
    parts = assembly.assemble(settings, store=store, embedder=embedder)
    bot = parts.bot()
    assert bot.retriever is parts.retriever and bot.divisions is parts.divisions
    assert bot.answerer is bot.extractive and bot.scorer is parts.scorer
    assert bot.scorer.name == settings.scorer == "reader"


def test_a_new_scorer_is_one_entry(
    founding_store: Any, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, store = founding_store
    monkeypatch.setitem(assembly.SCORERS, "never", lambda path: Never())
    bot = assembly.assemble(
        make_settings(settings.store, scorer="never"), store=store, embedder=embedder
    ).bot()
    answer = bot.ask(QUESTION)
    assert bot.scorer.name == "never" and answer.refused and answer.meta["confidence"] == 0.0


def test_a_new_answerer_is_one_entry(
    founding_store: Any, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, store = founding_store

    def shouting(s: Any, extractive: ExtractiveAnswerer, idf: Any, embedder: Any) -> Shouting:
        return Shouting()

    monkeypatch.setitem(assembly.ANSWERERS, "shouting", shouting)
    bot = assembly.assemble(
        make_settings(settings.store, answerer="shouting"), store=store, embedder=embedder
    ).bot()
    answer = bot.ask(QUESTION)
    assert answer.answerer == "shouting" and "12,000" in answer.answer
    assert answer.answer == answer.answer.upper() and answer.citations  # the extractive answer, worded


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [("scorer", "forest", "DESPATCH_SCORER"), ("answerer", "oracle", "DESPATCH_ANSWERER")],
)
def test_an_unknown_name_says_which_setting_and_the_choices(
    founding_store: Any, embedder: Any, setting: str, value: str, named: str
) -> None:
    settings, store = founding_store
    parts = assembly.assemble(
        make_settings(settings.store, **{setting: value}), store=store, embedder=embedder
    )
    with pytest.raises(ConfigError, match=f"{named}='{value}'.*choose one of"):
        parts.bot()


def test_an_onnx_backend_on_cuda_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="DESPATCH_EMBED_BACKEND=torch"):
        assembly.EMBEDDERS["onnx"](make_settings(Path("/nonexistent"), device="cuda"))


def test_the_onnx_embedder_takes_its_threads_and_batch_from_settings() -> None:
    """Fitting and single-thread profiles ask for one thread through Settings, not by building
    their own embedder (the ONNX session itself starts on the first embed)."""
    settings = make_settings(Path("/nonexistent"), embed_backend="onnx", embed_threads=1, batch_size=8)
    embedder = assembly.assemble(settings).embedder
    assert (embedder.threads, embedder.batch_size, embedder.quantized) == (1, 8, False)  # type: ignore[attr-defined]
    assert assembly.assemble(make_settings(Path("/nonexistent"))).embedder.threads == 0  # type: ignore[attr-defined]
