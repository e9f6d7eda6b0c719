"""Answer latency with each sentence scorer, in one run: ``python -m bench.scorers``.

Every scorer named in ``bot.assembly.SCORERS`` answers the same real questions over the same
synthetic archive store (``bench.latency.archive_store``), in interleaved rounds so that a
noisy neighbour slows them alike; the scorer's own time (``timings_ms["score"]``) is reported
beside the stage totals. Results: ``bench/results-scorers.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.latency import archive_store, questions
from bench.stats import p50_p95
from despatch.settings import PROJECT_ROOT, load_settings

RESULTS = PROJECT_ROOT / "bench" / "results-scorers.json"
# select holds analyse (spaCy), embed_sentences (the shortlisted sentences' vectors) and score
STAGES = (
    "embed",
    "dense",
    "lexical",
    "fusion",
    "select",
    "analyse",
    "embed_sentences",
    "score",
    "cite",
    "total",
)


def run(chunks: int, n_questions: int, rounds: int = 3, pool: bool = True) -> dict[str, Any]:
    """``pool=False`` embeds the archive with the real model (small archives, as ``--quick`` does)."""
    from bench.__main__ import machine
    from bot.assembly import SCORERS, assemble

    real = assemble(load_settings()).embedder
    settings, store = archive_store(chunks, real, pool=pool)
    bots = {}
    for name in SCORERS:
        parts = assemble(settings.model_copy(update={"scorer": name}), embedder=real)
        bots[name] = parts.bot()
        bots[name].retriever.view()
    qs = questions(n_questions + 5)
    for bot in bots.values():  # warm-up, not measured
        for q in qs[:5]:
            bot.ask(q)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in bots}
    per_round = max(1, n_questions // rounds)
    measured = qs[5:]
    for r in range(rounds):
        batch = measured[r * per_round : (r + 1) * per_round]
        for name, bot in bots.items():
            rows[name] += [bot.ask(q).timings_ms for q in batch]
    out: dict[str, Any] = {
        "machine": machine(),
        "chunks": store.count_chunks(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "scorers": {},
    }
    for name, timings in rows.items():
        out["scorers"][name] = {
            "questions": len(timings),
            "stages_ms": {s: p50_p95([t.get(s, 0.0) for t in timings]) for s in STAGES},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=10000)
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="200 chunks embedded by the real model")
    args = parser.parse_args(argv)
    results = run(200 if args.quick else args.chunks, args.questions, pool=not args.quick)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for name, r in results["scorers"].items():
        st = r["stages_ms"]
        print(
            f"{name} @ {results['chunks']} chunks: total p50 {st['total']['p50']} ms, "
            f"p95 {st['total']['p95']} ms; score p50 {st['score']['p50']} ms, p95 {st['score']['p95']} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
