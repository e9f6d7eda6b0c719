"""Reader recipes compared: the stacked reader scorer cross-validated on each out-of-fold scores
file (``python -m evals.reader --compare A.json B.json --out F.json``), and the reader alone.

Each file is what ``python -m evals.reader --folds`` wrote for one recipe (loss, epochs); the
stacked trees are cross-validated on it with ``evals.fit``'s folds and threshold rule, so two
recipes are compared on the same questions, folds and rule.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["alone_lead_right", "compare"]


def alone_lead_right(questions: Sequence[Any], sets: Sequence[str]) -> tuple[float, int]:
    """The share of answerable questions in ``sets`` whose best reader logit (among the shortlist
    it read) is on a sentence that answers, and how many such questions had logits."""
    right = []
    for q in questions:
        if q.set not in sets or not q.case.answerable or q.gated or q.reader is None:
            continue
        if len(q.y) == 0 or np.all(np.isnan(q.reader)):
            continue
        right.append(bool(q.y[int(np.nanargmax(q.reader))]))
    return (round(float(np.mean(right)), 4) if right else 0.0), len(right)


def compare(questions: Sequence[Any], files: Sequence[Path]) -> dict[str, Any]:
    """The reader scorer's stacked trees cross-validated (``evals.crossval``, the folds and
    threshold rule of ``evals.fit``) on each out-of-fold scores file, and the reader alone."""
    from despatch.files import sha256
    from evals import crossval
    from evals.rows import attach_reader

    out: dict[str, Any] = {}
    for path in files:
        attach_reader(list(questions), path)
        oof = crossval.cross_validate(list(questions), crossval.MODEL_CLASSES["reader"])
        newsroom = [("newsroom", *o[1:]) for o in oof if o[0] in crossval.NEWSROOM_SETS]
        threshold = crossval.choose_threshold(newsroom)
        figures = crossval.figures(oof, threshold)
        strict = crossval.choose_threshold(newsroom, crossval.TARGET_PRECISION)
        precision, coverage = crossval.precision_at(newsroom, strict)
        alone, asked = alone_lead_right(questions, crossval.NEWSROOM_SETS)
        recipe = json.loads(path.read_text(encoding="utf-8")).get(
            "recipe", {"epochs": 1, "loss": "pointwise"}
        )
        out[path.name] = {
            "file": f"{path.name} sha256:{sha256(path)}",
            "recipe": recipe,
            "threshold": threshold,
            "newsroom": figures["newsroom"],
            "ranking": {
                k: figures["ranking"][k] for k in ("newsroom sets", "squad") if k in figures["ranking"]
            },
            "at_target_precision": {"threshold": strict, "answer_precision": precision, "coverage": coverage},
            "reader_alone_lead_right_newsroom": {"share": alone, "questions": asked},
        }
        print(json.dumps({path.name: out[path.name]}, indent=1), flush=True)
    return out
