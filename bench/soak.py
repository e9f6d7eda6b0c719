"""Soak and fault test: 16 clients ask for 5 minutes while another process ingests and removes
documents every few seconds.

python -m bench.soak [--seconds 300] [--clients 16] [--every 3] [--out bench/results-soak.json]

A `despatch serve` process answers from an embedded store of the founding article and the
Hansard transcripts. A writer process (warm, in-process Indexer) adds a new story, updates the
one before it and removes the one before that, every ``--every`` seconds, and logs the text of
every version it commits. Measured: every status code (the target is 0 non-200s), latency, the
server's RSS sampled every 5 s (flat after warm-up), and whether every citation of every answer
quotes a committed version of its document exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.server import rss_mb, start
from bench.stats import percentile
from despatch.settings import DEFAULT_CORPUS, PROJECT_ROOT

HANSARD = PROJECT_ROOT / "data" / "corpora" / "hansard-2010-immigration"
QUESTIONS = [
    "What target did the Home Office set for voluntary departures in 2015/16?",
    "Who assured Rudd of total support?",
    "What did the committee in story {n} conclude about ferry licences?",
    "How many ferry licences does the Zanzibar committee allow?",
    "What did Damian Green say about the immigration cap?",
    "When did Amber Rudd take over as Home Secretary?",
]


def story(n: int, version: int) -> str:
    return (
        f"date 2026-11-{1 + n % 28:02d}\nFerry licences, story {n}\n\n"
        f"The Zanzibar committee in story {n} concluded that ferry licences should be capped at "
        f"{40 + n + version} a year. Its chair said the cap would be reviewed in {2027 + version}.\n"
    )


def writer(store: Path, folder: Path, every: float, seconds: float, log: Path) -> None:
    """Add story n, update story n-1, remove story n-2; log every committed version's text."""
    from bot.assembly import assemble
    from despatch.settings import load_settings

    parts = assemble(load_settings(store=store))
    indexer = parts.indexer()
    deadline = time.monotonic() + seconds
    n = 0
    with log.open("a", encoding="utf-8") as out:

        def commit(path: Path) -> None:
            summary = indexer.ingest([path])
            for d in summary.documents:
                doc = parts.store.document(d["id"])
                if doc is not None:
                    out.write(json.dumps({"id": doc.id, "version": doc.version, "text": doc.text}) + "\n")
            out.flush()

        while time.monotonic() < deadline:
            began = time.monotonic()
            path = folder / f"story-{n}.txt"
            path.write_text(story(n, 0))
            commit(path)
            if n >= 1:
                prev = folder / f"story-{n - 1}.txt"
                prev.write_text(story(n - 1, 1))
                commit(prev)
            if n >= 2:
                old = folder / f"story-{n - 2}.txt"
                doc_id = indexer.ingest([old]).documents[0]["id"]
                parts.store.remove(doc_id)
                old.unlink()
            n += 1
            time.sleep(max(0.0, every - (time.monotonic() - began)))


async def _clients(url: str, clients: int, seconds: float) -> dict[str, Any]:
    import httpx

    deadline = time.perf_counter() + seconds
    codes: dict[int, int] = {}
    latencies: list[float] = []
    answers: list[dict[str, Any]] = []
    errors: list[str] = []

    async def one(k: int) -> None:
        i = k
        async with httpx.AsyncClient(timeout=120) as client:
            while time.perf_counter() < deadline:
                q = QUESTIONS[i % len(QUESTIONS)].format(n=i % 50)
                began = time.perf_counter()
                try:
                    resp = await client.post(f"{url}/api/ask", json={"question": q})
                    codes[resp.status_code] = codes.get(resp.status_code, 0) + 1
                    if resp.status_code == 200:
                        answers.append(resp.json())
                    elif len(errors) < 20:
                        errors.append(f"{resp.status_code} {q!r}: {resp.text[:300]}")
                except httpx.HTTPError:
                    codes[0] = codes.get(0, 0) + 1
                latencies.append((time.perf_counter() - began) * 1000)
                i += clients

    await asyncio.gather(*(one(k) for k in range(clients)))
    return {"codes": codes, "latencies": latencies, "answers": answers, "errors": errors}


def run(seconds: float, clients: int, every: float) -> dict[str, Any]:
    from bot.assembly import assemble
    from despatch.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="despatch-soak-") as tmp:
        root = Path(tmp)
        store = root / "store"
        parts = assemble(load_settings(store=store), create=True)
        parts.indexer().ingest([DEFAULT_CORPUS, HANSARD])
        committed: dict[tuple[str, str], str] = {}
        for d in parts.store.documents():
            full = parts.store.document(d.id)
            assert full is not None
            committed[(d.id, d.version)] = full.text
        os.environ["DESPATCH_RATE_LIMIT_PER_MINUTE"] = "1000000"
        proc, url, cold = start(store)
        stories = root / "stories"
        stories.mkdir()
        log = root / "committed.jsonl"
        write = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.soak",
                "--writer",
                str(store),
                str(stories),
                str(every),
                str(seconds),
                str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        rss: list[tuple[float, float]] = []
        began = time.perf_counter()

        async def sample() -> None:
            while time.perf_counter() - began < seconds:
                rss.append((round(time.perf_counter() - began, 1), rss_mb(proc.pid)))
                await asyncio.sleep(5)

        async def both() -> dict[str, Any]:
            result, _ = await asyncio.gather(_clients(url, clients, seconds), sample())
            return result

        try:
            result = asyncio.run(both())
        finally:
            write.wait(timeout=seconds + 120)
            proc.terminate()
            proc.wait(timeout=30)
        for line in log.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            committed[(row["id"], row["version"])] = row["text"]
        texts_by_id: dict[str, list[str]] = {}
        for (doc_id, _), text in committed.items():
            texts_by_id.setdefault(doc_id, []).append(text)
        bad_citations = 0
        citations = 0
        for answer in result["answers"]:
            for c in answer["citations"] + answer["related"]:
                citations += 1
                if not any(t[c["start"] : c["end"]] == c["quote"] for t in texts_by_id.get(c["doc_id"], [])):
                    bad_citations += 1
        lat = result["latencies"]
        warm = [m for t, m in rss if t >= 60] or [m for _, m in rss]
        writes = sum(1 for _ in log.read_text().splitlines())
        return {
            "seconds": seconds,
            "clients": clients,
            "writer_every_s": every,
            "writer_commits": writes,
            "cold_start_s": round(cold, 2),
            "requests": len(lat),
            "status_codes": {str(k): v for k, v in sorted(result["codes"].items())},
            "non_200": sum(v for k, v in result["codes"].items() if k != 200),
            "non_200_examples": result["errors"],
            "throughput_rps": round(len(lat) / seconds, 2),
            "p50_ms": round(percentile(lat, 50), 1),
            "p95_ms": round(percentile(lat, 95), 1),
            "p99_ms": round(percentile(lat, 99), 1),
            "citations_checked": citations,
            "citations_not_from_a_committed_version": bad_citations,
            "answers_mentioning_a_story": sum(1 for a in result["answers"] if "Zanzibar" in a["answer"]),
            "rss_mb_samples": rss,
            "rss_mb_after_warmup": {
                "first": warm[0] if warm else 0.0,
                "last": warm[-1] if warm else 0.0,
                "max": max(warm) if warm else 0.0,
                "median": round(statistics.median(warm), 1) if warm else 0.0,
            },
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--writer":
        store, folder, every, seconds, log = argv[1:6]
        writer(Path(store), Path(folder), float(every), float(seconds), Path(log))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--every", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results-soak.json")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.clients, args.every)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: v for k, v in result.items() if k != "rss_mb_samples"}
    print(json.dumps(summary, indent=2))
    return 0 if result["non_200"] == 0 and result["citations_not_from_a_committed_version"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
