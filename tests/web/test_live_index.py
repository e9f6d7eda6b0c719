"""The live index: servers follow documents written and removed by other processes (CLI writers),
on one `chroma run` server shared by two server processes and on an embedded store, with only
200s while it happens."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FOUNDING, free_port, wait_http

pytestmark = pytest.mark.slow

STORY = (
    "date 2026-11-20\nFerry licences capped\n\n"
    "The Zanzibar committee concluded that ferry licences should be capped at 40 a year.\n"
)
QUESTION = "What did the Zanzibar committee conclude about ferry licences?"
DESPATCH = str(Path(sys.executable).parent / "despatch")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESPATCH_")}
    return {**env, "DESPATCH_RATE_LIMIT_PER_MINUTE": "100000", **extra}


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([DESPATCH, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextmanager
def _server(env: dict[str, str], store: Path, log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [DESPATCH, "serve", "--port", str(port), "--store", str(store)], env=env, stdout=out, stderr=out
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", 180, proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


class Traffic:
    """Readers asking questions in a loop while writers work; records every status code."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.codes: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(u,), daemon=True) for u in urls]

    def _run(self, url: str) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                for q in (
                    QUESTION,
                    "What target did the Home Office set for voluntary departures in 2015/16?",
                ):
                    self.codes.append(client.post(f"{url}/api/ask", json={"question": q}).status_code)

    def __enter__(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(120)


def _ask(url: str) -> dict[str, Any]:
    resp = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _writes_are_followed(env: dict[str, str], urls: list[str], tmp_path: Path) -> None:
    story = tmp_path / "ferry.txt"
    story.write_text(STORY)
    for url in urls:
        assert "40 a year" not in _ask(url)["answer"]
    with Traffic(urls) as traffic:
        _cli(env, "ingest", str(story))
        for url in urls:  # the next question after the write sees the new document
            answer = _ask(url)
            assert not answer["refused"] and "40 a year" in answer["answer"]
        doc_id = next(
            d["id"]
            for d in __import__("json").loads(_cli(env, "docs", "--json"))
            if "ferry" in d["title"].lower()
        )
        _cli(env, "remove", doc_id)
        for url in urls:
            answer = _ask(url)
            assert all(c["doc_id"] != doc_id for c in answer["citations"] + answer["related"])
        _cli(env, "ingest", str(story))
        story.write_text(STORY.replace("40 a year", "55 a year"))
        _cli(env, "ingest", str(story))
        for url in urls:
            assert "55 a year" in _ask(url)["answer"]
    assert traffic.codes and set(traffic.codes) == {200}, sorted(set(traffic.codes))


def test_two_servers_on_one_chroma_server_follow_cli_writers(tmp_path: Path, chroma_server: str) -> None:
    env = _env(DESPATCH_CHROMA_URL=chroma_server, DESPATCH_COLLECTION="live")
    _cli(env, "ingest", str(FOUNDING))
    with (
        _server(env, tmp_path / "a", tmp_path / "a.log") as a,
        _server(env, tmp_path / "b", tmp_path / "b.log") as b,
    ):
        _writes_are_followed(env, [a, b], tmp_path)


def test_a_server_on_an_embedded_store_follows_cli_writers(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = _env(DESPATCH_STORE=str(store))
    _cli(env, "ingest", str(FOUNDING))
    with _server(env, store, tmp_path / "server.log") as url:
        _writes_are_followed(env, [url], tmp_path)


def test_replicas_on_one_chroma_server_follow_a_push_to_either_by_its_delta(
    tmp_path: Path, chroma_server: str
) -> None:
    """Two `despatch serve` replicas share one `chroma run` server: a story PUT to one is answered
    by the other, whose view followed the commit by its delta, not by reading the archive again."""
    import time

    token = "replica-admin-token-0123456789abcdef"
    env = _env(DESPATCH_CHROMA_URL=chroma_server, DESPATCH_COLLECTION="replicas", DESPATCH_ADMIN_TOKEN=token)
    _cli(env, "ingest", str(FOUNDING))
    with (
        _server(env, tmp_path / "a", tmp_path / "a.log") as a,
        _server(env, tmp_path / "b", tmp_path / "b.log") as b,
    ):
        body = {"title": "Ferry licences capped", "text": STORY.split("\n\n", 1)[1], "date": "2026-11-20"}
        auth = {"Authorization": f"Bearer {token}"}
        with Traffic([a, b]) as traffic:
            put = httpx.put(f"{a}/api/documents/ferry-cap", json=body, headers=auth, timeout=120)
            assert put.status_code == 200, put.text
            assert "40 a year" in _ask(a)["answer"]  # the replica written to: from its PUT's return
            deadline = time.monotonic() + 10
            while "40 a year" not in (seen := _ask(b))["answer"] and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "40 a year" in seen["answer"] and seen["citations"][0]["doc_id"] == "ferry-cap"
            assert httpx.delete(f"{b}/api/documents/ferry-cap", headers=auth).status_code == 200
            deadline = time.monotonic() + 10
            while "40 a year" in (seen := _ask(a))["answer"] and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "40 a year" not in seen["answer"]
        assert traffic.codes and set(traffic.codes) == {200}, sorted(set(traffic.codes))
        for url in (a, b):
            updates = httpx.get(f"{url}/healthz").json()["view_updates"]
            assert updates["delta"] >= 2 and updates["full"] == 0 and updates["failed"] == 0, updates
