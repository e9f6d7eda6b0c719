"""Fit the answerability model (``bot/answerability.json``) and cross-validate it.

    python -m evals.fit                    # extract, cross-validate, fit, write the model
    python -m evals.fit --check            # refit and fail if the committed model differs
    python -m evals.fit --squad-report DIR # also run the real answerer on every SQuAD article
                                           # with weights fitted without that article

Training data, named in the model file with their sha256: SQuAD 2.0 dev part A (every
question, open retrieval over all its paragraphs) and the gold sets ``founding``, ``hansard``
and ``dev``. The held-out set (``evals/gold/heldout.jsonl``) is never read here.

Every candidate sentence the answerer would consider becomes a row; its label says whether the
sentence (with its speaker attribution) holds a gold answer. A logistic regression (L2, fitted
by Newton's method in numpy: deterministic) gives P(answers); the refusal threshold is the one
that maximises balanced accuracy (correct top sentence on answerable questions, refusal on
unanswerable ones), macro-averaged over the sets, on out-of-fold predictions. Folds are groups:
each SQuAD article, and each gold set, is left out in turn.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from despatch.settings import PROJECT_ROOT, Settings, load_settings
from evals.gold import GoldCase, load_gold, write_gold
from evals.scoring import normalise

L2 = 1.0
SQUAD_JSON = PROJECT_ROOT / "data" / "corpora" / "squad-v2-dev" / "squad-v2-dev-part-a.json"
GOLD = PROJECT_ROOT / "evals" / "gold"
CORPUS = PROJECT_ROOT / "data" / "corpus"
HANSARD = PROJECT_ROOT / "data" / "corpora" / "hansard-2010-immigration"
GOLD_SETS: dict[str, list[Path]] = {
    "founding": [CORPUS],
    "hansard": [HANSARD],
    "dev": [CORPUS, HANSARD],
}


@dataclass
class Question:
    """One training question: its candidate rows and labels."""

    set: str
    group: str
    case: GoldCase
    gated: bool  # refused by a hard gate before the model is asked
    x: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))


def extract(bot: Any, cases: list[GoldCase], set_name: str, group: Any) -> list[Question]:
    """Candidate features and labels for every case, exactly as the answerer computes them."""
    from bot.answering import attributed
    from bot.followup import resolve
    from bot.questions import analyse

    answerer = bot.extractive
    out = []
    for i, case in enumerate(cases, start=1):
        if i % 500 == 0:
            print(f"fit: {set_name}: {i}/{len(cases)}", file=sys.stderr)
        resolved = resolve(case.question, case.history, bot.brief)
        retrieval = bot.retriever.search(resolved, bot.settings.top_k)
        info = analyse(resolved)
        q = Question(set_name, group(case), case, answerer.gate(info, retrieval.passages) is not None)
        if not q.gated:
            cands = answerer.candidates(info, retrieval.passages, retrieval.query_vector)
            q.x = np.asarray([c.x for c in cands], dtype=float).reshape(len(cands), -1)
            alternatives = [normalise(a) for g in case.facts for a in g] if case.answerable else []
            q.y = np.asarray(
                [
                    float(any(a in normalise(attributed(c.sentence.text, c.passage)) for a in alternatives))
                    for c in cands
                ]
            )
        out.append(q)
    return out


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


def _stack(questions: list[Question]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, labels, and row weights that give every training set the same total weight (SQuAD
    has 2,805 questions, the newsroom gold sets tens: unweighted, Wikipedia would decide)."""
    rows = [q for q in questions if len(q.y)]
    per_set: dict[str, int] = {}
    for q in rows:
        per_set[q.set] = per_set.get(q.set, 0) + len(q.y)
    total = sum(per_set.values())
    share = {name: total / (len(per_set) * n) for name, n in per_set.items()}
    weight = np.concatenate([np.full(len(q.y), share[q.set]) for q in rows])
    return np.vstack([q.x for q in rows]), np.concatenate([q.y for q in rows]), weight


def _outcomes(questions: list[Question], model: Any) -> list[tuple[str, bool, float, bool]]:
    """Per question: (set, answerable, best probability, the best sentence holds the answer)."""
    from bot.answerability import FEATURES

    out = []
    for q in questions:
        if q.gated or not len(q.y):
            out.append((q.set, q.case.answerable, -1.0, False))
            continue
        p = model.probabilities(q.x)
        # As the answerer ranks: sentences holding the question's numbers first, then by p.
        keeps = q.x[:, FEATURES.index("numbers")] >= 1.0
        best = int(np.lexsort((-p, ~keeps))[0])
        out.append((q.set, q.case.answerable, float(p[best]), bool(q.y[best])))
    return out


def scores(outcomes: list[tuple[str, bool, float, bool]], threshold: float) -> dict[str, dict[str, float]]:
    """Per set: top-sentence correctness, false refusals, refusal recall, balanced accuracy."""
    table: dict[str, dict[str, float]] = {}
    for name in sorted({o[0] for o in outcomes}):
        rows = [o for o in outcomes if o[0] == name]
        ans = [o for o in rows if o[1]]
        un = [o for o in rows if not o[1]]
        correct = sum(1 for o in ans if o[2] >= threshold and o[3]) / max(len(ans), 1)
        false_refusal = sum(1 for o in ans if o[2] < threshold) / max(len(ans), 1)
        recall = sum(1 for o in un if o[2] < threshold) / max(len(un), 1) if un else 1.0
        table[name] = {
            "questions": len(rows),
            "top_sentence_correct": round(correct, 4),
            "false_refusal_rate": round(false_refusal, 4),
            "refusal_recall": round(recall, 4),
            "balanced_accuracy": round((correct + recall) / 2, 4),
        }
    return table


def choose_threshold(outcomes: list[tuple[str, bool, float, bool]]) -> float:
    """The threshold with the best balanced accuracy, macro-averaged over sets (ties: lower)."""
    grid = [round(0.02 * i, 2) for i in range(1, 50)]
    return max(
        grid,
        key=lambda t: (round(np.mean([s["balanced_accuracy"] for s in scores(outcomes, t).values()]), 6), -t),
    )


def cross_validate(questions: list[Question]) -> tuple[list[tuple[str, bool, float, bool]], dict[str, Any]]:
    """Leave-one-group-out predictions, each from weights fitted without that group."""
    groups = sorted({q.group for q in questions})
    oof: list[tuple[str, bool, float, bool]] = []
    fold_params: dict[str, Any] = {}
    for g in groups:
        train = [q for q in questions if q.group != g]
        test = [q for q in questions if q.group == g]
        x, y, weight = _stack(train)
        params = fit(x, y, weight=weight)
        fold_params[g] = params
        oof += _outcomes(test, _model(params, 0.5))
    return oof, fold_params


def load_training(settings: Settings) -> list[Question]:
    """Index each training corpus (idempotently) and extract every training question."""
    from bot.answerability import Model
    from bot.assembly import assemble
    from evals.runner import build_bot
    from evals.squad import convert

    embedder = assemble(settings).embedder
    work = PROJECT_ROOT / "data" / "eval-stores"
    questions: list[Question] = []
    squad_dir = work / "fit-squad"
    corpus, gold = convert(SQUAD_JSON, squad_dir, every=1, name="squad-part-a")
    sets = [("squad", gold, [corpus])] + [(n, GOLD / f"{n}.jsonl", paths) for n, paths in GOLD_SETS.items()]
    for name, gold_path, paths in sets:
        s = settings.model_copy(update={"store": work / f"fit-{name}"})
        bot = build_bot(s, paths, embedder=embedder, model=Model.untrained())
        cases = load_gold(gold_path)
        group = (lambda c: f"squad:{c.tags[1]}") if name == "squad" else (lambda c, n=name: n)
        print(f"fit: extracting {len(cases)} {name} questions", file=sys.stderr)
        questions += extract(bot, cases, name, group)
    return questions


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_model(questions: list[Question]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model file's content, and the cross-validation results."""
    from bot.answerability import FEATURES

    oof, fold_params = cross_validate(questions)
    threshold = choose_threshold(oof)
    x, y, weight = _stack(questions)
    params = fit(x, y, weight=weight)
    cv = {"threshold": threshold, "by_set": scores(oof, threshold)}
    sets = {
        "squad": f"{SQUAD_JSON.relative_to(PROJECT_ROOT)} sha256:{_sha256(SQUAD_JSON)}",
        **{n: f"evals/gold/{n}.jsonl sha256:{_sha256(GOLD / f'{n}.jsonl')}" for n in GOLD_SETS},
    }
    model = {
        "features": list(FEATURES),
        **params,
        "threshold": threshold,
        "fitted_on": {"sets": sets, "rows": len(y), "positives": int(y.sum()), "questions": len(questions)},
        "cross_validation": cv,
        "command": "python -m evals.fit",
    }
    return model, fold_params


def squad_report(
    settings: Settings, questions: list[Question], fold_params: dict[str, Any], threshold: float, out: Path
) -> Any:
    """Run the real answerer on each SQuAD article with weights fitted without that article."""
    from bot.answerability import Model
    from evals.report import EvalReport
    from evals.runner import aggregate, build_bot, by_tag, run_eval, write_report

    work = PROJECT_ROOT / "data" / "eval-stores"
    corpus = work / "fit-squad" / "squad-part-a-corpus.jsonl"
    bot = build_bot(
        settings.model_copy(update={"store": work / "fit-squad"}), [corpus], model=Model.untrained()
    )
    all_scores = []
    with tempfile.TemporaryDirectory() as tmp:
        for group, params in sorted(fold_params.items()):
            if not group.startswith("squad:"):
                continue
            cases = [q.case for q in questions if q.group == group]
            fold_gold = Path(tmp) / f"{group.split(':', 1)[1]}.jsonl"
            write_gold(cases, fold_gold)
            bot.extractive.model = _model(params, threshold)
            report = run_eval(settings, fold_gold, bot=bot, thresholds=Path(tmp) / "none.json")
            all_scores += report.cases
    metrics = aggregate(all_scores, 5)
    report = EvalReport(
        "squad-part-a (cross-validated by article)",
        "extractive",
        metrics,
        {},
        [],
        by_tag(all_scores),
        all_scores,
    )
    write_report(report, out)
    return report


def main(argv: list[str] | None = None) -> int:
    from bot.assembly import assemble
    from evals.runner import summary

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if the refit differs from the committed model"
    )
    parser.add_argument("--squad-report", type=Path, help="folder for the cross-validated SQuAD eval report")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the model (default: bot/answerability.json)"
    )
    parser.add_argument(
        "--features",
        type=Path,
        help="cache of the extracted questions (pickle): read if it exists, else written",
    )
    args = parser.parse_args(argv)
    from bot.answerability import MODEL_PATH

    settings = load_settings()
    assemble(settings)  # offline set-up before any model loads
    if args.features and args.features.exists():
        with args.features.open("rb") as fh:
            questions = pickle.load(fh)
    else:
        questions = load_training(settings)
        if args.features:
            with args.features.open("wb") as fh:
                pickle.dump(questions, fh)
    model, fold_params = build_model(questions)
    text = json.dumps(model, indent=1) + "\n"
    target = args.out or MODEL_PATH
    print(json.dumps(model["cross_validation"], indent=1))
    if args.check:
        same = target.exists() and target.read_text(encoding="utf-8") == text
        print(f"fit: the refit {'matches' if same else 'DIFFERS FROM'} {target}", file=sys.stderr)
        if not same:
            return 1
    else:
        target.write_text(text, encoding="utf-8")
        print(f"fit: wrote {target}", file=sys.stderr)
    if args.squad_report:
        report = squad_report(settings, questions, fold_params, model["threshold"], args.squad_report)
        print(summary(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
