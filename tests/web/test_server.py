"""The JSON API, health, CORS, framing and limits, on a real server on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.assembly import assemble
from tests.conftest import assert_citations_valid, make_settings
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
    # meta: the same keys as the CLI's, none of them null (an unset field is absent)
    assert set(data["meta"]) == set(cli["meta"]) and None not in data["meta"].values()


def test_follow_up_through_the_api(web: Any) -> None:
    resp = httpx.post(
        f"{web.url}/api/ask",
        json={
            "question": "And for 2015/16?",
            "history": ["What voluntary departures target was set for 2014/15?"],
        },
        timeout=30,
    )
    assert "12,000" in resp.json()["answer"] and "2015/16" in resp.json()["resolved_question"]


def test_docs_and_health(web: Any) -> None:
    assert httpx.get(f"{web.url}/docs").status_code == 200
    health = httpx.get(f"{web.url}/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 2 and health["chunks"] > 0
    assert health["chat"] == "ready"  # the fixture waited for the chat page (web.late)
    assert httpx.head(f"{web.url}/healthz").status_code == 200  # load balancers check with HEAD
    # Counted from the view answers come from, which is the store's latest commit.
    from index.store import Store

    store = Store.open(web.settings)
    docs = store.documents()
    assert health["chunks"] == sum(d.chunks for d in docs) and health["current"] is True
    assert health["generation"] == store.generation()
    coverage = httpx.get(f"{web.url}/api/coverage", params={"doc": docs[0].id}).json()
    assert coverage["documents"] == 2 and coverage["scoped"] == [
        {"id": docs[0].id, "title": docs[0].title, "url": docs[0].url}
    ]


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
    assert (
        httpx.get(f"{web.url}/").headers["content-security-policy"] == f"frame-ancestors 'self' {host_origin}"
    )
    widget = httpx.get(f"{web.url}/widget/").headers["content-security-policy"]
    assert widget.endswith(f"frame-ancestors 'self' {host_origin}")


def test_rate_limit_gives_a_clear_429(tmp_path: Path, founding_store: Any, embedder: Any) -> None:
    settings, store = founding_store
    limited = make_settings(settings.store, rate_limit_per_minute=3, feedback_path=tmp_path / "f.sqlite3")
    live = start_server(assemble(limited, store=store, embedder=embedder).bot(), limited)
    try:
        codes = [
            httpx.post(f"{live.url}/api/ask", json={"question": "Who is Soames?"}, timeout=30)
            for _ in range(4)
        ]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]
        assert "the limit is 3 a minute" in codes[-1].json()["detail"]
        assert int(codes[-1].headers["retry-after"]) > 0
        # The public routes have their own, larger allowance (120 a minute at the least).
        with httpx.Client(base_url=live.url) as client:
            public = [client.get("/api/coverage" if i % 2 else "/healthz").status_code for i in range(125)]
        first = public.index(429)  # the start-up's own health checks count too
        assert first >= 115 and set(public[:first]) == {200} and set(public[first:]) == {429}
    finally:
        live.stop()


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


def test_history_is_bounded_and_never_echoed(web: Any) -> None:
    many = httpx.post(f"{web.url}/api/ask", json={"question": "Who?", "history": ["Who is Rudd?"] * 11})
    assert many.status_code == 413 and "the limit is 10" in many.json()["detail"]
    long_turn = httpx.post(f"{web.url}/api/ask", json={"question": "Who?", "history": ["x" * 301]})
    assert long_turn.status_code == 413 and "the limit is 300" in long_turn.json()["detail"]
    assert len(long_turn.content) < 500
    answer = {"question": "Who?", "answer": "y" * 4001}
    assert httpx.post(f"{web.url}/api/ask", json={"question": "Who?", "history": [answer]}).status_code == 413


def test_oversized_bodies_are_refused_before_they_are_read(web: Any) -> None:
    import socket
    from urllib.parse import urlparse

    huge = httpx.post(f"{web.url}/api/ask", json={"question": "Who?", "history": ["x" * 10_000_000]})
    assert huge.status_code == 413 and "512 KB" in huge.json()["detail"] and len(huge.content) < 200

    def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 100_000

    chunked = httpx.post(f"{web.url}/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413

    # A client that announces 50 MB and sends nothing gets its answer at once: the server
    # never waits for (or reads) the body.
    url = urlparse(web.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 413")


def test_validation_errors_do_not_echo_the_input(web: Any) -> None:
    bad = httpx.post(
        f"{web.url}/api/ask", json={"question": "Who?", "history": [12345] * 5 + ["z" * 200_000]}
    )
    assert bad.status_code in (413, 422)
    assert "zzzz" not in bad.text and len(bad.content) < 5000
    wrong_type = httpx.post(f"{web.url}/api/ask", json={"question": ["z" * 300_000]})
    assert wrong_type.status_code == 422 and "zzzz" not in wrong_type.text and len(wrong_type.content) < 5000


@pytest.mark.parametrize("question", ["\x00\x00\x00", "\x00 \x07\x1b", " \u0085 "])
def test_control_characters_are_not_a_question(web: Any, question: str) -> None:
    resp = httpx.post(f"{web.url}/api/ask", json={"question": question})
    assert resp.status_code == 422 and "Please type a question" in resp.json()["detail"]


def test_control_characters_are_stripped_from_questions(web: Any) -> None:
    resp = httpx.post(
        f"{web.url}/api/ask",
        json={"question": "What target did the Home Office set for voluntary\x00 departures in 2015/16?\x07"},
        timeout=30,
    )
    assert resp.status_code == 200 and "\x00" not in resp.json()["question"] and "12,000" in resp.text


def test_uploads_and_file_routes_are_refused(web: Any, tmp_path: Path) -> None:
    up = httpx.post(f"{web.url}/gradio_api/upload", files={"files": ("a.txt", b"hello" * 1000)})
    assert up.status_code == 403
    assert httpx.get(f"{web.url}/gradio_api/file=/etc/hostname").status_code == 403
    assert httpx.get(f"{web.url}/gradio_api/upload_progress?upload_id=x").status_code == 403
    assert httpx.get(f"{web.url}/").status_code == 200  # the app itself is unaffected


def test_gradio_422s_do_not_echo_the_input(web: Any) -> None:
    for route in ("/gradio_api/queue/join", "/gradio_api/run/ask"):
        resp = httpx.post(f"{web.url}{route}", json={"data": "SECRETMARKER" * 30_000})
        assert resp.status_code == 422 and "SECRETMARKER" not in resp.text and len(resp.content) < 500
    assert (
        httpx.post(f"{web.url}/gradio_api/process_recording", files={"video": ("a", b"")}).status_code == 403
    )


def test_forwarded_for_does_not_reset_the_rate_limit(
    tmp_path: Path, founding_store: Any, embedder: Any
) -> None:
    settings, store = founding_store
    limited = make_settings(settings.store, rate_limit_per_minute=2, feedback_path=tmp_path / "f.sqlite3")
    live = start_server(assemble(limited, store=store, embedder=embedder).bot(), limited)
    try:
        codes = [
            httpx.post(
                f"{live.url}/api/ask",
                json={"question": "Who is Soames?"},
                headers={"X-Forwarded-For": f"10.0.1.{i}"},  # a new "client" every time
                timeout=30,
            ).status_code
            for i in range(3)
        ]
        assert codes == [200, 200, 429]
    finally:
        live.stop()
