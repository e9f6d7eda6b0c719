"""From nothing to a serving chat: clone the repository into a temporary folder, run
``./scripts/run.sh`` there (create .venv, install the app, index the founding article, serve) and
time it until ``/healthz`` answers and the first question is answered.

python -m bench.fresh [--out bench/results-fresh.json]

Packages come from the registries (and pip's cache, when this machine has one): the figure is for
this machine as it is, which the results file records.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.server import free_port
from despatch.settings import PROJECT_ROOT

QUESTION = "What target did the Home Office set for voluntary departures in 2015/16?"


def run(timeout_s: float = 900.0) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="despatch-fresh-"))
    try:
        subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(folder / "repo")], check=True)
        repo = folder / "repo"
        port = free_port()
        began = time.perf_counter()
        proc = subprocess.Popen(
            ["./scripts/run.sh", "--port", str(port)],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith(("DESPATCH_", "VIRTUAL_ENV"))},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"./scripts/run.sh exited with {proc.returncode}")
                if time.perf_counter() - began > timeout_s:
                    raise RuntimeError("no healthy server in time")
                try:
                    with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    time.sleep(1)
            healthy = time.perf_counter() - began
            req = urllib.request.Request(
                f"{url}/api/ask",
                data=json.dumps({"question": QUESTION}).encode(),
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=60) as resp:
                answer = json.loads(resp.read())
            answered = time.perf_counter() - began
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        pip_cache = Path.home() / ".cache" / "pip"
        return {
            "healthy_s": round(healthy, 1),
            "first_answer_s": round(answered, 1),
            "answer_cites": len(answer.get("citations", [])),
            "pip_cache_present": pip_cache.exists(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results-fresh.json")
    args = parser.parse_args(argv)
    result = run()
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
