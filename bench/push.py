"""A CMS push under reader traffic, against a real `despatch serve` on loopback.

python -m bench.push [--chunks 10000] [--readers 2] [--steady 20] [--out bench/results-push.json]

The server answers from the synthetic archive (``bench.latency.archive_store``) at about
``--chunks`` chunks. Reader threads ask open questions without pause the whole time. Measured,
in one run:
- the readers' steady latency (p50/p95) before any push;
- one PUT of a new story: how long the PUT took, how long after it returned the story's own
  question (scoped to the story, as the widget asks it) was first answered with its fact, and
  the readers' latency while the push was being taken in (from the PUT to 5 s after it);
- three PUTs 10 s apart: each one's time to answerable;
- a burst of ``--burst`` PUTs in a row (200): their status codes, the readers' latency during
  it, how long after it the last story was answerable, and the RSS before and after;
- one story of ``--big-mb`` MB (5), queued with ``Prefer: respond-async`` and polled until done,
  with a small story PUT 2 s into it: how long until each was answered, and the readers'
  latency while the big one was taken in (the server's and its workers' memory sampled apart);
- ``/healthz`` latency; the server's RSS before and after; how its views were updated;
- throughput: ``--throughput`` seconds (15) of one client, then of four, without the readers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.server import MemoryWatch, cpu_s, rss_mb, start
from bench.stats import p50_p95
from despatch.settings import PROJECT_ROOT

TOKEN = "bench-admin-token-0123456789abcdef"
OPEN = [
    "What target did the Home Office set for voluntary departures in 2015/16?",
    "What did Damian Green say about the immigration cap?",
    "Who assured Rudd of total support?",
    "What was the cap on non-EU workers?",
]


def story(n: int) -> tuple[str, str, str]:
    """A new story's text, the question only it answers, and its fact."""
    fact = f"{130 + n} berths"
    text = (
        f"The harbour board of Port Quillon {n} voted to limit the night ferry to {fact}. "
        f"Its chair said the limit on the Quillon {n} crossing would be reviewed next spring."
    )
    return text, f"How many berths may the Port Quillon {n} night ferry carry?", fact


class Readers:
    """Threads asking open questions back to back; each answer's (start, seconds, status)."""

    def __init__(self, url: str, n: int) -> None:
        self.url = url
        self.log: list[tuple[float, float, int]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]

    def _run(self, i: int) -> None:
        import httpx

        with httpx.Client(base_url=self.url, timeout=600) as client:
            k = i
            while not self._stop.is_set():
                began = time.monotonic()
                r = client.post("/api/ask", json={"question": OPEN[k % len(OPEN)]})
                self.log.append((began, time.monotonic() - began, r.status_code))
                k += 1

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=600)

    def between(self, t0: float, t1: float) -> dict[str, Any]:
        got = [s * 1000 for b, s, _ in self.log if t0 <= b < t1]
        errors = sum(1 for b, _, code in self.log if t0 <= b < t1 and code != 200)
        return {"answers": len(got), "errors": errors, "ms": p50_p95(got) if got else None}


def push(url: str, n: int, wait: bool = True, padding: str = "") -> dict[str, Any]:
    """PUT story ``n`` (``padding`` appended to its text); then, with ``wait``, ask its
    question, scoped to it, until it is answered."""
    import httpx

    text, question, fact = story(n)
    doc_id = f"bench-push-{n}-{int(time.time())}"
    body = {"title": f"Port Quillon {n} limits its night ferry", "text": text + padding, "date": "2026-12-01"}
    began = time.monotonic()
    r = httpx.put(
        f"{url}/api/documents/{doc_id}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=1200
    )
    returned = time.monotonic()
    out: dict[str, Any] = {"put_status": r.status_code, "put_s": round(returned - began, 3)}
    out["t"] = (began, returned)
    if wait:
        out["answerable_after_put_s"] = answerable(url, doc_id, question, fact, returned)
    return out


def answerable(url: str, doc_id: str, question: str, fact: str, since: float) -> float | None:
    """Seconds from ``since`` until the story's question, scoped to it, is answered with its fact."""
    import httpx

    while time.monotonic() - since < 300:
        a = httpx.post(
            f"{url}/api/ask", json={"question": question, "scope": {"doc_ids": [doc_id]}}, timeout=600
        ).json()
        if fact in a.get("answer", ""):
            return round(time.monotonic() - since, 3)
        time.sleep(0.1)
    return None


def big_padding(mb: float) -> str:
    """About ``mb`` MB of varied news prose (each paragraph numbered, so chunks differ)."""
    para = (
        "Paragraph {n}. The council's transport committee heard evidence from {n} residents about the "
        "ferry timetable, the cost of season tickets and the state of the harbour wall. Officers said "
        "the figures for quarter {q} would be published with the annual accounts."
    )
    out, size, n = [], 0, 0
    while size < mb * 1_000_000:
        n += 1
        out.append(para.format(n=n, q=n % 4 + 1))
        size += len(out[-1]) + 2
    return "\n\n" + "\n\n".join(out)


def burst(url: str, crowd: Readers, n: int, pid: int) -> dict[str, Any]:
    """``n`` PUTs in a row from one client, then how long until the last one is answerable."""
    import httpx

    rss0 = rss_mb(pid)
    codes: dict[str, int] = {}
    t0 = time.monotonic()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with MemoryWatch(pid) as memory, httpx.Client(base_url=url, timeout=600, headers=auth) as client:
        for i in range(n):
            text, question, fact = story(1000 + i)
            doc_id = f"bench-burst-{i}-{int(time.time())}"
            body = {"title": f"Port Quillon {1000 + i}", "text": text, "date": "2026-12-01"}
            code = client.put(f"/api/documents/{doc_id}", json=body).status_code
            codes[str(code)] = codes.get(str(code), 0) + 1
    t1 = time.monotonic()
    after = answerable(url, doc_id, question, fact, t1)
    time.sleep(5)
    return {
        "puts": n,
        "status_codes": codes,
        "seconds": round(t1 - t0, 2),
        "last_answerable_after_burst_s": after,
        "readers_during": crowd.between(t0, t1),
        "readers_5s_after": crowd.between(t1, t1 + 5),
        "rss_mb_before": rss0,
        "rss_mb_after": rss_mb(pid),
        **memory.peaks(),
    }


def big_story(url: str, crowd: Readers, mb: float, pid: int, limit_s: float = 2400) -> dict[str, Any]:
    """A story of ``mb`` MB, queued (``Prefer: respond-async``, as docs/embedding.md advises for
    long stories) and polled until it is answered from (at most ``limit_s``), and a small story
    PUT 2 s after it (must not be held behind it)."""
    import httpx

    text, question, fact = story(5000)
    doc_id = f"bench-big-{int(time.time())}"
    body = {
        "title": "Port Quillon 5000 limits its night ferry",
        "text": text + big_padding(mb),
        "date": "2026-12-01",
    }
    auth = {"Authorization": f"Bearer {TOKEN}"}
    out: dict[str, Any] = {"mb": mb}
    with MemoryWatch(pid) as memory:
        began = time.monotonic()
        r = httpx.put(
            f"{url}/api/documents/{doc_id}",
            json=body,
            headers={**auth, "Prefer": "respond-async"},
            timeout=600,
        )
        out["big_put"] = {"put_status": r.status_code, "put_s": round(time.monotonic() - began, 3)}
        time.sleep(2)
        small = push(url, 5001)
        small.pop("t")
        out["small_put_during_big"] = small
        state: dict[str, Any] = {"status": "not queued"}
        while r.status_code == 202 and time.monotonic() - began < limit_s:
            state = httpx.get(url + r.headers["location"], headers=auth, timeout=60).json()
            if state["status"] not in ("queued", "preparing"):
                break
            time.sleep(1)
        done = time.monotonic()
        out["big_job"] = {**state, "seconds_to_done": round(done - began, 1)}
        out["big_answerable_after_done_s"] = answerable(url, doc_id, question, fact, done)
    out["readers_during_big"] = crowd.between(began, done)
    return {**out, **memory.peaks()}


def throughput(url: str, seconds: float, pid: int) -> dict[str, Any]:
    """Answers per second of one client and of four, asking back to back, with the cores the
    server and this client process kept busy meanwhile (CPU seconds per second: at 2 cores
    the machine's ceiling is 2.0 for both together)."""
    out: dict[str, Any] = {}
    for clients in (1, 4):
        crowd = Readers(url, clients)
        server0, client0 = cpu_s(pid), cpu_s(os.getpid(), tree=False)
        t0 = time.monotonic()
        crowd.start()
        time.sleep(seconds)
        crowd.stop()
        t1 = time.monotonic()
        busy = {
            "server_cores": round((cpu_s(pid) - server0) / (t1 - t0), 2),
            "client_cores": round((cpu_s(os.getpid(), tree=False) - client0) / (t1 - t0), 2),
        }
        got = crowd.between(t0, t1)
        out[f"{clients}_clients"] = {**got, "answers_per_s": round(got["answers"] / (t1 - t0), 2), **busy}
    one, four = out["1_clients"]["answers_per_s"], out["4_clients"]["answers_per_s"]
    out["ratio_4_to_1"] = round(four / one, 2) if one else None
    return out


def run(
    chunks: int, readers: int, steady: float, bursts: int = 200, big_mb: float = 5.0, seconds: float = 15.0
) -> dict[str, Any]:
    from bench.latency import archive_store
    from bot.assembly import assemble
    from despatch.settings import load_settings

    real = assemble(load_settings()).embedder
    cached, _ = archive_store(chunks, real)
    # A saved view beside the archive (made once, unmeasured): the server's cold start loads it.
    assemble(cached, embedder=real).retriever.view()
    # Pushed into a copy: every run starts from the same archive.
    work = Path(tempfile.mkdtemp(prefix="despatch-push-"))
    shutil.copytree(cached.store, work / "store")
    settings = cached.model_copy(update={"store": work / "store"})
    size = assemble(settings).store.count_chunks()
    proc, url, start_s = start(settings.store, DESPATCH_ADMIN_TOKEN=TOKEN)
    result: dict[str, Any] = {"chunks": size, "readers": readers, "cold_start_s": round(start_s, 2)}
    try:
        _phases(result, url, proc.pid, readers, steady, bursts, big_mb, seconds)
    except Exception as exc:  # keep what was measured before it
        result["failed"] = f"{type(exc).__name__}: {exc}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    return result


def _phases(
    result: dict[str, Any],
    url: str,
    pid: int,
    readers: int,
    steady: float,
    bursts: int,
    big_mb: float,
    seconds: float,
) -> None:
    """Every phase in turn, each adding its figures to ``result`` as it ends."""
    import httpx

    for q in OPEN:  # warm-up, unmeasured
        httpx.post(f"{url}/api/ask", json={"question": q}, timeout=600)
    result["rss_mb_before"] = rss_mb(pid)
    crowd = Readers(url, readers)
    crowd.start()
    try:
        t0 = time.monotonic()
        time.sleep(steady)
        result["steady"] = crowd.between(t0, time.monotonic())
        one = push(url, 1)
        p0, p1 = one.pop("t")
        result["one_push"] = one
        time.sleep(max(0.0, p1 + 5 - time.monotonic()))
        result["during_push"] = crowd.between(p0, p1 + 5)
        three = []
        for n in (2, 3, 4):
            r = push(url, n)
            r.pop("t")
            three.append(r)
            time.sleep(10)
        result["three_pushes_10s_apart"] = three
        if bursts:
            result["burst"] = burst(url, crowd, bursts, pid)
        if big_mb:
            result["big_story"] = big_story(url, crowd, big_mb, pid)
        health = []
        # One client, a new connection each time (as a load balancer's probe connects): not
        # httpx.get, whose own client set-up (TLS context included) took about 55 ms a call.
        with httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as probe:
            for _ in range(20):
                h0 = time.monotonic()
                health_json = probe.get(f"{url}/healthz").json()
                health.append((time.monotonic() - h0) * 1000)
        result["healthz_ms"] = p50_p95(health)
        result["view_updates"] = health_json.get("view_updates")
    finally:
        crowd.stop()
        result["all_readers"] = crowd.between(0, time.monotonic())
    result["rss_mb_after"] = rss_mb(pid)
    result["rss_mb_peak"] = rss_mb(pid, "VmHWM")
    if seconds:
        result["throughput"] = throughput(url, seconds, pid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--steady", type=float, default=20.0, help="seconds of readers before the first push")
    parser.add_argument("--burst", type=int, default=200, help="PUTs in a row (0: skip)")
    parser.add_argument("--big-mb", type=float, default=5.0, help="size of the big story, MB (0: skip)")
    parser.add_argument("--throughput", type=float, default=15.0, help="seconds per client count (0: skip)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results-push.json")
    parser.add_argument(
        "--key", default=None, help="key of this run in --out (default run_DATE_N_chunks); others are kept"
    )
    args = parser.parse_args(argv)
    from bot.assembly import offline
    from despatch.settings import load_settings

    offline(load_settings())
    result = run(args.chunks, args.readers, args.steady, args.burst, args.big_mb, args.throughput)
    result["machine"] = {"cpus": os.cpu_count(), "note": "one run; shared machine: compare ratios"}
    print(json.dumps(result, indent=1))
    key = args.key or f"run_{time.strftime('%Y_%m_%d')}_{result['chunks']}_chunks"
    runs = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    runs[key] = result
    args.out.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    print(f"written to {args.out} as {key!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
