"""Embedding backends side by side: archive-scale ingest against LangChain, the pipeline's overhead
over each backend's own encode, question embedding, and SQuAD retrieval quality per backend.

python -m bench.backends                    # 2,100-document archive (>= 5 MB), writes results-backends.json
python -m bench.backends --documents 50 --skip quality --out /tmp/r.json   # a quick proof
python -m bench.backends --batch-sweep      # encode time per batch size, writes results-batch.json
python -m bench.backends --gold             # gold-set evals per backend: results-backends-gold.json

Each pipeline runs in its own fresh process (so its peak memory is its own), one after the
other on the same archive files, in one run: LangChain first, then Despatch with each backend.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.archive import cached_archive
from despatch.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results-backends.json"
BATCH_RESULTS = PROJECT_ROOT / "bench" / "results-batch.json"
GOLD_RESULTS = PROJECT_ROOT / "bench" / "results-backends-gold.json"
# The gold sets the answerer may be compared on (not the held-out set, which is scored once).
GOLD_SETS = ("founding", "hansard", "dev", "parlparse")
SWEEP = (8, 16, 32, 64)
BACKENDS = ("torch", "onnx", "onnx-int8")


def _peak_mb() -> float:
    from bench.server import peak_rss_mb

    return peak_rss_mb(os.getpid())


def despatch_child(
    backend: str, files: list[Path], store: Path, n_questions: int, batch_size: int
) -> dict[str, Any]:
    """In this (fresh) process: warm the backend, time ingest, then its own encode of the same
    chunk texts, then question embedding; peak memory last."""
    import statistics

    import numpy as np

    from bench.ingest import chunk_texts
    from bench.latency import questions
    from bot.assembly import assemble
    from despatch.settings import load_settings

    settings = load_settings(store=store, embed_backend=backend, batch_size=batch_size)
    parts = assemble(settings, create=True)
    began = time.perf_counter()
    parts.embedder.embed(["warm-up"])  # model load, as LangChain's is, outside the timing
    load_s = time.perf_counter() - began
    began = time.perf_counter()
    summary = parts.indexer().ingest(files)
    wall = time.perf_counter() - began
    texts = chunk_texts(store)
    began = time.perf_counter()
    vectors = np.asarray(parts.embedder.embed(texts))
    encode = time.perf_counter() - began
    qs = questions(n_questions)
    for q in qs[:5]:
        parts.embedder.embed([q])
    times = []
    for q in qs:
        began = time.perf_counter()
        parts.embedder.embed([q])
        times.append((time.perf_counter() - began) * 1000)
    return {
        "backend": backend,
        "wall_s": round(wall, 2),
        "chunks": summary.chunks_written,
        "failed": summary.failed,
        "model_load_s": round(load_s, 2),
        "encode_only_s": round(encode, 2),
        "encoded_chunks": int(vectors.shape[0]),
        "overhead_ratio": round(wall / encode, 3),
        "question_embed_ms": {
            "p50": round(statistics.median(times), 2),
            "p95": round(sorted(times)[int(0.95 * (len(times) - 1))], 2),
            "questions": len(times),
        },
        "peak_rss_mb": _peak_mb(),
    }


def langchain_child(files: list[Path], folder: Path, batch_size: int) -> dict[str, Any]:
    from bench.ingest import langchain_ingest

    wall, chunks = langchain_ingest(files, folder, batch_size)
    return {"wall_s": round(wall, 2), "chunks": chunks, "peak_rss_mb": _peak_mb()}


def sweep_child(backend: str, files: list[Path], documents: int, repeats: int = 2) -> dict[str, Any]:
    """In this (fresh) process: the chunk texts of the first ``documents`` archive documents,
    encoded by ``backend`` at each batch size of ``SWEEP`` in turn, ``repeats`` rounds; the
    least seconds per batch size (the round least disturbed by the rest of the machine)."""
    from bot.assembly import assemble
    from despatch.settings import load_settings
    from index.reading import read_file

    texts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="despatch-sweep-") as tmp:
        settings = load_settings(embed_backend=backend, store=Path(tmp) / "store")
        indexer = assemble(settings, create=True).indexer()  # chunks as ingest does; writes nothing
        docs = [d for f in files for d in read_file(f, 10**9)][:documents]
        for doc in docs:
            texts += [c.embedding_text() for c in indexer.chunk(doc)]
    embedders = {b: assemble(load_settings(embed_backend=backend, batch_size=b)).embedder for b in SWEEP}
    for embedder in embedders.values():
        embedder.embed(texts[:16])
    seconds: dict[int, list[float]] = {b: [] for b in SWEEP}
    for _ in range(repeats):
        for b, embedder in embedders.items():
            began = time.perf_counter()
            embedder.embed(texts)
            seconds[b].append(time.perf_counter() - began)
    return {"chunks": len(texts), "seconds": {str(b): round(min(t), 2) for b, t in seconds.items()}}


def batch_sweep(documents: int) -> dict[str, Any]:
    """Each backend's encode time of the same chunks at each batch size, one process each."""
    from bench.__main__ import machine

    names = [str(f) for f in cached_archive(2100)]
    results: dict[str, Any] = {"machine": machine(), "documents": documents, "backends": {}}
    for backend in BACKENDS:
        print(f"Batch sizes, {backend}…", flush=True)
        results["backends"][backend] = _spawn(
            ["--child", f"sweep:{backend}", "--documents", str(documents), *names]
        )
    return results


def gold(backends: tuple[str, ...] = BACKENDS) -> dict[str, Any]:
    """``despatch eval`` of ``GOLD_SETS`` with each backend (fresh store each), and the largest
    difference of each backend's scores from torch's (latency left out)."""
    from bench.__main__ import machine

    exe = Path(sys.executable).parent / "despatch"
    sets = [str(PROJECT_ROOT / "evals" / "gold" / f"{name}.jsonl") for name in GOLD_SETS]
    out: dict[str, Any] = {"machine": machine(), "sets": list(GOLD_SETS), "backends": {}}
    for backend in backends:
        print(f"Gold sets, {backend}…", flush=True)
        with tempfile.TemporaryDirectory(prefix="despatch-gold-") as tmp:
            env = {**os.environ, "DESPATCH_EMBED_BACKEND": backend}
            args = [str(exe), "eval", "--gold", *sets, "--store", f"{tmp}/store", "--out", f"{tmp}/out"]
            done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
            if done.returncode not in (0, 1):  # 1: a threshold breached, still a report
                raise RuntimeError(f"despatch eval with {backend} failed:\n{done.stderr[-3000:]}")
            report = json.loads(Path(tmp, "out", "report.json").read_text(encoding="utf-8"))
        out["backends"][backend] = {
            "passed": report["passed"],
            "sets": {
                Path(s["gold"]).stem: {k: v for k, v in s["metrics"].items() if "latency" not in k}
                for s in report["sets"]
            },
        }
    ref = out["backends"].get("torch")
    for got in out["backends"].values() if ref else ():
        got["max_abs_delta_vs_torch"] = round(
            max(
                abs(float(v) - float(ref["sets"][name][k]))
                for name, metrics in got["sets"].items()
                for k, v in metrics.items()
                if isinstance(v, int | float) and not isinstance(v, bool) and k != "cases"
            ),
            4,
        )
    return out


def _spawn(args: list[str]) -> dict[str, Any]:
    from bench.children import spawn

    return spawn("bench.backends", args)


def quality(backends: tuple[str, ...], k: int = 5) -> dict[str, Any]:
    """SQuAD 2.0 dev part A open retrieval (1,278 answerable questions over 294 paragraphs),
    recall@k and MRR by mode, with each backend's vectors in its own fresh store."""
    from bench.__main__ import _squad_corpus
    from despatch.settings import load_settings
    from evals.gold import load_gold
    from evals.retrieval import compare
    from evals.runner import build_bot

    corpus = _squad_corpus()
    cases = load_gold(corpus.parent / "squad.jsonl")
    out: dict[str, Any] = {}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="despatch-quality-") as tmp:
            settings = load_settings(store=Path(tmp) / "store", embed_backend=backend)
            bot = build_bot(settings, [corpus])
            out[backend] = compare(bot, cases, k)
    ref = out.get("torch")
    if ref:
        deltas = {
            backend: round(
                max(
                    abs(out[backend][mode][m] - ref[mode][m]) for mode in ref for m in (f"recall@{k}", "mrr")
                ),
                4,
            )
            for backend in backends
        }
        for backend, delta in deltas.items():
            out[backend]["max_abs_delta_vs_torch"] = delta
    return out


def run(
    documents: int,
    n_questions: int,
    batch_size: int,
    skip: set[str],
    save: Any = None,
    quality_backends: tuple[str, ...] = BACKENDS,
) -> dict[str, Any]:
    """Every section in turn; ``save(results)`` after each, so a long run never loses what it
    measured."""
    from bench.__main__ import machine
    from bench.ingest import source_bytes

    files = cached_archive(documents)
    mb = source_bytes(files) / 1e6
    results: dict[str, Any] = {
        "machine": machine(),
        "archive": {
            "documents": documents,
            "files": [str(f.relative_to(PROJECT_ROOT)) for f in files],
            "source_mb": round(mb, 3),
        },
        "batch_size": batch_size,
    }
    with tempfile.TemporaryDirectory(prefix="despatch-backends-") as tmp:
        names = [str(f) for f in files]
        if "langchain" not in skip:
            print("LangChain pipeline…", flush=True)
            lc = _spawn(["--child", "langchain", "--folder", f"{tmp}/lc", "--batch", str(batch_size), *names])
            lc["mb_per_s"] = round(mb / lc["wall_s"], 4)
            results["langchain"] = lc
            if save:
                save(results)
        results["despatch"] = {}
        for backend in BACKENDS:
            if backend in skip:
                continue
            print(f"Despatch, {backend}…", flush=True)
            got = _spawn(
                [
                    *("--child", backend, "--folder", f"{tmp}/{backend}"),
                    *("--questions", str(n_questions), "--batch", str(batch_size), *names),
                ]
            )
            got["mb_per_s"] = round(mb / got["wall_s"], 4)
            if "langchain" in results:
                got["wall_vs_langchain"] = round(got["wall_s"] / results["langchain"]["wall_s"], 3)
            results["despatch"][backend] = got
            if save:
                save(results)
    if "quality" not in skip:
        print("SQuAD retrieval per backend…", flush=True)
        results["quality"] = quality(quality_backends)
    return results


def markdown(r: dict[str, Any]) -> str:
    """The tables of docs/benchmarks.md, from a results file."""
    a = r["archive"]
    lines = [
        f"Archive: {a['documents']:,} documents, {a['source_mb']} MB; batch {r['batch_size']}.",
        "",
        "| pipeline | wall s | chunks | MB/s | wall / LangChain's | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    if "langchain" in r:
        lc = r["langchain"]
        lines.append(
            f"| LangChain (torch) | {lc['wall_s']} | {lc['chunks']:,} | {lc['mb_per_s']} | 1 "
            f"| {lc['peak_rss_mb']:,} |"
        )
    for name, d in r.get("despatch", {}).items():
        lines.append(
            f"| Despatch, `{name}` | {d['wall_s']} | {d['chunks']:,} | {d['mb_per_s']} | "
            f"{d.get('wall_vs_langchain', '')} | {d['peak_rss_mb']:,} |"
        )
    lines += [
        "",
        "| backend | ingest wall s | own encode of the same chunks s | overhead ratio | chunks/s encode only "
        "| question embedding p50 / p95 ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, d in r.get("despatch", {}).items():
        q = d["question_embed_ms"]
        lines.append(
            f"| `{name}` | {d['wall_s']} | {d['encode_only_s']} | {d['overhead_ratio']} | "
            f"{round(d['encoded_chunks'] / d['encode_only_s'], 1)} | {q['p50']} / {q['p95']} |"
        )
    if "quality" in r:
        lines += [
            "",
            "| backend | dense recall@5 / MRR | BM25 recall@5 / MRR | hybrid recall@5 / MRR | "
            "largest difference from torch |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, q in r["quality"].items():
            cells = [f"{q[m]['recall@5']:.4f} / {q[m]['mrr']:.4f}" for m in ("dense", "lexical", "hybrid")]
            lines.append(f"| `{name}` | {' | '.join(cells)} | {q.get('max_abs_delta_vs_torch', '')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=2100)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument(
        "--batch", type=int, help="LangChain's batch size (default: Despatch's, Settings.batch_size)"
    )
    parser.add_argument("--batch-sweep", action="store_true", help="time encode per batch size and exit")
    parser.add_argument("--gold", action="store_true", help="the gold-set evals per backend, and exit")
    parser.add_argument("--sweep-documents", type=int, default=300, help="documents --batch-sweep encodes")
    parser.add_argument("--skip", default="", help="comma-separated: langchain,torch,onnx,onnx-int8,quality")
    parser.add_argument("--out", type=Path, help="results file (default: the mode's bench/results-*.json)")
    parser.add_argument(
        "--quality-backends", default=",".join(BACKENDS), help="backends the SQuAD eval compares"
    )
    parser.add_argument("--markdown", action="store_true", help="print the tables of --out and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads((args.out or RESULTS).read_text(encoding="utf-8"))))
        return 0

    from bot.assembly import offline
    from despatch.settings import load_settings

    settings = offline(load_settings())  # before any model loads
    batch = args.batch or settings.batch_size
    if args.child == "langchain":
        print(json.dumps(langchain_child(args.files, args.folder, batch)))
        return 0
    if args.child and args.child.startswith("sweep:"):
        print(json.dumps(sweep_child(args.child.split(":", 1)[1], args.files, args.documents)))
        return 0
    if args.child:
        print(json.dumps(despatch_child(args.child, args.files, args.folder, args.questions, batch)))
        return 0

    def save(results: dict[str, Any], default: Path = RESULTS) -> None:
        out: Path = args.out or default
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    if args.gold:
        evals = gold(tuple(filter(None, args.quality_backends.split(","))))
        save(evals, GOLD_RESULTS)
        for backend, got in evals["backends"].items():
            print(backend, "passed" if got["passed"] else "breached", got.get("max_abs_delta_vs_torch"))
        return 0
    if args.batch_sweep:
        sweep = batch_sweep(args.sweep_documents)
        save(sweep, BATCH_RESULTS)
        print(json.dumps(sweep["backends"], indent=2))
        return 0
    skip = set(filter(None, args.skip.split(",")))
    compared = tuple(filter(None, args.quality_backends.split(",")))
    results = run(args.documents, args.questions, batch, skip, save, compared)
    save(results)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
