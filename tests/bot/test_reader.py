"""The reader: its columns, the shortlist it reads, and the stacked scorer around it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.answerability import FEATURES
from bot.contextual import CONTEXT_FEATURES
from bot.reader import (
    READER_FEATURES,
    ReaderModel,
    ReaderScorer,
    ReaderTrees,
    reader_columns,
    reader_rows,
    shortlist,
)
from bot.scorer import Candidates
from despatch.errors import ConfigError


def test_reader_columns_give_the_gap_to_the_best_and_the_place_among_those_read() -> None:
    cols = reader_columns(np.array([1.0, np.nan, 3.0, -2.0]))
    assert np.isnan(cols[1]).all()  # not read: no logit, gap or place
    np.testing.assert_allclose(cols[[0, 2, 3], 0], [1.0, 3.0, -2.0])
    np.testing.assert_allclose(cols[[0, 2, 3], 1], [-2.0, 0.0, -5.0])
    np.testing.assert_allclose(cols[[0, 2, 3], 2], [1.0, 0.0, 2.0])
    assert reader_columns(np.full(2, np.nan)).shape == (2, 3)
    assert reader_columns(np.zeros(0)).shape == (0, 3)


def test_reader_rows_are_the_contextual_rows_and_the_reader_columns() -> None:
    rows = np.random.default_rng(1).random((4, len(FEATURES) + 1))
    out = reader_rows(rows)
    assert out.shape == (4, len(FEATURES) + len(CONTEXT_FEATURES) + len(READER_FEATURES))
    np.testing.assert_allclose(out[:, : len(FEATURES)], rows[:, :-1])
    assert reader_rows(np.zeros((0, len(FEATURES) + 1))).shape[0] == 0


def test_the_shortlist_keeps_sentences_holding_the_questions_numbers_first() -> None:
    rows = np.zeros((4, len(FEATURES)))
    rows[3, FEATURES.index("numbers")] = 1.0
    assert shortlist(np.array([0.9, 0.8, 0.1, 0.2]), rows, 2) == [3, 0]
    assert shortlist(np.array([0.9, 0.8, 0.1, 0.2]), rows, 10) == [3, 0, 1, 2]


class Base:
    """A first stage that prefers later rows."""

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.linspace(0.1, 0.9, len(rows))


class Reading:
    """A reader (``ReaderModel``'s interface) that scores a sentence by its length and records
    what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def logits(self, questions: Sequence[str], sentences: Sequence[str]) -> np.ndarray:
        self.asked += list(zip(questions, sentences, strict=True))
        return np.array([float(len(s)) for s in sentences])


class Trees(ReaderTrees):
    """Stacked trees that return the reader column they are given (NaN as -1)."""

    def __init__(self) -> None:
        super().__init__(None, 0.5)
        self.seen: np.ndarray | None = None

    def predict(self, rows: np.ndarray) -> np.ndarray:
        self.seen = rows
        return np.nan_to_num(rows[:, -1], nan=-1.0)


def test_the_reader_reads_only_the_shortlist_with_the_question_as_read() -> None:
    reading, trees = Reading(), Trees()
    scorer = ReaderScorer(Base(), reading, trees, shortlist=2)  # type: ignore[arg-type]
    texts = ("a", "bb", "ccc", "dddd")
    p = scorer.score(Candidates("Who?", texts, np.zeros((4, len(FEATURES)))))
    assert reading.asked == [("Who?", "dddd"), ("Who?", "ccc")]  # the base's two best
    np.testing.assert_allclose(p, [-1.0, -1.0, 3.0, 4.0])
    assert trees.seen is not None and trees.seen.shape == (4, len(FEATURES) + 1)
    assert scorer.score(Candidates("Who?", (), np.zeros((0, len(FEATURES))))).shape == (0,)
    assert scorer.threshold == 0.5


def test_a_missing_or_altered_reader_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"python -m evals\.reader"):
        ReaderModel(tmp_path / "reader.onnx")
    model = tmp_path / "reader.onnx"
    model.write_bytes(b"not a model")
    (tmp_path / "reader-model.json").write_text(
        '{"files": {"reader.onnx": "0000"}, "max_tokens": 128}', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="not the file"):
        ReaderModel(model)


def test_the_shipped_reader_scorer_loads_and_its_trees_name_the_reader_they_read(tmp_path: Path) -> None:
    import shutil

    from bot.reader import MANIFEST, MODEL
    from despatch.files import sha256

    scorer = ReaderScorer.load()
    assert scorer.name == "reader" and scorer.source == MANIFEST and 0.0 < scorer.threshold < 1.0
    for f in MODEL.parent.glob("reader*"):
        shutil.copy(f, tmp_path / f.name)
    ReaderScorer.load(tmp_path / "reader.json")  # the copies load together
    altered = tmp_path / MODEL.name
    altered.write_bytes(altered.read_bytes() + b"\0")  # another reader beside the same trees
    with pytest.raises(ConfigError, match=r"sha256 differs.*python -m evals\.fit"):
        ReaderScorer.load(tmp_path / "reader.json")
    # The trees' manifest checked the model once; the model's own manifest must still agree.
    shutil.copy(MODEL, altered)
    own = tmp_path / "reader-model.json"
    own.write_text(own.read_text(encoding="utf-8").replace(sha256(MODEL), "0" * 64), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not the file reader-model\.json records"):
        ReaderScorer.load(tmp_path / "reader.json")


def test_the_shipped_reader_reads_a_real_question_and_scores_every_candidate() -> None:
    from bot.answerability import FEATURES

    scorer = ReaderScorer.load()
    texts = (
        "For 2015/16, the annual target was raised to 12,800 voluntary departures.",
        "Ms Rudd told MPs she had not been aware of the targets.",
    )
    rows = np.zeros((2, len(FEATURES)))
    logits = scorer.logits(Candidates("What was the voluntary departures target for 2015/16?", texts, rows))
    assert np.isfinite(logits).all()
    # The sentence about the question's subject reads as the likelier answer.
    assert logits[0] > logits[1]
    p = scorer.score(Candidates("What was the voluntary departures target for 2015/16?", texts, rows))
    assert p.shape == (2,) and np.all((p >= 0) & (p <= 1))
