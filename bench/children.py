"""Benchmarks run each measured pipeline in a fresh child process, so that its time and peak
memory are its own."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def spawn(module: str, args: list[str]) -> dict[str, Any]:
    """Run ``python -m module args`` in a fresh process; its last stdout line is JSON. A child that
    fails raises with the end of its error output."""
    out = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))
