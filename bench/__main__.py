"""`python -m bench` (or `despatch bench`): run every benchmark, print a table, write results.json.

python -m bench                 # full: 3 runs, 1k/10k/100k chunks, 30 s of load
python -m bench --quick         # smallest sizes, one run: proves every benchmark works
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from despatch.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results.json"
DATA = PROJECT_ROOT / "data"


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smallest sizes, one run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1000,10000,100000", help="archive sizes in chunks")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--load-seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--skip", default="", help="comma-separated: ingest,startup,latency,server")
    args = parser.parse_args(argv)

    from bot.assembly import assemble
    from despatch.settings import load_settings

    parts = assemble(load_settings())
    from bench import ingest, latency, server, startup

    skip = set(filter(None, args.skip.split(",")))
    runs = 1 if args.quick else args.runs
    sizes = [200] if args.quick else [int(s) for s in args.sizes.split(",")]
    n_questions = 20 if args.quick else args.questions
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    corpus = (
        [DATA / "corpus"]
        if args.quick
        else [DATA / "corpus", DATA / "corpora" / "hansard-2010-immigration", _squad_corpus()]
    )

    def save() -> None:  # after every section, so a long run never loses what it measured
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))

    if "ingest" not in skip:
        print("ingest benchmarks…", flush=True)
        results["ingest"] = {
            "corpus": [str(p.relative_to(PROJECT_ROOT)) for p in corpus],
            **ingest.run(corpus, runs),
        }
        save()
    if "startup" not in skip:
        print("start-up…", flush=True)
        results["startup"] = startup.run(runs)
        save()
    real = parts.embedder
    if "latency" not in skip:
        results["latency"] = {}
        for size in sizes:
            print(f"latency at {size} chunks…", flush=True)
            results["latency"][str(size)] = latency.measure(size, n_questions, real, pool=not args.quick)
            save()
    if "server" not in skip:
        results["server"] = {}
        qs = latency.questions(n_questions)
        for size in sizes if args.quick else [s for s in sizes if s >= 10000]:
            print(f"server at {size} chunks…", flush=True)
            settings, _ = latency.archive_store(size, real, pool=not args.quick)
            results["server"][str(size)] = server.measure(
                settings.store,
                qs,
                seconds=3.0 if args.quick else args.load_seconds,
                load=args.quick or size == 10000,
            )
            save()
    save()
    print(table(results))
    return 0


def _squad_corpus() -> Path:
    """SQuAD part A as a corpus and gold set, converted once per version of the converter (a
    cache written by an older converter could hold records that ingest now refuses)."""
    import hashlib

    import evals.squad
    from evals.squad import convert

    converter = hashlib.sha256(Path(evals.squad.__file__).read_bytes()).hexdigest()[:12]
    out = PROJECT_ROOT / "bench" / ".cache" / f"squad-{converter}"
    corpus = out / "squad-corpus.jsonl"
    if not corpus.exists():
        convert(DATA / "corpora" / "squad-v2-dev" / "squad-v2-dev-part-a.json", out)
    return corpus


def table(r: dict[str, Any]) -> str:
    lines = []
    if "ingest" in r:
        i = r["ingest"]
        lines += [
            f"ingest: {i['source_mb']} MB, {i['chunks']} chunks",
            f"  despatch ingest (CLI, fresh store)  {i['despatch_ingest_s']['median']} s  "
            f"({i['chunks_per_s']['median']} chunks/s, {i['mb_per_s']['median']} MB/s)",
            f"  encode only                         {i['encode_only_s']['median']} s",
            f"  overhead ratio                      {i['overhead_ratio']['median']} "
            f"(without start-up and model load: {i['overhead_ratio_excluding_model_load']['median']})",
            f"  warm in-process ingest              {i['despatch_warm_s']['median']} s",
            f"  LangChain pipeline                  {i['langchain_s']['median']} s  "
            f"-> Despatch {i['speedup_vs_langchain']['median']}x its MB/s",
            f"  re-ingest unchanged                 {i['reingest_s']['median']} s  "
            f"-> {i['reingest_speedup']['median']}x faster",
        ]
    if "startup" in r:
        s = r["startup"]
        lines.append(
            f"start-up (fresh process, median): docs {s['docs_s']['median']} s, unchanged re-ingest "
            f"{s['reingest_unchanged_s']['median']} s, "
            f"ask to first answer {s['ask_first_answer_s']['median']} s"
        )
    for lat in r.get("latency", {}).values():
        st = lat["stages_ms"]
        lines.append(
            f"latency @ {lat['chunks']} chunks: p50 {st['total']['p50']} ms, p95 {st['total']['p95']} ms  ("
            + ", ".join(
                f"{s} {st[s]['p50']}" for s in ("embed", "dense", "lexical", "fusion", "select", "cite")
            )
            + ")"
        )
    for size, srv in r.get("server", {}).items():
        line = (
            f"server @ {size}: cold start {srv['cold_start_s']} s with the saved view "
            f"({srv.get('cold_start_rebuild_view_s')} s building it), peak RSS {srv['peak_rss_mb']} MB"
        )
        if "load" in srv:
            ld = srv["load"]
            line += (
                f"; {ld['clients']} clients {ld['seconds']} s: {ld['throughput_rps']} req/s, "
                f"p50 {ld['p50_ms']} / p95 {ld['p95_ms']} / p99 {ld['p99_ms']} ms, {ld['errors']} errors"
            )
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
