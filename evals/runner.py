"""`despatch eval`: build or reuse an index, ask every gold question, score, report, gate."""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from despatch.errors import ConfigError
from despatch.settings import PROJECT_ROOT, Settings
from evals.gold import GoldCase, load_gold
from evals.report import EvalReport, Suite, write_suite
from evals.scoring import CaseScore, score_case

if TYPE_CHECKING:
    from bot.scorer import SentenceScorer

EVALS_DIR = PROJECT_ROOT / "evals"


def thresholds_path(gold: Path) -> Path:
    """The gate and default corpus of a gold file: ``evals/thresholds/<name>.json`` for the
    project's own sets (in ``evals/gold/``), else ``<name>.thresholds.json`` beside the file (so
    a newsroom's ``founding.jsonl`` never picks up the project's gate)."""
    if gold.resolve().parent == (EVALS_DIR / "gold").resolve():
        return EVALS_DIR / "thresholds" / f"{gold.stem}.json"
    return gold.with_name(f"{gold.stem}.thresholds.json")


# The gate of a gold file without a thresholds file: no citation may be invalid.
DEFAULT_GATE = {"max_invalid_citations": 0.0}


def load_thresholds(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"corpus": [], "metrics": {}}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: malformed JSON on line {exc.lineno}; fix the thresholds file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the thresholds file ({exc})") from exc
    if not isinstance(config, dict) or not isinstance(config.get("metrics", {}), dict):
        raise ConfigError(f'{path}: expected {{"corpus": [...], "metrics": {{name: number}}}}')
    metrics = config.get("metrics", {})
    known = set(aggregate([], 5))
    for name, value in metrics.items():
        base = name.removeprefix("max_")
        if base not in known and not base.startswith("retrieval_recall_at_"):
            raise ConfigError(f"{path}: unknown metric {name!r}; the metrics are in evals/README.md")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: {name} must be a number, not {value!r}")
    base_dir = path.parent if path.parent != EVALS_DIR / "thresholds" else PROJECT_ROOT
    config["corpus"] = [str(base_dir / p) for p in config.get("corpus", [])]
    return dict(config)


def run_eval(
    settings: Settings,
    gold_path: Path,
    corpus: list[Path] | None = None,
    answerer: str = "extractive",
    out_dir: Path | None = None,
    k: int = 5,
    limit: int | None = None,
    bot: Any = None,
    thresholds: Path | None = None,
) -> EvalReport:
    """Score ``gold_path`` against an index of ``corpus`` (default: the thresholds file's)."""
    config_path = thresholds or thresholds_path(gold_path)
    if not config_path.exists() and thresholds is not None:
        raise ConfigError(f"{config_path}: no such thresholds file")
    config = load_thresholds(config_path)
    cases = load_gold(gold_path)[:limit]
    if bot is None:
        paths = corpus or [Path(p) for p in config.get("corpus", [])]
        if not paths:
            raise ConfigError(
                f"No corpus for {gold_path.name}: pass --corpus PATH or set it in the thresholds file"
            )
        bot = build_bot(settings, paths, answerer)
    scores = [_score(bot, case, k) for case in cases]
    metrics = aggregate(scores, k)
    limits = {k2: float(v) for k2, v in config.get("metrics", {}).items()} or dict(DEFAULT_GATE)
    breaches = [b for name, limit_ in limits.items() if (b := _breach(name, metrics, limit_))]
    scorer = getattr(bot, "scorer", None)
    model = describe_model(settings, answerer, scorer)
    threshold = getattr(scorer, "threshold", None)
    report = EvalReport(
        gold_path.name, answerer, metrics, limits, breaches, by_tag(scores), scores, model, threshold
    )
    if out_dir is not None:
        write_report(report, out_dir)
    return report


def describe_model(settings: Settings, answerer: str, scorer: SentenceScorer | None) -> str:
    """What answered, for the report: the LLM and its endpoint, or the scorer and its model file."""
    if answerer == "llm":
        return f"{settings.llm_model} at {settings.llm_base_url or 'the default OpenAI endpoint'}"
    if scorer is None or scorer.source is None:
        return f"extractive, {scorer.name if scorer else settings.scorer} answerability model (in memory)"
    digest = hashlib.sha256(scorer.source.read_bytes()).hexdigest()[:12]
    return f"extractive, {scorer.name} answerability model {scorer.source.name} sha256:{digest}"


def build_bot(
    settings: Settings,
    paths: list[Path],
    answerer: str = "extractive",
    embedder: Any = None,
    scorer: Any = None,
) -> Any:
    """A ``Bot`` over an index of exactly ``paths`` in ``settings.store``, an eval-owned store:
    it is brought up to date idempotently, and documents of any other corpus are removed."""
    from bot.assembly import assemble

    parts = assemble(settings, create=True, embedder=embedder)
    summary = parts.indexer().ingest(paths)
    if summary.failed:
        raise ConfigError(f"The eval corpus has bad files: {'; '.join(summary.errors)}")
    wanted = {str(d["id"]) for d in summary.documents if d.get("status") != "removed"}
    others = [d.id for d in parts.store.documents() if d.id not in wanted]
    if others and settings.chroma_url is not None:  # never prune a collection on a shared server
        raise ConfigError(
            f"The Chroma collection {settings.collection!r} holds {len(others)} documents outside the eval "
            "corpus; give the eval a collection of its own (DESPATCH_COLLECTION)"
        )
    if others:
        parts.store.remove_many(others)
    return parts.bot(answerer, scorer)


def _breach(name: str, metrics: dict[str, float], limit: float) -> str | None:
    """``name`` is a metric (a minimum) or ``max_`` + a metric (a maximum)."""
    if name.startswith("max_"):
        value = metrics.get(name[4:], float("inf"))
        return f"{name[4:]} = {value:g} > {limit:g}" if value > limit else None
    value = metrics.get(name, 0.0)
    return f"{name} = {value:g} < {limit:g}" if value < limit else None


def _score(bot: Any, case: GoldCase, k: int) -> CaseScore:
    answer = bot.ask(case.question, case.history)
    # Retrieval is prefix-stable: the first k of the answer's own retrieval are these k.
    retrieved = [(p.url or p.doc_id, p.text) for p in bot.search(answer.resolved_question, k)]
    texts: dict[str, str | None] = {}

    def document_text(doc_id: str) -> str | None:
        if doc_id not in texts:
            texts[doc_id] = bot.document_text(doc_id)
        return texts[doc_id]

    return score_case(case, answer, document_text, bot.supports, retrieved, case.paragraph)


def aggregate(scores: list[CaseScore], k: int) -> dict[str, float]:
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    refused = [s for s in scores if s.refused]
    hits = [h for s in answerable for h in s.retrieval_hits]
    checked = sum(s.citations_checked for s in scores)
    answered_factoid = [s for s in answerable if s.factoid and not s.refused]
    shorts = [s for s in answerable if s.short_answer is not None]
    latencies = sorted(s.latency_ms for s in scores)

    def share(n: float, d: float) -> float:
        return round(n / d, 4) if d else 1.0

    return {
        "cases": len(scores),
        "answer_correctness": share(sum(1 for s in answerable if s.facts_ok), len(answerable)),
        "token_f1": share(sum(s.f1 or 0.0 for s in answerable), len(answerable)),
        "evidence_recall": share(
            sum(s.evidence_found for s in answerable), sum(s.evidence_total for s in answerable)
        ),
        "citation_precision": share(sum(s.citations_supported for s in scores), checked),
        "invalid_citations": float(sum(s.invalid_citations for s in scores)),
        f"retrieval_recall_at_{k}": share(sum(1 for h in hits if h is not None and h <= k), len(hits)),
        "retrieval_mrr": share(sum(1.0 / h for h in hits if h), len(hits)),
        "fact_recall": share(sum(s.facts_found for s in answerable), sum(s.fact_groups for s in answerable)),
        "fact_grounding": share(
            sum(s.facts_grounded for s in answerable), sum(s.facts_found for s in answerable)
        ),
        "refusal_precision": share(sum(1 for s in refused if not s.answerable), len(refused)),
        "refusal_recall": share(sum(1 for s in unanswerable if s.refused), len(unanswerable)),
        "false_refusal_rate": share(sum(1 for s in answerable if s.refused), len(answerable))
        if answerable
        else 0.0,
        "balanced_refusal_accuracy": round(
            (
                (1 - (sum(1 for s in answerable if s.refused) / len(answerable) if answerable else 0.0))
                + (sum(1 for s in unanswerable if s.refused) / len(unanswerable) if unanswerable else 1.0)
            )
            / 2,
            4,
        ),
        # Of the answers given, the share whose lead sentence is right (see CaseScore.lead_ok).
        "answer_precision": share(
            sum(1 for s in scores if not s.refused and s.lead_ok), sum(1 for s in scores if not s.refused)
        ),
        "fact_in_first_sentence": share(
            sum(1 for s in answered_factoid if s.first_ok), len(answered_factoid)
        ),
        "short_answer_coverage": share(
            sum(1 for s in answered_factoid if s.short_answer is not None), len(answered_factoid)
        ),
        "short_answer_exact_match": share(sum(1 for s in shorts if s.short_ok), len(shorts)),
        # LLM answerer: answers replaced by the extractive one (endpoint error, nothing verified).
        "fallback_rate": share(sum(1 for s in scores if s.fallback), len(scores)),
        "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else 0.0,
        "latency_p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1)
        if latencies
        else 0.0,
    }


def by_tag(scores: list[CaseScore]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[CaseScore]] = defaultdict(list)
    for s in scores:
        for tag in s.tags or ["untagged"]:
            groups[tag].append(s)
    return {
        tag: {
            "cases": len(group),
            "passed": sum(1 for s in group if not s.failures),
            "pass_rate": round(sum(1 for s in group if not s.failures) / len(group), 4),
        }
        for tag, group in sorted(groups.items())
    }


def write_report(report: EvalReport, out_dir: Path, junit: Path | None = None) -> None:
    """One gold set's report.json, report.md and report.html (and JUnit XML) in ``out_dir``."""
    write_suite(Suite(report.answerer, report.model, [report]), out_dir, junit)


def summary(report: EvalReport) -> str:
    width = max(len(n) for n in report.metrics)
    rows = [f"{report.gold} ({report.answerer}): {'PASSED' if report.passed else 'FAILED'}"]
    rows += [f"  {n:<{width}}  {v:g}" for n, v in report.metrics.items()]
    rows += [f"  BREACH {b}" for b in report.breaches]
    return "\n".join(rows)


def main_eval(args: Any, settings: Settings) -> int:
    """``despatch eval``: every gold file, one report, optional JUnit XML and baseline comparison.

    Exit 0 when every set meets its thresholds and no case regressed beyond
    ``--allow-regressions``; 1 otherwise. Usage and input errors raise (the CLI exits 2).
    """
    from evals.report import compare, load_baseline

    golds = [Path(g) for g in args.gold]
    baseline = load_baseline(Path(args.baseline)) if args.baseline else None  # fail before the work
    overrides = {k: v for k, v in (("llm_base_url", args.llm_base_url), ("llm_model", args.llm_model)) if v}
    settings = settings.model_copy(update=overrides)
    reports = []
    for gold in golds:
        set_settings = settings
        if settings.chroma_url is None:  # one eval-owned index per gold file, under --store
            root = Path(args.store) if args.store else PROJECT_ROOT / "data" / "eval-stores"
            set_settings = settings.model_copy(update={"store": root / gold.stem})
        config = thresholds_path(gold) if not args.thresholds else Path(args.thresholds)
        if not config.exists():
            print(
                f"despatch: warning: no thresholds file for {gold.name} (looked for {config}): only "
                "invalid citations are gated; write one (see evals/README.md) or pass --thresholds",
                file=sys.stderr,
            )
        reports.append(
            run_eval(
                set_settings,
                gold,
                [Path(p) for p in args.corpus] if args.corpus else None,
                args.answerer,
                None,
                args.k,
                args.limit,
                thresholds=Path(args.thresholds) if args.thresholds else None,
            )
        )
        print(summary(reports[-1]))
    suite = Suite(args.answerer, reports[-1].model, reports)
    if baseline is not None:
        suite.comparison = compare(suite, baseline, str(args.baseline), args.allow_regressions)
        comp = suite.comparison
        print(f"against {args.baseline}: {len(comp.regressions)} regressions, {len(comp.fixed)} fixed")
        for key in comp.regressions:
            print(f"  REGRESSION {key}")
    if args.out:
        write_suite(suite, Path(args.out), Path(args.junit) if args.junit else None)
    elif args.junit:
        from evals.report import junit_xml

        Path(args.junit).parent.mkdir(parents=True, exist_ok=True)
        Path(args.junit).write_bytes(junit_xml(suite))
    if not suite.passed:
        why = "thresholds breached" if not all(r.passed for r in reports) else "cases regressed"
        print(f"despatch: eval failed ({why}); see report.md or report.html for the cases", file=sys.stderr)
    return 0 if suite.passed else 1
