"""Cold start of `despatch serve` on a saved view, this tree against an earlier commit, in one
run: ``python -m bench.coldstart --before REF``.

The earlier commit is checked out into a temporary git worktree and served by the same Python
environment (``bench.server.start`` with that folder first on ``PYTHONPATH``; the ONNX and
tiktoken caches are this tree's).
Starts alternate between the two trees so that a noisy neighbour slows them alike. Each start
is timed from the process's launch to its first healthy ``/healthz`` (which comes after the
warm-up answer: questions are answered from then on) and to the chat page's first 200 (built
after the API answers since ``web.late``; at once before), then the chat page and 20 ``/healthz``
calls on one client (a new connection each) are timed.
Results: ``bench/results-coldstart.json``, one key per run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.server import start
from bench.stats import p50_p95
from despatch.settings import PROJECT_ROOT, load_settings

RESULTS = PROJECT_ROOT / "bench" / "results-coldstart.json"


def start_and_probe(tree: Path, store: Path) -> dict[str, Any]:
    """Serve ``store`` with the code of ``tree``; time the start, the chat page and /healthz."""
    import httpx

    settings = load_settings()
    launched = time.perf_counter()
    proc, url, cold = start(
        store,
        PYTHONPATH=str(tree),
        DESPATCH_ONNX_CACHE=str(settings.onnx_cache),
        DESPATCH_TIKTOKEN_CACHE=str(settings.tiktoken_cache),
    )
    try:
        with httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            while (status := client.get(f"{url}/").status_code) == 503:  # the chat still starting
                time.sleep(0.1)
            if status != 200:
                raise RuntimeError(f"the chat page answered {status}")
            chat = time.perf_counter() - launched
            t0 = time.perf_counter()
            client.get(f"{url}/").raise_for_status()
            page = time.perf_counter() - t0
            health = []
            for _ in range(20):
                t0 = time.perf_counter()
                client.get(f"{url}/healthz").raise_for_status()
                health.append((time.perf_counter() - t0) * 1000)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {
        "cold_start_s": round(cold, 2),
        "chat_ready_s": round(chat, 2),
        "chat_page_ms": round(page * 1000, 1),
        "healthz_ms": p50_p95(health),
    }


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import machine
    from bench.latency import CACHE

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    parser.add_argument(
        "--store",
        type=Path,
        default=CACHE / "archive-7-21739" / "store",
        help="a store with a saved view (default: bench.push's 86.7k-chunk archive)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--key", default=None, help="this run's key in --out (others are kept)")
    args = parser.parse_args(argv)
    if not (args.store / "views").is_dir():
        parser.error(f"{args.store} has no saved view: run python -m bench.push --chunks 100000 first")
    rev = subprocess.run(
        ["git", "rev-parse", "--short", args.before],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    runs: dict[str, list[dict[str, Any]]] = {f"before ({rev})": [], "now": []}
    with tempfile.TemporaryDirectory(prefix="despatch-before-") as tmp:
        old = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(old), rev], cwd=PROJECT_ROOT, check=True
        )
        try:
            for n in range(args.rounds):
                for label, tree in zip(runs, (old, PROJECT_ROOT), strict=True):
                    runs[label].append(start_and_probe(tree, args.store))
                    print(
                        f"coldstart: round {n + 1}: {label}: {runs[label][-1]}", file=sys.stderr, flush=True
                    )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=PROJECT_ROOT, check=False)
    result = {
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "store": str(
            args.store.relative_to(PROJECT_ROOT) if args.store.is_relative_to(PROJECT_ROOT) else args.store
        ),
        "runs": runs,
    }
    for label, starts in runs.items():
        result[f"cold_start_s_{label.split(' ')[0]}"] = p50_p95([s["cold_start_s"] for s in starts])
        result[f"chat_ready_s_{label.split(' ')[0]}"] = p50_p95([s["chat_ready_s"] for s in starts])
    everything = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    everything[args.key or f"run_{time.strftime('%Y_%m_%d_%H%M')}"] = result
    args.out.write_text(json.dumps(everything, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
