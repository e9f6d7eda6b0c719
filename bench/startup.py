"""Start-up: wall time of `despatch docs`, an unchanged re-ingest and `despatch ask` (to its
first answer), each a fresh process, over a store of the founding article."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from despatch.settings import DEFAULT_CORPUS

QUESTION = "What target did the Home Office set for voluntary departures in 2015/16?"


def _wall(args: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def run(runs: int = 3) -> dict[str, Any]:
    despatch = str(Path(sys.executable).parent / "despatch")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DESPATCH_STORE": str(Path(tmp) / "store")}
        subprocess.run([despatch, "ingest", str(DEFAULT_CORPUS)], check=True, env=env, capture_output=True)
        commands = {
            "docs_s": [despatch, "docs"],
            "reingest_unchanged_s": [despatch, "ingest", str(DEFAULT_CORPUS)],
            "ask_first_answer_s": [despatch, "ask", QUESTION],
        }
        _wall(commands["ask_first_answer_s"], env)  # the first run warms the OS file cache
        out: dict[str, Any] = {"runs": runs}
        for name, args in commands.items():
            times = [_wall(args, env) for _ in range(runs)]
            out[name] = {"median": round(statistics.median(times), 2), "all": [round(t, 2) for t in times]}
        return out
