"""Fitting and cross-validating the scorers on the training questions (``evals.rows``).

``MODEL_CLASSES`` says how each scorer is fitted: what it reads of one question's candidate
rows and the fit (logistic regression by Newton's method in numpy, or LightGBM trees). Every
class is cross-validated in the same grouped folds (``folds``: one source document, SQuAD or
XQuAD article per group), scored per question by its best sentence (``Outcome``), and its
threshold chosen out of fold (``choose_threshold``); ``figures`` and ``ranking`` are what the
model files record.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from evals.rows import Question

Rows = Callable[[np.ndarray], np.ndarray]  # one question's candidate rows -> what a model reads
L2 = 1.0
FOLDS = 10
TARGET_PRECISION = 0.95
# The sets whose questions are a newsroom's: the answer threshold is set on them.
NEWSROOM_SETS = ("founding", "hansard", "dev", "newsroom", "near-misses")
BOOST_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "seed": 0,
    "verbose": -1,
}
BOOST_ROUNDS = 300


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2, weight: np.ndarray | None = None) -> dict[str, Any]:
    """L2-regularised, weighted logistic regression on standardised features, by Newton's method."""
    weight = np.ones(len(y)) if weight is None else weight
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (weight * (p - y)) + penalty * w
        hess = (z * (weight * p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return {
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "weights": [round(float(v), 6) for v in w[:-1]],
        "bias": round(float(w[-1]), 6),
    }


def _model(params: dict[str, Any], threshold: float) -> Any:
    from bot.answerability import FEATURES, Model

    return Model(
        FEATURES,
        tuple(params["mean"]),
        tuple(params["scale"]),
        tuple(params["weights"]),
        params["bias"],
        threshold,
    )


def fit_boosted(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> Any:
    """LightGBM trees on the raw features (deterministic: fixed seed, row-wise, two threads)."""
    import lightgbm

    data = lightgbm.Dataset(x, label=y, weight=weight, params={"verbose": -1})
    return lightgbm.train(BOOST_PARAMS, data, num_boost_round=BOOST_ROUNDS)


def _same(rows: np.ndarray) -> np.ndarray:
    return rows


@dataclass(frozen=True)
class ModelClass:
    """How a scorer is fitted: what it reads of one question's candidate rows, and the fit."""

    rows: Rows
    make: Callable[[np.ndarray, np.ndarray, np.ndarray], Any]  # (rows read, labels, weights) -> scorer
    model_file: str | None = None  # the trees' file beside the manifest (None: logistic JSON)
    reads_reader: bool = False  # its rows carry the reader's logit as one more column

    def input(self, q: Question) -> np.ndarray:
        """One question's rows as this class is given them (before ``rows`` reads them)."""
        if not self.reads_reader:
            return q.x
        logits = q.reader if q.reader is not None else np.full(len(q.x), np.nan)
        return np.column_stack([q.x, logits])


def _context_rows(rows: np.ndarray) -> np.ndarray:
    from bot.contextual import context_rows

    return context_rows(rows)


def _trees(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Any:
    from bot.boosted import BoostedScorer

    return BoostedScorer(fit_boosted(x, y, w), 0.5)


def _contextual_trees(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Any:
    from bot.contextual import ContextualScorer

    return ContextualScorer(fit_boosted(x, y, w), 0.5)


def _reader_rows(rows: np.ndarray) -> np.ndarray:
    from bot.reader import reader_rows

    return reader_rows(rows)


def _reader_trees(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Any:
    from bot.reader import ReaderTrees

    return ReaderTrees(fit_boosted(x, y, w), 0.5)


# Cross-validation scores with the shipped scorer classes themselves (in memory: no source).
MODEL_CLASSES: dict[str, ModelClass] = {
    "logistic": ModelClass(_same, lambda x, y, w: _model(fit(x, y, weight=w), 0.5)),
    "boosted": ModelClass(_same, _trees, "boosted.lgb.txt"),
    "contextual": ModelClass(_context_rows, _contextual_trees, "contextual.lgb.txt"),
    "reader": ModelClass(_reader_rows, _reader_trees, "reader.lgb.txt", reads_reader=True),
}


def stack(
    questions: list[Question], model: ModelClass | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (as ``model`` reads them; default: as they are), labels, and row weights that give
    every training set the same total weight (SQuAD has 2,805 questions, the newsroom gold sets
    tens: unweighted, Wikipedia would decide)."""
    rows = [q for q in questions if len(q.y)]
    per_set: dict[str, int] = {}
    for q in rows:
        per_set[q.set] = per_set.get(q.set, 0) + len(q.y)
    total = sum(per_set.values())
    share = {name: total / (len(per_set) * n) for name, n in per_set.items()}
    weight = np.concatenate([np.full(len(q.y), share[q.set]) for q in rows])
    if model is None:
        return np.vstack([q.x for q in rows]), np.concatenate([q.y for q in rows]), weight
    return np.vstack([model.rows(model.input(q)) for q in rows]), np.concatenate([q.y for q in rows]), weight


Outcome = tuple[str, bool, float, bool]  # (set, answerable, best probability, best sentence is right)


def outcomes(questions: list[Question], scorer: Any, model: ModelClass | None = None) -> list[Outcome]:
    """Per question: (set, answerable, best probability, the best sentence holds the answer)."""
    from bot.answerability import answer_order

    out = []
    for q in questions:
        if q.gated or not len(q.y):
            out.append((q.set, q.case.answerable, -1.0, False))
            continue
        p = scorer.predict(model.input(q) if model else q.x)
        best = answer_order(p, q.x)[0]
        out.append((q.set, q.case.answerable, float(p[best]), bool(q.y[best])))
    return out


def scores(outcomes: list[Outcome], threshold: float) -> dict[str, dict[str, float]]:
    """Per set: top-sentence correctness, false refusals, refusal recall, balanced accuracy,
    and the precision of the answers given (answered questions whose lead sentence is right)."""
    table: dict[str, dict[str, float]] = {}
    for name in sorted({o[0] for o in outcomes}):
        rows = [o for o in outcomes if o[0] == name]
        ans = [o for o in rows if o[1]]
        un = [o for o in rows if not o[1]]
        answered = [o for o in rows if o[2] >= threshold]
        correct = sum(1 for o in ans if o[2] >= threshold and o[3]) / max(len(ans), 1)
        false_refusal = sum(1 for o in ans if o[2] < threshold) / max(len(ans), 1)
        recall = sum(1 for o in un if o[2] < threshold) / max(len(un), 1) if un else 1.0
        table[name] = {
            "questions": len(rows),
            "top_sentence_correct": round(correct, 4),
            "false_refusal_rate": round(false_refusal, 4),
            "refusal_recall": round(recall, 4),
            "balanced_accuracy": round((correct + recall) / 2, 4),
            "answer_precision": round(sum(1 for o in answered if o[1] and o[3]) / len(answered), 4)
            if answered
            else 1.0,
        }
    return table


def precision_at(outcomes: list[Outcome], threshold: float) -> tuple[float, float]:
    """(precision of the answers given, share of answerable questions answered) at ``threshold``,
    as ``despatch eval`` draws its risk-coverage curve."""
    answered = [o for o in outcomes if o[2] >= threshold]
    right = sum(1 for o in answered if o[1] and o[3])
    answerable = sum(1 for o in outcomes if o[1])
    covered = sum(1 for o in answered if o[1])
    return (right / len(answered) if answered else 1.0), (covered / answerable if answerable else 0.0)


def risk_coverage(outcomes: list[Outcome], steps: int = 50) -> list[dict[str, float]]:
    """Answer precision against coverage as the threshold moves (every ``1/steps``)."""
    curve = []
    for i in range(steps + 1):
        t = round(i / steps, 4)
        precision, coverage = precision_at(outcomes, t)
        curve.append({"threshold": t, "precision": round(precision, 4), "coverage": round(coverage, 4)})
    return curve


def choose_threshold(outcomes: list[Outcome], target: float | None = None) -> float:
    """The lowest threshold whose answers reach ``target`` precision (pooled over ``outcomes``);
    with no target, the one with the best balanced accuracy, macro-averaged over sets."""
    grid = [round(0.01 * i, 2) for i in range(1, 100)]
    if target is not None:
        for t in grid:
            if precision_at(outcomes, t)[0] >= target:
                return t
        return grid[-1]
    return max(
        grid,
        key=lambda t: (round(np.mean([s["balanced_accuracy"] for s in scores(outcomes, t).values()]), 6), -t),
    )


def folds(questions: list[Question], k: int = FOLDS) -> dict[str, int]:
    """Each group's fold: groups by size, largest first, dealt to the lightest fold (deterministic)."""
    size: dict[str, int] = {}
    for q in questions:
        size[q.group] = size.get(q.group, 0) + 1
    load = [0] * k
    out = {}
    for g in sorted(size, key=lambda g: (-size[g], g)):
        f = min(range(k), key=lambda i: (load[i], i))
        out[g] = f
        load[f] += size[g]
    return out


def cross_validate(questions: list[Question], model: ModelClass, k: int = FOLDS) -> list[Outcome]:
    """Out-of-fold outcomes, each fold scored by a model fitted without its groups."""
    fold_of = folds(questions, k)
    oof: list[Outcome] = []
    for f in range(k):
        train = [q for q in questions if fold_of[q.group] != f]
        test = [q for q in questions if fold_of[q.group] == f]
        if not test:
            continue
        x, y, weight = stack(train, model)
        print(f"fit: fold {f + 1}/{k}: {len(y)} rows", file=sys.stderr, flush=True)
        oof += outcomes(test, model.make(x, y, weight), model)
    return oof


def leave_articles_out(questions: list[Question], model: ModelClass) -> dict[str, Any]:
    """A scorer fitted without each SQuAD article in turn (for the per-article SQuAD report)."""
    out = {}
    for g in sorted({q.group for q in questions}):
        if g.startswith("squad:"):
            x, y, weight = stack([q for q in questions if q.group != g], model)
            out[g] = model.make(x, y, weight)
    return out


def figures(outcomes: list[Outcome], threshold: float) -> dict[str, Any]:
    newsroom = [o for o in outcomes if o[0] in NEWSROOM_SETS]
    precision, coverage = precision_at(newsroom, threshold)
    return {
        "threshold": threshold,
        "newsroom": {
            "answer_precision": round(precision, 4),
            "coverage": round(coverage, 4),
            **scores([("newsroom", *o[1:]) for o in newsroom], threshold)["newsroom"],
        },
        "by_set": scores(outcomes, threshold),
        "ranking": ranking(outcomes),
        "risk_coverage_newsroom": risk_coverage(newsroom),
    }


def ranking(outcomes: list[Outcome]) -> dict[str, dict[str, float | None]]:
    """What the scorer ranks, whatever the threshold: per set (and the newsroom sets pooled),
    the share of answerable questions whose best sentence holds the answer (``lead_right``),
    and the AUROC of the best sentence's probability between answerable questions it leads
    right and unanswerable ones (how well it tells an answer it has from none)."""
    named = [*outcomes, *(("newsroom sets", *o[1:]) for o in outcomes if o[0] in NEWSROOM_SETS)]
    out = {}
    for name in sorted({o[0] for o in named}):
        rows = [o for o in named if o[0] == name]
        answerable = [o for o in rows if o[1]]
        right = np.asarray([o[2] for o in answerable if o[3]])
        none = np.asarray([o[2] for o in rows if not o[1]])
        auroc = None
        if len(right) and len(none):
            wins = (right[:, None] > none[None, :]).sum() + 0.5 * (right[:, None] == none[None, :]).sum()
            auroc = round(float(wins / (len(right) * len(none))), 4)
        out[name] = {
            "lead_right": round(len(right) / len(answerable), 4) if answerable else 0.0,
            "auroc": auroc,
        }
    return out
