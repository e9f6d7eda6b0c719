"""The server under load (8 concurrent clients on /api/ask) and its cold start and memory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.stats import percentile


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(store: Path, **env_extra: str) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start `despatch serve` (with ``env_extra`` in its environment) and return (process,
    url, seconds until /healthz answered)."""
    import httpx

    port = free_port()
    env = {**os.environ, "DESPATCH_RATE_LIMIT_PER_MINUTE": "1000000", **env_extra}
    began = time.perf_counter()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "despatch"), "serve", "--port", str(port), "--store", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    # one client (a new connection each time): httpx.get builds a client per call, about 55 ms
    with httpx.Client(timeout=2, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("despatch serve exited during start-up")
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return proc, url, time.perf_counter() - began
            except httpx.HTTPError:
                time.sleep(0.1)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (the kernel's high-water mark), MB."""
    return rss_mb(pid, "VmHWM")


def descendants(pid: int) -> list[int]:
    """The pids of ``pid``'s child processes and theirs (Linux ``/proc``)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def cpu_s(pid: int, tree: bool = True) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and (``tree``) its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *(descendants(pid) if tree else [])]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


class MemoryWatch:
    """Samples the resident memory of a process and, apart, of its descendants (worker
    processes) every ``every`` seconds; ``peaks()`` gives the highest of each, MB."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        import threading

        self.pid = pid
        self.every = every
        self.server = 0.0
        self.children = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.server = max(self.server, rss_mb(self.pid))
            kids = 0.0
            for k in descendants(self.pid):
                try:
                    kids += rss_mb(k)
                except OSError:
                    continue
            self.children = max(self.children, kids)
            self._stop.wait(self.every)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peaks(self) -> dict[str, float]:
        return {"server_rss_mb_peak": self.server, "workers_rss_mb_peak": round(self.children, 1)}


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory figure of ``/proc/PID/status`` (``VmRSS``: resident now), MB, one decimal."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def _load(url: str, questions: list[str], clients: int, seconds: float) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        i = offset
        async with httpx.AsyncClient(timeout=30) as client:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    resp = await client.post(
                        f"{url}/api/ask", json={"question": questions[i % len(questions)]}
                    )
                    if resp.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - began) * 1000)
                i += clients

    began = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    wall = time.perf_counter() - began
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(latencies),
        "errors": errors,
        "throughput_rps": round(len(latencies) / wall, 2),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


def measure(
    store: Path, questions: list[str], clients: int = 8, seconds: float = 30.0, load: bool = True
) -> dict[str, Any]:
    """Cold start twice: with no saved retrieval view (built from the store, then saved), then
    with the saved view; then the load test and peak memory on the second server."""
    import shutil

    shutil.rmtree(store / "views", ignore_errors=True)
    proc, _, rebuild = start(store)
    proc.terminate()
    proc.wait(timeout=30)
    proc, url, cold = start(store)
    try:
        result: dict[str, Any] = {
            "cold_start_rebuild_view_s": round(rebuild, 2),
            "cold_start_s": round(cold, 2),
            "rss_after_start_mb": peak_rss_mb(proc.pid),
        }
        if load:
            result["load"] = asyncio.run(_load(url, questions, clients, min(seconds, 60.0)))
        result["peak_rss_mb"] = peak_rss_mb(proc.pid)
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=30)
