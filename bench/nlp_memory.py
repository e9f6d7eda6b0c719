"""The entity recogniser's memory on a long story, batched as before and as now:
``python -m bench.nlp_memory [--mb 1]``.

Each way runs in a fresh process (so its peak is its own): the pipeline is loaded and warmed,
then ``--mb`` MB of news prose (``bench.push.big_padding``) is cut into regions and annotated.
- ``before``: regions of 100,000 characters, read 64 texts to a batch (spaCy's ``pipe`` as
  ``index.nlp.entities`` called it before);
- ``now``: regions of ``index.ingest._REGION_CHARS`` characters through ``index.nlp.entities``
  (batches of about ``BATCH_CHARS`` characters).
Reported: the peak resident memory above the warmed pipeline's (``VmHWM`` - ``VmRSS`` before),
seconds, and the entities found. Results: ``bench/results-nlp-memory.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from despatch.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results-nlp-memory.json"


def one(way: str, mb: float) -> dict[str, Any]:
    """Annotate ``mb`` MB the ``way`` given, in this process."""
    import os

    from bench.push import big_padding
    from bench.server import rss_mb
    from bot.assembly import offline
    from despatch.settings import load_settings
    from index import ingest, nlp

    offline(load_settings())
    nlp.entities(["Theresa May met Amber Rudd in London on 26 April."])  # load and warm
    text = big_padding(mb)
    region = 100_000 if way == "before" else ingest._REGION_CHARS
    regions = [text[i : i + region] for i in range(0, len(text), region)]
    base = rss_mb(os.getpid())
    began = time.perf_counter()
    if way == "before":
        pipe = nlp.pipeline().pipe(regions, batch_size=64, disable=list(nlp._NER_ONLY))
        found = sum(len(doc.ents) for doc in pipe)
    else:
        found = sum(len(e) for e in nlp.entities(regions))
    return {
        "regions": len(regions),
        "region_chars": region,
        "seconds": round(time.perf_counter() - began, 1),
        "peak_mb_above_warm": round(rss_mb(os.getpid(), "VmHWM") - base, 1),
        "entities": found,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--one", choices=("before", "now"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.mb)))
        return 0
    result: dict[str, Any] = {"mb": args.mb}
    for way in ("before", "now"):
        out = subprocess.run(
            [sys.executable, "-m", "bench.nlp_memory", "--one", way, "--mb", str(args.mb)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        result[way] = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
