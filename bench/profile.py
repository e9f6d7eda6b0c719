"""Where ingest's time goes beyond the model's own encode: each stage timed, with and without the
entity pass, on one seeded archive, each arm in its own fresh process.

python -m bench.profile            # 400 documents, onnx, 3 rounds: bench/results-ingest-profile.json
python -m bench.profile --documents 50 --backend torch --out /tmp/p.json

Each arm runs in a fresh child process:

- ``annotate``: ingest as it runs;
- ``no-annotate``: ingest with the entity pass replaced by one that returns the chunks as they
  are, a counterfactual that only this benchmark runs.

Each child loads the embedding model (and, in ``annotate``, the entity recogniser) before the
clock starts. It then reports ingest's wall time and the time spent inside each stage: reading,
chunking, the entity pass in its own thread, the embedder's calls, and store writes. Last, it
times the backend's own encode of the same chunk texts, and answers real questions over the
store it wrote (``answer_ms``): without the entity pass, the answerer annotates each passage
when it first reads it, so the two arms' answer times show what the pass saves. One more
child times the entity recogniser alone over the same documents' text (as shipped, and with
spaCy's stock blis ops, 3 interleaved runs each), and the encoder alone on one thread, each by
the process's CPU clock. So the CPU that each costs is measured rather than assumed:

- ``encode_scaling``: the encoder's one-thread time over its time on all cores (the cores
  count): how fully the encode alone already uses the machine.
- ``cpu_floor_ratio``: (encode core-seconds + entity core-seconds) / encode core-seconds, from
  the one-thread times. When the encode alone already keeps every core busy, no scheduling of
  the two can bring ingest's overhead ratio below this (reading, chunking and writes not
  counted).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from despatch.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results-ingest-profile.json"


def _timed(stages: dict[str, float], name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - began

    return wrapper


ARMS = ("annotate", "no-annotate")
ENTITY_ROUNDS = 3  # runs of the recogniser alone, as shipped and with spaCy's stock ops
_WARM_UP = "Warm-up text about John Smith in London."  # loads the recogniser before the clock


def ingest_child(backend: str, documents: int, arm: str, batch_size: int, questions: int) -> dict[str, Any]:
    """In this fresh process: ingest the archive with every stage timed, then encode alone, then
    answer ``questions`` questions over the store it wrote."""
    import index.ingest as ingest
    from bench.archive import cached_archive
    from bench.ingest import chunk_texts
    from bot.assembly import assemble
    from despatch.settings import load_settings
    from index.nlp import entities

    files = cached_archive(documents)
    stages: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(store=Path(tmp), embed_backend=backend, batch_size=batch_size)
        parts = assemble(settings, create=True)
        embedder: Any = parts.embedder
        embedder.embed(["warm-up"])  # model load outside the timing, as in bench.backends
        annotate = arm != "no-annotate"
        if annotate:  # and the entity recogniser's load too (bench.backends counts that one)
            entities([_WARM_UP])
        indexer = parts.indexer()
        own_embed = embedder.embed
        ingest.read_file = _timed(stages, "read", ingest.read_file)  # type: ignore[assignment]
        indexer.chunk = _timed(stages, "chunk", indexer.chunk)  # type: ignore[method-assign]
        indexer.store.write_documents = _timed(  # type: ignore[method-assign]
            stages, "write", indexer.store.write_documents
        )
        embedder.embed = _timed(stages, "embed", own_embed)  # type: ignore[method-assign]
        if annotate:
            ingest._annotated = _timed(stages, "annotate", ingest._annotated)  # type: ignore[assignment]
        else:
            ingest._annotated = lambda pending: pending  # type: ignore[assignment]
        began = time.perf_counter()
        summary = indexer.ingest(files)
        wall = time.perf_counter() - began
        timed = dict(stages)  # the encode below is not a stage of ingest
        texts = chunk_texts(Path(tmp))
        began = time.perf_counter()
        own_embed(texts)
        encode = time.perf_counter() - began
        embedder.embed = own_embed  # type: ignore[method-assign]
        answers = answer_latency(parts.bot(), questions)
    return {
        "arm": arm,
        "chunks": summary.chunks_written,
        "wall_s": round(wall, 2),
        "encode_only_s": round(encode, 2),
        "overhead_ratio": round(wall / encode, 3),
        "stages_s": {k: round(v, 2) for k, v in sorted(timed.items())},
        "answer_ms": answers,
    }


def answer_latency(bot: Any, n: int) -> dict[str, Any]:
    """The extractive answer's latency over this arm's store: ``n`` gold-set questions (SQuAD's
    after those run out, as ``bench.latency`` picks them) after 5 unmeasured ones. Passages
    stored without entities are annotated when the answerer first reads them and then cached in
    memory, so in ``no-annotate`` some answers pay for annotation and some (passages already
    read) do not."""
    from bench.latency import timed_answers
    from bench.stats import p50_p95

    rows = timed_answers(bot, n)
    out: dict[str, Any] = {"questions": len(rows)}
    for stage in ("select", "total"):
        times = [r[stage] for r in rows if stage in r]  # an answer may skip a stage (a vote's)
        out[stage] = {"answers": len(times), **p50_p95(times)}
    return out


def cpu_child(backend: str, documents: int, batch_size: int) -> dict[str, Any]:
    """The entity recogniser alone on the archive's text, and the encoder alone on one thread
    over the same chunk texts: the core-seconds each costs, read from the process's CPU clock
    (which counts every thread, so BLAS threads inside the recogniser are counted too).

    The recogniser runs ``ENTITY_ROUNDS`` times as shipped and as many with spaCy's stock ops
    (blis), interleaved; each figure is its median."""
    import statistics

    from thinc.api import NumpyOps

    from bench.archive import cached_archive
    from bot.assembly import assemble
    from despatch.settings import load_settings
    from index.nlp import entities, pipeline
    from index.reading import read_file

    docs = [doc for f in cached_archive(documents) for doc in read_file(f, 10**9)]
    texts = [doc.text for doc in docs]
    entities([_WARM_UP])
    nodes = list(pipeline().get_pipe("ner").model.walk())
    shipped = [node.ops for node in nodes]
    stock = NumpyOps()  # spaCy's default: use_blis=True
    times: dict[str, list[tuple[float, float]]] = {"shipped": [], "blis": []}
    try:
        for _ in range(ENTITY_ROUNDS):
            for arm, runs in times.items():
                for node, own in zip(nodes, shipped, strict=True):
                    node.ops = own if arm == "shipped" else stock
                began, cpu_began = time.perf_counter(), time.process_time()
                entities(texts)
                runs.append((time.perf_counter() - began, time.process_time() - cpu_began))
    finally:
        for node, own in zip(nodes, shipped, strict=True):
            node.ops = own
    ner = statistics.median(wall for wall, _ in times["shipped"])
    ner_cpu = statistics.median(cpu for _, cpu in times["shipped"])
    blis_cpu = statistics.median(cpu for _, cpu in times["blis"])
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(store=Path(tmp), embed_backend=backend, batch_size=batch_size)
        parts = assemble(settings, create=True)
        # what ingest embeds, from chunking alone (no second ingest)
        indexer = parts.indexer()
        chunks = [c.embedding_text() for doc in docs for c in indexer.chunk(doc)]
    embedder: Any = parts.embedder
    if backend.startswith("onnx"):  # a new embedder, whose sessions run on one thread
        embedder = assemble(settings.model_copy(update={"embed_threads": 1})).embedder
    else:
        import torch

        torch.set_num_threads(1)
    embedder.embed(["warm-up"])
    began, cpu_began = time.perf_counter(), time.process_time()
    embedder.embed(chunks)
    one_thread, one_thread_cpu = time.perf_counter() - began, time.process_time() - cpu_began
    return {
        "entities_wall_s": round(ner, 2),
        "entities_cpu_s": round(ner_cpu, 2),
        "entities_blis_cpu_s": round(blis_cpu, 2),
        "entities_cpu_runs_s": {arm: [round(cpu, 2) for _, cpu in runs] for arm, runs in times.items()},
        "encode_one_thread_s": round(one_thread, 2),
        "encode_one_thread_cpu_s": round(one_thread_cpu, 2),
        "characters": sum(len(t) for t in texts),
        "chunks": len(chunks),
    }


def run(
    backend: str, documents: int, batch_size: int, repeats: int = 1, questions: int = 60
) -> dict[str, Any]:
    """Every arm ``repeats`` times, interleaved (arm by arm within each round), then the CPU child;
    an arm's figures are its median run's by wall time (the lower middle one for an even count),
    with every wall time listed (``median_wall_s`` is their statistical median)."""
    import statistics

    from bench.children import spawn

    common = ["--backend", backend, "--documents", str(documents), "--batch", str(batch_size)]
    common += ["--questions", str(questions)]
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    for _ in range(repeats):
        for arm in ARMS:
            runs[arm].append(spawn("bench.profile", [*common, "--child", arm]))
    arms = []
    for done in runs.values():
        walls = [r["wall_s"] for r in done]
        median = sorted(done, key=lambda r: r["wall_s"])[(len(done) - 1) // 2]
        arms.append({**median, "walls_s": walls, "median_wall_s": round(statistics.median(walls), 2)})
    cpu = spawn("bench.profile", [*common, "--child", "cpu"])
    cores = os.cpu_count() or 1
    one = cpu["encode_one_thread_cpu_s"]
    floor = (one + cpu["entities_cpu_s"]) / one
    scaling = cpu["encode_one_thread_s"] / min(a["encode_only_s"] for a in arms)
    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": (
            f"python -m bench.profile --backend {backend} --documents {documents} "
            f"--repeats {repeats} --batch {batch_size} --questions {questions}"
        ),
        "repeats": repeats,
        "backend": backend,
        "documents": documents,
        "batch_size": batch_size,
        "cores": cores,
        "arms": arms,
        "cpu": cpu,
        "encode_scaling": round(scaling, 2),
        "cpu_floor_ratio": round(floor, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", default="onnx", choices=("torch", "onnx", "onnx-int8"))
    parser.add_argument("--documents", type=int, default=400)
    parser.add_argument("--batch", type=int, help="batch size (default: Settings.batch_size)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each arm, interleaved")
    parser.add_argument("--questions", type=int, default=60, help="questions answered over each arm's store")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=(*ARMS, "cpu"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from bot.assembly import offline
    from despatch.settings import load_settings

    settings = offline(load_settings())  # before any model loads
    batch = args.batch or settings.batch_size
    if args.child == "cpu":
        print(json.dumps(cpu_child(args.backend, args.documents, batch)))
        return 0
    if args.child:
        print(json.dumps(ingest_child(args.backend, args.documents, args.child, batch, args.questions)))
        return 0
    results = run(args.backend, args.documents, batch, args.repeats, args.questions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
