"""The JSON API, health, CORS, framing and limits, on a real server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.core import Bot
from tests.conftest import assert_citations_valid, free_port, make_settings, wait_http
from tests.web.conftest import start_server


def test_ask_returns_the_cli_json(web: Any, founding_store: Any, capsys: Any) -> None:
    from entry.cli import main

    question = "What target did the Home Office set for voluntary departures in 2015/16?"
    resp = httpx.post(f"{web.url}/api/ask", json={"question": question, "history": []}, timeout=30)
    assert resp.status_code == 200
    data = resp.json()
    schema = httpx.get(f"{web.url}/openapi.json").json()["components"]["schemas"]["Answer"]
    assert set(schema["required"]) <= set(data)
    assert "12,000" in data["answer"] and any("12,000" in c["quote"] for c in data["citations"])
    settings, _ = founding_store
    assert main(["ask", question, "--json", "--store", str(settings.store)]) == 0
    cli = json.loads(capsys.readouterr().out)
    strip = ("timings_ms", "meta")
    assert {k: v for k, v in cli.items() if k not in strip} | {"citations": None} == (
        {k: v for k, v in data.items() if k not in strip} | {"citations": None}
    )
    assert [c["quote"] for c in cli["citations"]] == [c["quote"] for c in data["citations"]]


def test_follow_up_through_the_api(web: Any) -> None:
    resp = httpx.post(
        f"{web.url}/api/ask",
        json={"question": "When did she take over?", "history": ["Who is the Home Secretary?"]},
        timeout=30,
    )
    assert "July 2016" in resp.json()["answer"]


def test_docs_and_health(web: Any) -> None:
    assert httpx.get(f"{web.url}/docs").status_code == 200
    health = httpx.get(f"{web.url}/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 2 and health["chunks"] > 0


@pytest.mark.parametrize(
    ("question", "status", "message"),
    [
        ("x" * 301, 413, "the limit is 300"),
        ("   ", 422, "Please type a question"),
    ],
)
def test_bad_questions_are_clear(web: Any, question: str, status: int, message: str) -> None:
    resp = httpx.post(f"{web.url}/api/ask", json={"question": question})
    assert resp.status_code == status and message in resp.json()["detail"]


def test_missing_question_is_422(web: Any) -> None:
    assert httpx.post(f"{web.url}/api/ask", json={"history": []}).status_code == 422


def test_cors_allows_only_the_allowlist(web: Any, host_origin: str) -> None:
    ok = httpx.options(
        f"{web.url}/api/ask", headers={"Origin": host_origin, "Access-Control-Request-Method": "POST"}
    )
    assert ok.headers.get("access-control-allow-origin") == host_origin
    bad = httpx.options(
        f"{web.url}/api/ask",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in bad.headers
    simple = httpx.post(
        f"{web.url}/api/ask",
        json={"question": "Who is Soames?"},
        headers={"Origin": "http://evil.example"},
        timeout=30,
    )
    assert "access-control-allow-origin" not in simple.headers


def test_framing_is_limited_to_the_allowlist(web: Any, host_origin: str) -> None:
    csp = httpx.get(f"{web.url}/widget/").headers["content-security-policy"]
    assert csp == f"frame-ancestors 'self' {host_origin}"


def test_rate_limit_gives_a_clear_429(tmp_path: Path, founding_store: Any, embedder: Any) -> None:
    settings, store = founding_store
    limited = make_settings(settings.store, rate_limit_per_minute=3, feedback_path=tmp_path / "f.jsonl")
    live = start_server(Bot(limited, store, embedder), limited)
    try:
        codes = [
            httpx.post(f"{live.url}/api/ask", json={"question": "Who is Soames?"}, timeout=30)
            for _ in range(4)
        ]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]
        assert "the limit is 3 a minute" in codes[-1].json()["detail"]
        assert int(codes[-1].headers["retry-after"]) > 0
    finally:
        live.stop()


def test_despatch_serve_command(founding_store: Any, tmp_path: Path) -> None:
    settings, _ = founding_store
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "despatch"),
            "serve",
            "--port",
            str(port),
            "--store",
            str(settings.store),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 120, proc)
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/widget/").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_gradio_client_gets_cited_answer(web: Any) -> None:
    from gradio_client import Client

    client = Client(f"{web.url}/", verbose=False)
    history, _ = client.predict("Who assured Rudd of total support?", [], api_name="/ask")
    reply = history[-1]["content"]
    reply = reply if isinstance(reply, str) else json.dumps(reply)
    assert "Soames" in reply and "[1]" in reply and "Sources" in reply


def test_answers_have_valid_citations_through_http(web: Any, founding_store: Any) -> None:
    _, store = founding_store
    from bot.records import Answer, Citation

    data = httpx.post(
        f"{web.url}/api/ask", json={"question": "How were the targets split?"}, timeout=30
    ).json()
    answer = Answer(
        **{
            **data,
            "citations": [Citation(**c) for c in data["citations"]],
            "related": [Citation(**c) for c in data["related"]],
        }
    )
    assert_citations_valid(answer, store)
