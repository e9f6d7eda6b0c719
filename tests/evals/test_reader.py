"""Training the reader: which pairs it learns from, and a real (tiny) fine-tune and export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.answerability import FEATURES
from evals.gold import GoldCase
from evals.reader import MAX_NEGATIVES, training_pairs
from evals.rows import Question


class Base:
    """A first stage that ranks the rows in the order given."""

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.linspace(1.0, 0.0, len(rows))


def _question(answerable: bool, labels: list[float], group: str = "news:a.txt") -> Question:
    case = GoldCase("c1", "What was the target?", answerable, [["12,000"]] if answerable else [])
    texts = tuple(f"sentence {i}" for i in range(len(labels)))
    q = Question("newsroom", group, case, False, np.zeros((len(labels), len(FEATURES))), np.asarray(labels))
    q.texts = texts
    return q


def test_pairs_hold_every_positive_and_the_best_ranked_negatives() -> None:
    q = _question(True, [0, 0, 0, 0, 0, 0, 0, 1.0])  # the answer ranked last: still learned from
    pairs = training_pairs([q], Base(), k=5)
    assert [(p.sentence, p.label) for p in pairs] == [
        ("sentence 7", 1.0),
        *((f"sentence {i}", 0.0) for i in range(MAX_NEGATIVES)),
    ]
    assert all(p.question == "What was the target?" and p.group == "news:a.txt" for p in pairs)
    assert pairs[0].key == "newsroom:c1:7"


def test_an_unanswerable_question_gives_only_negatives_and_a_gated_one_none() -> None:
    pairs = training_pairs([_question(False, [0, 0, 0, 0])], Base(), k=5)
    assert [p.label for p in pairs] == [0.0] * MAX_NEGATIVES
    gated = _question(True, [1.0])
    gated.gated = True
    assert training_pairs([gated], Base(), k=5) == []


@pytest.mark.slow
def test_a_tiny_fine_tune_exports_an_int8_reader_that_agrees_with_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import bot.reader
    from bot.reader import ReaderModel, export, manifest_path
    from despatch.errors import ConfigError
    from evals.reader import Pair, train

    pairs = [
        Pair("What target was set?", "The target was 12,000 departures.", 1.0, "g", "s:1:0"),
        Pair("What target was set?", "Ms Rudd spoke to MPs.", 0.0, "g", "s:1:1"),
    ] * 8
    reader = train(pairs, tmp_path, epochs=1, label="tiny", loss="pointwise")
    # A finished run keeps its weights until the caller has used them: a rerun resumes at the end
    assert (tmp_path / "tiny-pointwise.ckpt").exists()
    again = train(pairs, tmp_path, epochs=1, label="tiny", loss="pointwise")
    questions, sentences = [p.question for p in pairs[:2]], [p.sentence for p in pairs[:2]]
    np.testing.assert_allclose(again.logits(questions, sentences), reader.logits(questions, sentences))
    out = tmp_path / "reader.onnx"
    out.write_bytes(b"the shipped model")
    with monkeypatch.context() as m:  # no export within a bound of 0: nothing is replaced
        m.setattr(bot.reader, "_AGREEMENT", 0.0)
        with pytest.raises(ConfigError, match="nothing was written"):
            export(reader, out, {"pairs": len(pairs)})
    assert out.read_bytes() == b"the shipped model" and not manifest_path(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reader.onnx", "tiny-pointwise.ckpt"]
    written = export(reader, out, {"pairs": len(pairs)}, [(p.question, p.sentence) for p in pairs[:4]])
    assert written == [out, manifest_path(out)]
    manifest = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    assert manifest["quantisation"] in bot.reader.QUANTISATIONS and manifest["int8_drift_pairs"] == 7
    drifts, bound = manifest["int8_drift_by_quantisation"], manifest["int8_drift_bound"]
    assert list(drifts) == list(bot.reader.QUANTISATIONS)  # every recipe was made and measured
    # the first recipe within the bound is kept (they are listed fastest first)
    assert manifest["quantisation"] == next(name for name, d in drifts.items() if d <= bound)
    assert manifest["int8_drift"] == drifts[manifest["quantisation"]] <= bound
    assert out.stat().st_size < 30_000_000  # the bound for a shipped cross-encoder
    np.testing.assert_allclose(
        ReaderModel(out).logits(questions, sentences), reader.logits(questions, sentences), atol=0.1
    )


def test_listwise_units_hold_each_question_s_pairs_together() -> None:
    from evals.reader import Pair, _units

    pairs = [Pair("q", f"s{i}", 0.0, "g", f"set:{i // 3}:{i}") for i in range(7)]
    assert _units(pairs, "listwise") == [[0, 1, 2], [3, 4, 5], [6]]
    assert _units(pairs, "pointwise") == [[i] for i in range(7)]


def test_the_listwise_loss_is_cross_entropy_against_the_answers_or_no_answer() -> None:
    import torch

    from evals.reader import Pair, _loss

    pairs = [
        Pair("q1", "answer", 1.0, "g", "s:1:0"),
        Pair("q1", "about it", 0.0, "g", "s:1:1"),
        Pair("q2", "about it", 0.0, "g", "s:2:0"),
    ]
    batch = [[0, 1], [2]]
    logits = torch.tensor([2.0, 1.0, -1.0])
    got = _loss(torch, logits, batch, pairs, "listwise", None).item()
    # q1: -log softmax([0, 2, 1])[1]; q2 (no answer among its pairs): -log softmax([0, -1])[0]
    want = (
        -torch.log_softmax(torch.tensor([0.0, 2.0, 1.0]), 0)[1]
        - torch.log_softmax(torch.tensor([0.0, -1.0]), 0)[0]
    ) / 2
    assert got == pytest.approx(want.item(), rel=1e-6)
    # Ranking the topical sentence above the answer costs more.
    assert _loss(torch, torch.tensor([1.0, 2.0, -1.0]), batch, pairs, "listwise", None).item() > got


def test_an_unknown_loss_is_refused_before_any_training(tmp_path: Path) -> None:
    from evals.reader import train

    with pytest.raises(ValueError, match="unknown loss 'hinge': choose one of pointwise, listwise"):
        train([], tmp_path, loss="hinge")


@pytest.mark.slow
def test_a_tiny_listwise_fine_tune_puts_the_answer_above_no_answer_and_the_rest(tmp_path: Path) -> None:
    from evals.reader import Pair, train

    pairs = []
    for n in range(6):
        pairs += [
            Pair("What target was set?", "The target was 12,000 departures.", 1.0, "g", f"s:{n}a:0"),
            Pair("What target was set?", "Ms Rudd spoke to MPs about targets.", 0.0, "g", f"s:{n}a:1"),
            Pair("Who chaired the committee?", "Ms Rudd spoke to MPs about targets.", 0.0, "g", f"s:{n}b:0"),
        ]
    reader = train(pairs, tmp_path, epochs=10, label="tiny", loss="listwise")
    assert (tmp_path / "tiny-listwise.ckpt").exists()  # kept until the caller has exported it
    answer, topical, none = reader.logits(
        ["What target was set?"] * 2 + ["Who chaired the committee?"],
        [pairs[0].sentence, pairs[1].sentence, pairs[2].sentence],
    )
    assert answer > 0 > none
    assert answer > topical


def test_the_reader_alone_is_judged_by_its_best_logit_on_answerable_newsroom_questions() -> None:
    from evals.recipes import alone_lead_right

    right = _question(True, [0, 1.0, 0])
    right.reader = np.array([0.5, 2.0, np.nan])  # the answer has the best logit
    wrong = _question(True, [1.0, 0, 0])
    wrong.reader = np.array([np.nan, 3.0, -1.0])  # the answer was not read; a wrong one leads
    unread = _question(True, [1.0])
    unread.reader = np.array([np.nan])  # no logits: not counted
    refusal = _question(False, [0, 0])
    refusal.reader = np.array([1.0, 0.0])  # unanswerable: not counted
    elsewhere = _question(True, [1.0])
    elsewhere.set, elsewhere.reader = "squad", np.array([1.0])
    assert alone_lead_right([right, wrong, unread, refusal, elsewhere], ("newsroom",)) == (0.5, 2)


@pytest.mark.slow
def test_compare_cross_validates_the_stacked_scorer_on_each_scores_file(tmp_path: Path) -> None:
    import json

    from evals.recipes import compare

    rng = np.random.default_rng(0)
    questions = []
    for i in range(60):
        q = _question(i % 3 != 0, [1.0, 0, 0] if i % 3 else [0, 0, 0], group=f"news:{i % 12}.txt")
        q.case = type(q.case)(f"c{i}", "What was the target?", q.case.answerable, q.case.facts)
        q.x = rng.normal(size=(3, len(FEATURES)))
        questions.append(q)
    files = []
    for name, recipe in (("a.json", None), ("b.json", {"epochs": 2, "loss": "listwise"})):
        logits = {f"newsroom:{q.case.id}:{j}": float(2.0 * q.y[j] - 1.0) for q in questions for j in range(3)}
        body = {"logits": logits, **({"recipe": recipe} if recipe else {})}
        (tmp_path / name).write_text(json.dumps(body), encoding="utf-8")
        files.append(tmp_path / name)
    got = compare(questions, files)
    assert list(got) == ["a.json", "b.json"]
    assert got["a.json"]["recipe"] == {
        "epochs": 1,
        "loss": "pointwise",
    }  # files from before recipes were kept
    assert got["b.json"]["recipe"] == {"epochs": 2, "loss": "listwise"}
    # The logits put every answer first: the reader alone leads right on all 40 answerable questions.
    assert got["b.json"]["reader_alone_lead_right_newsroom"] == {"share": 1.0, "questions": 40}
    assert got["a.json"]["newsroom"]["questions"] == 60 and got["a.json"]["file"].startswith("a.json sha256:")
