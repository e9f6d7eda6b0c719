"""Fit the sentence scorers and choose between them by cross-validation.

    python -m evals.fit                    # extract, cross-validate, fit, write both scorers
    python -m evals.fit --check            # refit and fail if a committed model differs
    python -m evals.fit --features F.pkl   # cache the extracted rows (read if the file exists)
    python -m evals.fit --squad-report DIR # also run the real answerer on every SQuAD article
                                           # with weights fitted without that article

Training data, named in each model file with their sha256: SQuAD 2.0 dev part A (open
retrieval over all its paragraphs); the gold sets ``founding``, ``hansard`` and ``dev``; and
the training files of ``evals/train/`` (``python -m evals.training``): annotated newsroom cases,
generated near-misses, XQuAD's questions (answerable against their paragraph, unanswerable
against the rest of their article) and annotated XQuAD cases. The held-out sets
(``evals/gold/heldout.jsonl``, ``evals/gold/newsroom.jsonl``) are never read here.

Every candidate sentence the answerer would consider becomes a row; its label says whether the
sentence (with its speaker attribution) holds a gold answer and overlaps the gold evidence.
Two model classes are fitted on the same rows: a logistic regression (L2, Newton's method in
numpy: ``bot/answerability.json``) and gradient-boosted trees (LightGBM, deterministic:
``bot/models/boosted.json`` + ``boosted.lgb.txt``). Both are cross-validated in grouped folds
(every source document or SQuAD/XQuAD article wholly inside one fold), and each one's
threshold is the lowest at which, out of fold, answers on the newsroom sets lead with a right
sentence at least ``TARGET_PRECISION`` of the time. The figures of both go into both files;
``Settings.scorer`` names the one that won.
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
SQUAD_JSON = PROJECT_ROOT / "data" / "corpora" / "squad-v2-dev" / "squad-v2-dev-part-a.json"
GOLD = PROJECT_ROOT / "evals" / "gold"
CORPUS = PROJECT_ROOT / "data" / "corpus"
HANSARD = PROJECT_ROOT / "data" / "corpora" / "hansard-2010-immigration"
TRAIN = PROJECT_ROOT / "evals" / "train"
XQUAD_CORPUS = PROJECT_ROOT / "data" / "eval-stores" / "fit-xquad" / "xquad-corpus.jsonl"
GOLD_SETS: dict[str, list[Path]] = {
    "founding": [CORPUS],
    "hansard": [HANSARD],
    "dev": [CORPUS, HANSARD],
}
# The eval store each set's corpus is indexed in (the rest: founding article + Hansard).
STORES = {
    "squad": "fit-squad",
    "founding": "fit-founding",
    "hansard": "fit-hansard",
    "xquad": "fit-xquad",
    "xquad-newsroom": "fit-xquad",
}
# evals/train/<name>.jsonl and the corpus each is asked against.
TRAIN_SETS: dict[str, list[Path]] = {
    "newsroom": [CORPUS, HANSARD],
    "near-misses": [CORPUS, HANSARD],
    "xquad": [XQUAD_CORPUS],
    "xquad-newsroom": [XQUAD_CORPUS],
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


def label(sentence: str, case: GoldCase) -> float:
    """1.0 when ``sentence`` holds a gold answer and, where the evidence is longer than the
    answer, overlaps it (a "Conservative" elsewhere does not answer "which party is he from")."""
    if not case.answerable:
        return 0.0
    text = normalise(sentence)
    if not any(normalise(a) in text for g in case.facts for a in g):
        return 0.0
    evidence = [normalise(e) for e in case.evidence]
    facts = {normalise(a) for g in case.facts for a in g}
    long = [e for e in evidence if e not in facts]
    if not long:
        return 1.0
    words = set(text.split())
    return float(
        any(e in text or text in e or len(words & set(e.split())) >= 0.5 * len(set(e.split())) for e in long)
    )


def _scope(case: GoldCase, paragraphs: dict[str, list[str]]) -> Any:
    """The scope a training question is asked in: XQuAD's ``xquad-other`` cases are asked
    against the other paragraphs of their article only."""
    from bot.retrieval import Filters

    if "xquad-other" not in case.tags or not case.paragraph:
        return None
    article = case.paragraph.rsplit(":", 1)[0]
    return Filters(doc_ids=tuple(d for d in paragraphs.get(article, []) if d != case.paragraph))


def extract(bot: Any, cases: list[GoldCase], set_name: str, group: Any) -> list[Question]:
    """Candidate features and labels for every case, exactly as the answerer computes them."""
    from bot.answering import attributed
    from bot.followup import resolve
    from bot.questions import analyse

    answerer = bot.extractive
    paragraphs: dict[str, list[str]] = {}
    for doc in bot.store.documents():
        paragraphs.setdefault(doc.id.rsplit(":", 1)[0], []).append(doc.id)
    out = []
    for i, case in enumerate(cases, start=1):
        if i % 100 == 0:
            print(f"fit: {set_name}: {i}/{len(cases)}", file=sys.stderr, flush=True)
        resolved = resolve(case.question, case.history)
        retrieval = bot.retriever.search(resolved.search_text, bot.settings.top_k, _scope(case, paragraphs))
        info = analyse(resolved)
        q = Question(set_name, group(case), case, answerer.gate(info, retrieval.passages) is not None)
        if not q.gated:
            cands = answerer.candidates(info, retrieval.passages, retrieval.query_vector)
            q.x = np.asarray([c.x for c in cands], dtype=float).reshape(len(cands), -1)
            q.y = np.asarray([label(attributed(c.sentence.text, c.passage), case) for c in cands])
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


def fit_boosted(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> Any:
    """LightGBM trees on the raw features (deterministic: fixed seed, row-wise, two threads)."""
    import lightgbm

    data = lightgbm.Dataset(x, label=y, weight=weight, params={"verbose": -1})
    return lightgbm.train(BOOST_PARAMS, data, num_boost_round=BOOST_ROUNDS)


class _Trees:
    """A fitted booster as a ``SentenceScorer``, for cross-validation."""

    name = "boosted"

    def __init__(self, booster: Any, threshold: float = 0.5) -> None:
        self.booster, self.threshold = booster, threshold

    def score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(rows, num_threads=1)) if len(rows) else np.zeros(0)


MODEL_CLASSES: dict[str, Any] = {
    "logistic": lambda x, y, w: _model(fit(x, y, weight=w), 0.5),
    "boosted": lambda x, y, w: _Trees(fit_boosted(x, y, w)),
}


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


Outcome = tuple[str, bool, float, bool]  # (set, answerable, best probability, best sentence is right)


def _outcomes(questions: list[Question], scorer: Any) -> list[Outcome]:
    """Per question: (set, answerable, best probability, the best sentence holds the answer)."""
    from bot.answerability import FEATURES

    out = []
    for q in questions:
        if q.gated or not len(q.y):
            out.append((q.set, q.case.answerable, -1.0, False))
            continue
        p = scorer.score(q.x)
        # As the answerer ranks: sentences holding the question's numbers first, then by p.
        keeps = q.x[:, FEATURES.index("numbers")] >= 1.0
        best = int(np.lexsort((-p, ~keeps))[0])
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


def cross_validate(questions: list[Question], make: Any, k: int = FOLDS) -> list[Outcome]:
    """Out-of-fold outcomes, each fold scored by a model fitted without its groups."""
    fold_of = folds(questions, k)
    oof: list[Outcome] = []
    for f in range(k):
        train = [q for q in questions if fold_of[q.group] != f]
        test = [q for q in questions if fold_of[q.group] == f]
        if not test:
            continue
        x, y, weight = _stack(train)
        print(f"fit: fold {f + 1}/{k}: {len(y)} rows", file=sys.stderr, flush=True)
        oof += _outcomes(test, make(x, y, weight))
    return oof


def leave_articles_out(questions: list[Question], make: Any) -> dict[str, Any]:
    """A scorer fitted without each SQuAD article in turn (for the per-article SQuAD report)."""
    out = {}
    for g in sorted({q.group for q in questions}):
        if g.startswith("squad:"):
            x, y, weight = _stack([q for q in questions if q.group != g])
            out[g] = make(x, y, weight)
    return out


def _group(name: str) -> Any:
    """The fold group of a case: its source document (SQuAD, XQuAD: its article)."""
    if name == "squad":
        return lambda c: f"squad:{c.tags[1]}"
    if name in GOLD_SETS:
        return lambda c, n=name: f"gold:{n}"
    return lambda c, n=name: f"{'xquad' if n.startswith('xquad') else 'news'}:{c.source or n}"


def training_sets() -> list[tuple[str, Path, list[Path]]]:
    """(name, gold file, corpus) of every training set."""
    from evals.squad import convert
    from evals.training import xquad_corpus

    work = PROJECT_ROOT / "data" / "eval-stores"
    corpus, gold = convert(SQUAD_JSON, work / "fit-squad", every=1, name="squad-part-a")
    xquad_corpus(XQUAD_CORPUS)
    return (
        [("squad", gold, [corpus])]
        + [(n, GOLD / f"{n}.jsonl", paths) for n, paths in GOLD_SETS.items()]
        + [(n, TRAIN / f"{n}.jsonl", paths) for n, paths in TRAIN_SETS.items()]
    )


def load_training(
    settings: Settings, cache: Path | None = None, only: set[str] | None = None
) -> list[Question]:
    """Index each training corpus (idempotently) and extract every training question; with
    ``cache``, a set whose gold file and features are unchanged is read from its pickle there."""
    from bot.answerability import FEATURES, Model
    from bot.assembly import assemble
    from evals.runner import build_bot

    # One ONNX thread: extraction runs a question at a time, and parallel runs share the cores.
    embedder = assemble(settings.model_copy(update={"embed_threads": 1})).embedder
    work = PROJECT_ROOT / "data" / "eval-stores"
    questions: list[Question] = []
    for name, gold_path, paths in training_sets():
        if only and name not in only:
            continue
        key = hashlib.sha256(gold_path.read_bytes() + " ".join(FEATURES).encode()).hexdigest()[:16]
        cached = cache / f"{name}-{key}.pkl" if cache else None
        if cached and cached.exists():
            with cached.open("rb") as fh:
                questions += _Unpickler(fh).load()
            continue
        s = settings.model_copy(update={"store": work / STORES.get(name, "fit-newsroom")})
        bot = build_bot(s, paths, embedder=embedder, scorer=Model.untrained())
        cases = load_gold(gold_path)
        print(f"fit: extracting {len(cases)} {name} questions", file=sys.stderr, flush=True)
        extracted = extract(bot, cases, name, _group(name))
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with cached.open("wb") as fh:
                pickle.dump(extracted, fh)
        questions += extracted
    return questions


class _Unpickler(pickle.Unpickler):
    """Reads caches written when this module ran as ``__main__`` (``python -m evals.fit``)."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class("evals.fit" if module == "__main__" else module, name)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _figures(outcomes: list[Outcome], threshold: float) -> dict[str, Any]:
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
        "risk_coverage_newsroom": risk_coverage(newsroom),
    }


def build_models(questions: list[Question]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both scorers' files, cross-validated: (logistic model JSON, boosted manifest + booster)."""
    from bot.answerability import FEATURES

    cv: dict[str, Any] = {}
    for name, make in MODEL_CLASSES.items():
        oof = cross_validate(questions, make)
        newsroom = [("newsroom", *o[1:]) for o in oof if o[0] in NEWSROOM_SETS]
        # The shipped threshold: the best balanced accuracy on the newsroom sets, pooled. The
        # one that reaches TARGET_PRECISION is recorded beside it (and can be set with
        # DESPATCH_ANSWER_THRESHOLD); out of fold it answers too few questions to ship.
        threshold = choose_threshold(newsroom)
        strict = choose_threshold(newsroom, TARGET_PRECISION)
        precision, coverage = precision_at(newsroom, strict)
        cv[name] = {
            **_figures(oof, threshold),
            "at_target_precision": {
                "threshold": strict,
                "answer_precision": round(precision, 4),
                "coverage": round(coverage, 4),
                **scores(newsroom, strict)["newsroom"],
            },
        }
    chosen = max(cv, key=lambda n: (cv[n]["newsroom"]["balanced_accuracy"], n == "boosted"))
    x, y, weight = _stack(questions)
    sets = {
        "squad": f"{SQUAD_JSON.relative_to(PROJECT_ROOT)} sha256:{_sha256(SQUAD_JSON)}",
        **{n: f"evals/gold/{n}.jsonl sha256:{_sha256(GOLD / f'{n}.jsonl')}" for n in GOLD_SETS},
        **{n: f"evals/train/{n}.jsonl sha256:{_sha256(TRAIN / f'{n}.jsonl')}" for n in TRAIN_SETS},
    }
    fitted_on = {"sets": sets, "rows": len(y), "positives": int(y.sum()), "questions": len(questions)}
    common = {
        "fitted_on": fitted_on,
        "target_precision": TARGET_PRECISION,
        "cross_validation": {
            "scheme": f"{FOLDS} grouped folds; a group is one source document, SQuAD or XQuAD article",
            **{n: {k: v for k, v in c.items()} for n, c in cv.items()},
        },
        "command": "python -m evals.fit",
        "chosen": chosen,
    }
    logistic = {
        "features": list(FEATURES),
        **fit(x, y, weight=weight),
        "threshold": cv["logistic"]["threshold"],
        **common,
    }
    booster = fit_boosted(x, y, weight)
    boosted = {
        "features": list(FEATURES),
        "model_file": "boosted.lgb.txt",
        "threshold": cv["boosted"]["threshold"],
        **common,
        "params": BOOST_PARAMS,
        "rounds": BOOST_ROUNDS,
    }
    return logistic, {"manifest": boosted, "booster": booster}


def squad_report(
    settings: Settings, questions: list[Question], fold_scorers: dict[str, Any], threshold: float, out: Path
) -> Any:
    """Run the real answerer on each SQuAD article with a scorer fitted without that article."""
    from bot.answerability import Model
    from bot.scorer import with_threshold
    from evals.report import EvalReport
    from evals.runner import aggregate, build_bot, by_tag, run_eval, write_report

    work = PROJECT_ROOT / "data" / "eval-stores"
    corpus = work / "fit-squad" / "squad-part-a-corpus.jsonl"
    bot = build_bot(
        settings.model_copy(update={"store": work / "fit-squad"}), [corpus], scorer=Model.untrained()
    )
    all_scores = []
    with tempfile.TemporaryDirectory() as tmp:
        ungated = Path(tmp) / "none.json"  # report every metric, gate none
        ungated.write_text('{"corpus": [], "metrics": {}}', encoding="utf-8")
        for group, scorer in sorted(fold_scorers.items()):
            cases = [q.case for q in questions if q.group == group]
            fold_gold = Path(tmp) / f"{group.split(':', 1)[1]}.jsonl"
            write_gold(cases, fold_gold)
            bot.extractive.scorer = with_threshold(scorer, threshold)
            report = run_eval(settings, fold_gold, bot=bot, thresholds=ungated)
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
    from bot.answerability import MODEL_PATH
    from bot.assembly import offline
    from bot.boosted import MANIFEST
    from evals.runner import summary

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if the refit differs from the committed models"
    )
    parser.add_argument("--squad-report", type=Path, help="folder for the cross-validated SQuAD eval report")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder to write the models to (default: where they ship)"
    )
    parser.add_argument(
        "--features",
        type=Path,
        help="folder caching each set's extracted questions (pickles keyed by the set's sha256)",
    )
    parser.add_argument(
        "--extract-only",
        metavar="SETS",
        help="comma-separated sets to extract into the --features cache, then stop (for parallel runs)",
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    offline(settings)  # before any model loads
    if args.extract_only:
        load_training(settings, args.features, set(args.extract_only.split(",")))
        return 0
    questions = load_training(settings, args.features)
    logistic, boosted = build_models(questions)
    logistic_path = (args.out / MODEL_PATH.name) if args.out else MODEL_PATH
    manifest_path = (args.out / MANIFEST.name) if args.out else MANIFEST
    trees_path = manifest_path.with_name(boosted["manifest"]["model_file"])
    trees = boosted["booster"].model_to_string(num_iteration=-1)
    manifest = {**boosted["manifest"], "files": {trees_path.name: hashlib.sha256(trees.encode()).hexdigest()}}
    outputs = {
        logistic_path: json.dumps(logistic, indent=1) + "\n",
        manifest_path: json.dumps(manifest, indent=1) + "\n",
        trees_path: trees,
    }
    summary_cv = {
        n: {k: v for k, v in c.items() if k != "risk_coverage_newsroom"}
        for n, c in logistic["cross_validation"].items()
        if isinstance(c, dict)
    }
    print(json.dumps(summary_cv, indent=1))
    if args.check:
        differ = [p for p, text in outputs.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        for p in differ:
            print(f"fit: the refit DIFFERS FROM {p}", file=sys.stderr)
        if differ:
            return 1
        print("fit: the refit matches the committed models", file=sys.stderr)
    else:
        for p, text in outputs.items():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
            print(f"fit: wrote {p}", file=sys.stderr)
    if args.squad_report:
        chosen = settings.scorer
        fold_scorers = leave_articles_out(questions, MODEL_CLASSES[chosen])
        threshold = (logistic if chosen == "logistic" else manifest)["threshold"]
        report = squad_report(settings, questions, fold_scorers, threshold, args.squad_report)
        print(summary(report))
    return 0


if __name__ == "__main__":
    from evals.fit import main as _main  # records pickled as evals.fit.Question, not __main__'s

    raise SystemExit(_main())
