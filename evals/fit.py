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
Three model classes (``MODEL_CLASSES``) are fitted on the same rows: a logistic regression (L2,
Newton's method in numpy: ``bot/answerability.json``), gradient-boosted trees (LightGBM,
deterministic: ``bot/models/boosted.json`` + ``boosted.lgb.txt``), and the same trees reading
each row beside its question's other rows (``bot.contextual.context_rows``:
``bot/models/contextual.json`` + ``contextual.lgb.txt``). Each is cross-validated in grouped
folds (every source document or SQuAD/XQuAD article wholly inside one fold); its threshold is
the one with the best balanced accuracy on the newsroom sets out of fold, and the threshold at
which answers there lead with a right sentence at least ``TARGET_PRECISION`` of the time is
recorded beside it. The figures of all go into every file; ``Settings.scorer`` names the one
that won.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from despatch.settings import PROJECT_ROOT, Settings, load_settings
from evals.gold import GoldCase, load_gold, write_gold
from evals.scoring import normalise

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
SQUAD_JSON = PROJECT_ROOT / "data" / "corpora" / "squad-v2-dev" / "squad-v2-dev-part-a.json"
GOLD = PROJECT_ROOT / "evals" / "gold"
CORPUS = PROJECT_ROOT / "data" / "corpus"
HANSARD = PROJECT_ROOT / "data" / "corpora" / "hansard-2010-immigration"
TRAIN = PROJECT_ROOT / "evals" / "train"
XQUAD_CORPUS = PROJECT_ROOT / "data" / "eval-stores" / "fit-xquad" / "xquad-corpus.jsonl"
READER_OOF = TRAIN / "reader-oof.json"  # python -m evals.reader --folds
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
    texts: tuple[str, ...] = ()  # each candidate sentence as the scorer reads it (with its speaker)
    reader: np.ndarray | None = None  # the reader's out-of-fold logit per candidate (NaN: not read)


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
            q.texts = tuple(attributed(c.sentence.text, c.passage) for c in cands)
            q.y = np.asarray([label(text, case) for text in q.texts])
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


def _stack(
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


def _outcomes(questions: list[Question], scorer: Any, model: ModelClass | None = None) -> list[Outcome]:
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
        x, y, weight = _stack(train, model)
        print(f"fit: fold {f + 1}/{k}: {len(y)} rows", file=sys.stderr, flush=True)
        oof += _outcomes(test, model.make(x, y, weight), model)
    return oof


def leave_articles_out(questions: list[Question], model: ModelClass) -> dict[str, Any]:
    """A scorer fitted without each SQuAD article in turn (for the per-article SQuAD report)."""
    out = {}
    for g in sorted({q.group for q in questions}):
        if g.startswith("squad:"):
            x, y, weight = _stack([q for q in questions if q.group != g], model)
            out[g] = model.make(x, y, weight)
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
        recipe = " ".join(("texts", *FEATURES)).encode()  # what a cached question holds
        key = hashlib.sha256(gold_path.read_bytes() + recipe).hexdigest()[:16]
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


def attach_reader(questions: list[Question], path: Path = READER_OOF) -> bool:
    """Give each question the reader's out-of-fold logits (``python -m evals.reader --folds``);
    False when there are none yet (the reader's class is then not fitted)."""
    if not path.exists():
        return False
    logits = json.loads(path.read_text(encoding="utf-8"))["logits"]
    for q in questions:
        q.reader = np.asarray(
            [logits.get(f"{q.set}:{q.case.id}:{i}", np.nan) for i in range(len(q.y))], dtype=float
        )
    return True


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


def training_files() -> dict[str, str]:
    """Each training set's file and its sha256, as the model files name them."""
    return {
        "squad": f"{SQUAD_JSON.relative_to(PROJECT_ROOT)} sha256:{_sha256(SQUAD_JSON)}",
        **{n: f"evals/gold/{n}.jsonl sha256:{_sha256(GOLD / f'{n}.jsonl')}" for n in GOLD_SETS},
        **{n: f"evals/train/{n}.jsonl sha256:{_sha256(TRAIN / f'{n}.jsonl')}" for n in TRAIN_SETS},
    }


def build_models(
    questions: list[Question], classes: dict[str, ModelClass] | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Every scorer's files, cross-validated: (the logistic model's JSON, {name: manifest and
    booster} for each tree model)."""
    from bot.answerability import FEATURES

    classes = MODEL_CLASSES if classes is None else classes
    cv: dict[str, Any] = {}
    for name, model in classes.items():
        oof = cross_validate(questions, model)
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
    # Ties go to the simpler model (the order of MODEL_CLASSES).
    order = list(classes)
    chosen = max(cv, key=lambda n: (cv[n]["newsroom"]["balanced_accuracy"], -order.index(n)))
    x, y, weight = _stack(questions)
    fitted_on = {
        "sets": training_files(),
        "rows": len(y),
        "positives": int(y.sum()),
        "questions": len(questions),
    }
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
    trees = {}
    for name, model in classes.items():
        if model.model_file is None:
            continue
        manifest = {
            "features": list(FEATURES),
            "model_file": model.model_file,
            "threshold": cv[name]["threshold"],
            **common,
            "params": BOOST_PARAMS,
            "rounds": BOOST_ROUNDS,
        }
        if model.reads_reader:  # and what it read of the reader: its out-of-fold logits
            logits = f"{READER_OOF.relative_to(PROJECT_ROOT)} sha256:{_sha256(READER_OOF)}"
            sets = {**training_files(), "reader-oof": logits}
            manifest["fitted_on"] = {**fitted_on, "sets": sets}
        booster = fit_boosted(*_stack(questions, model))
        trees[name] = {"manifest": manifest, "booster": booster}
    return logistic, trees


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
    from bot.manifest import MODELS_DIR
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
    if args.squad_report and MODEL_CLASSES[settings.scorer].reads_reader:
        parser.error(
            f"--squad-report answers each SQuAD article with a scorer fitted without it; the "
            f"{settings.scorer} scorer's reader was trained on every article, so it cannot be "
            "reported that way. Set DESPATCH_SCORER=contextual for the report"
        )
    offline(settings)  # before any model loads
    if args.extract_only:
        load_training(settings, args.features, set(args.extract_only.split(",")))
        return 0
    questions = load_training(settings, args.features)
    classes = dict(MODEL_CLASSES)
    if not attach_reader(questions):
        print(
            f"fit: no {READER_OOF.name} (python -m evals.reader --folds): the reader's trees are not fitted",
            file=sys.stderr,
        )
        classes = {n: m for n, m in classes.items() if not m.reads_reader}
    logistic, tree_models = build_models(questions, classes)
    logistic_path = (args.out / MODEL_PATH.name) if args.out else MODEL_PATH
    outputs = {logistic_path: json.dumps(logistic, indent=1) + "\n"}
    copies: list[tuple[Path, Path]] = []  # the reader model, beside trees written elsewhere
    manifests: dict[str, dict[str, Any]] = {}
    for name, made in tree_models.items():
        manifest_path = (args.out or MODELS_DIR) / f"{name}.json"
        trees_path = manifest_path.with_name(made["manifest"]["model_file"])
        trees = made["booster"].model_to_string(num_iteration=-1)
        digest = hashlib.sha256(trees.encode()).hexdigest()
        files = {trees_path.name: digest}
        if classes[name].reads_reader:  # the trees read this reader's logits: checked together
            from bot.reader import MODEL
            from bot.reader import manifest_path as reader_manifest

            files[MODEL.name] = _sha256(MODEL)
            for shipped in (MODEL, reader_manifest(MODEL)):
                if shipped.parent != trees_path.parent:
                    copies.append((shipped, trees_path.parent / shipped.name))
        manifests[name] = {**made["manifest"], "files": files}
        outputs[manifest_path] = json.dumps(manifests[name], indent=1) + "\n"
        outputs[trees_path] = trees
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
        for source, target in copies:
            shutil.copyfile(source, target)
    if args.squad_report:
        chosen = settings.scorer
        fold_scorers = leave_articles_out(questions, MODEL_CLASSES[chosen])
        threshold = (logistic if chosen == "logistic" else manifests[chosen])["threshold"]
        report = squad_report(settings, questions, fold_scorers, threshold, args.squad_report)
        print(summary(report))
    return 0


if __name__ == "__main__":
    from evals.fit import main as _main  # records pickled as evals.fit.Question, not __main__'s

    raise SystemExit(_main())
