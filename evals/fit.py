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
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from despatch.files import sha256
from despatch.settings import PROJECT_ROOT, Settings, load_settings
from evals.crossval import (
    BOOST_PARAMS,
    BOOST_ROUNDS,
    FOLDS,
    MODEL_CLASSES,
    NEWSROOM_SETS,
    TARGET_PRECISION,
    ModelClass,
    choose_threshold,
    cross_validate,
    figures,
    fit,
    fit_boosted,
    leave_articles_out,
    precision_at,
    scores,
    stack,
)
from evals.gold import write_gold
from evals.rows import READER_OOF, Question, attach_reader, load_training, training_files


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
            **figures(oof, threshold),
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
    x, y, weight = stack(questions)
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
            logits = f"{READER_OOF.relative_to(PROJECT_ROOT)} sha256:{sha256(READER_OOF)}"
            sets = {**training_files(), "reader-oof": logits}
            manifest["fitted_on"] = {**fitted_on, "sets": sets}
        booster = fit_boosted(*stack(questions, model))
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

            files[MODEL.name] = sha256(MODEL)
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
    raise SystemExit(main())
