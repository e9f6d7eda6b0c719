"""Every benchmark runs once at its smallest size (no timing is asserted: machines are noisy)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.__main__ import main
from bench.archive import sentence_pool, write_archive
from bench.latency import PoolEmbedder


def test_quick_bench_runs_end_to_end(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "results.json"
    assert main(["--quick", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    ingest = results["ingest"]
    assert ingest["chunks"] > 0 and ingest["reingest_s"]["runs"] == 1
    assert ingest["overhead_ratio"]["median"] > 0 and ingest["speedup_vs_langchain"]["median"] > 0
    [latency] = results["latency"].values()
    assert latency["questions"] == 20 and latency["stages_ms"]["total"]["p50"] > 0
    [server] = results["server"].values()
    assert server["load"]["requests"] > 0 and server["load"]["errors"] == 0
    assert (
        server["cold_start_s"] > 0 and server["cold_start_rebuild_view_s"] > 0 and server["peak_rss_mb"] > 0
    )
    startup = results["startup"]
    assert all(startup[k]["median"] > 0 for k in ("docs_s", "reingest_unchanged_s", "ask_first_answer_s"))
    assert "latency @" in capsys.readouterr().out


def test_archive_is_seeded_and_distinct(tmp_path: Path) -> None:
    a = write_archive(tmp_path / "a", 30, seed=3, per_file=10)
    b = write_archive(tmp_path / "b", 30, seed=3, per_file=10)
    assert len(a) == 3 and [p.read_text() for p in a] == [p.read_text() for p in b]
    texts = [json.loads(line)["text"] for p in a for line in p.read_text().splitlines()]
    assert len(set(texts)) == 30
    assert len(sentence_pool()) > 3000


def test_pool_embedder_matches_the_model_on_single_sentences(embedder) -> None:  # type: ignore[no-untyped-def]
    sentences = sentence_pool()[:40]
    pool = PoolEmbedder(embedder, sentences)
    one = sentences[10]
    assert np.allclose(pool.embed([one])[0], embedder.embed([one])[0], atol=1e-4)
    two = f"{sentences[3]} {sentences[4]}"
    mean = embedder.embed([sentences[3], sentences[4]]).mean(axis=0)
    assert np.allclose(pool.embed([two])[0], mean / np.linalg.norm(mean), atol=1e-4)


def test_backends_bench_runs_end_to_end(tmp_path: Path) -> None:
    from bench import backends

    out = tmp_path / "backends.json"
    assert (
        backends.main(
            ["--documents", "4", "--questions", "3", "--skip", "onnx-int8,quality", "--out", str(out)]
        )
        == 0
    )
    results = json.loads(out.read_text())
    assert results["archive"]["documents"] == 4 and results["langchain"]["chunks"] > 0
    for name in ("torch", "onnx"):
        run = results["despatch"][name]
        assert run["chunks"] == run["encoded_chunks"] > 0 and run["failed"] == 0
        assert run["overhead_ratio"] > 0 and run["question_embed_ms"]["questions"] == 3
        assert run["peak_rss_mb"] > 0 and run["wall_vs_langchain"] > 0
    assert "| Despatch, `onnx` |" in backends.markdown(results)


def test_ingest_profile_runs_end_to_end(tmp_path: Path) -> None:
    """bench.profile at its smallest: both arms, the stage times and the CPU child are there,
    and the counterfactual arm really ran without the entity pass."""
    from bench import profile

    out = tmp_path / "profile.json"
    assert profile.main(["--documents", "6", "--repeats", "1", "--questions", "3", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    arms = {a["arm"]: a for a in r["arms"]}
    assert set(arms) == {"annotate", "no-annotate"}
    assert arms["annotate"]["chunks"] == arms["no-annotate"]["chunks"] > 0
    assert arms["annotate"]["stages_s"]["annotate"] > 0 and "annotate" not in arms["no-annotate"]["stages_s"]
    assert all(a["stages_s"]["embed"] > 0 and a["stages_s"]["write"] > 0 for a in arms.values())
    assert all(a["answer_ms"]["questions"] == 3 and a["answer_ms"]["total"]["p50"] > 0 for a in arms.values())
    cpu = r["cpu"]
    assert cpu["entities_cpu_s"] > 0 and cpu["encode_one_thread_cpu_s"] > 0 and r["cpu_floor_ratio"] > 1.0
    assert cpu["entities_blis_cpu_s"] > 0
    assert {arm: len(runs) for arm, runs in cpu["entities_cpu_runs_s"].items()} == {"shipped": 3, "blis": 3}
    assert r["cpu"]["chunks"] == arms["annotate"]["chunks"]  # the encoder alone sees ingest's chunks


def test_scorers_bench_times_every_scorer(tmp_path: Path) -> None:
    from bench.scorers import main as scorers_main
    from bot.assembly import SCORERS

    out = tmp_path / "scorers.json"
    assert scorers_main(["--quick", "--questions", "6", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results["scorers"]) == set(SCORERS)
    for row in results["scorers"].values():
        assert row["questions"] == 6 and row["stages_ms"]["total"]["p50"] > 0
        assert row["stages_ms"]["score"]["p95"] >= 0


def test_process_tree_figures_count_the_workers() -> None:
    """``descendants`` finds a child's child, ``cpu_s`` counts their CPU, and ``MemoryWatch``
    reports the server's and its workers' peaks apart."""
    import os
    import subprocess
    import sys
    import time

    from bench.server import MemoryWatch, cpu_s, descendants

    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\ntime.sleep(30)"
    spawn = (
        f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {burn!r}])\ntime.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", spawn])
    try:
        deadline = time.monotonic() + 30
        while len(descendants(parent.pid)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        (child,) = descendants(parent.pid)
        assert child != parent.pid and child not in descendants(child)
        assert cpu_s(parent.pid) >= cpu_s(child) >= 0.5  # the child's burn is counted with it
        assert cpu_s(parent.pid, tree=False) < 0.5  # and not without
        with MemoryWatch(parent.pid, every=0.05) as memory:
            time.sleep(0.3)
        peaks = memory.peaks()
        assert peaks["server_rss_mb_peak"] > 1 and peaks["workers_rss_mb_peak"] > 1
        assert os.getpid() not in descendants(parent.pid)
    finally:
        for pid in descendants(parent.pid):
            os.kill(pid, 9)
        parent.kill()
        parent.wait()


def test_nlp_memory_bench_runs_both_ways(tmp_path: Path) -> None:
    """Both batchings find (nearly) the same entities; the figures land in --out."""
    import json

    from bench.nlp_memory import main

    out = tmp_path / "nlp.json"
    assert main(["--mb", "0.05", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    before, now = result["before"], result["now"]
    assert before["region_chars"] == 100_000 and now["regions"] > before["regions"]
    assert before["entities"] > 100 and abs(now["entities"] - before["entities"]) <= 0.01 * before["entities"]
    assert before["peak_mb_above_warm"] >= 0 and now["peak_mb_above_warm"] >= 0


def test_coldstart_times_a_real_start_of_a_tree(founding_store) -> None:  # type: ignore[no-untyped-def]
    """bench.coldstart serves a store with one tree's code and times it (here: this tree)."""
    from bench.coldstart import start_and_probe
    from despatch.settings import PROJECT_ROOT

    settings, _ = founding_store
    got = start_and_probe(PROJECT_ROOT, settings.store)
    assert got["cold_start_s"] > 0 and got["chat_page_ms"] > 0
    assert 0 < got["healthz_ms"]["p50"] <= got["healthz_ms"]["p95"]
