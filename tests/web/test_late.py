"""The chat page built after the server answers (web.late): a real uvicorn server on loopback
whose chat is a small ASGI app standing in for Gradio's (the same (shell, app) interface)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from tests.conftest import free_port, wait_http
from web.late import LateChat


@contextmanager
def serving(chat: LateChat) -> Iterator[str]:
    """A server whose /api/ping answers at once and whose other paths are ``chat``."""
    import uvicorn

    app = FastAPI(lifespan=lambda _: chat.serving())
    app.get("/api/ping")(lambda: {"ok": True})
    app.mount("", chat)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/ping", 30)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive(), "the server did not stop within 15 s"


def chat_app(events: list[str]) -> Callable[[], tuple[Any, Any]]:
    def build() -> tuple[Any, Any]:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            events.append("started")
            yield
            events.append("stopped")

        shell = FastAPI(lifespan=lifespan)
        page = FastAPI()
        page.get("/")(lambda: PlainTextResponse("the chat"))
        return shell, page

    return build


def test_the_api_answers_while_the_chat_is_built_then_the_chat_serves() -> None:
    release = threading.Event()
    events: list[str] = []
    build = chat_app(events)

    def slow_build() -> tuple[Any, Any]:
        assert release.wait(30)
        return build()

    chat = LateChat(slow_build)
    with serving(chat) as url:
        assert httpx.get(f"{url}/api/ping").json() == {"ok": True}
        waiting = httpx.get(f"{url}/")
        assert waiting.status_code == 503 and waiting.headers["retry-after"] == "2"
        assert waiting.headers["cache-control"] == "no-store"
        assert 'http-equiv="refresh"' in waiting.text and "starting" in waiting.text
        assert chat.state == "starting" and events == []
        release.set()
        wait_http(f"{url}/", 30)
        assert httpx.get(f"{url}/").text == "the chat" and chat.state == "ready"
        assert events == ["started"]  # the chat's own start-up ran inside the server's lifespan
    assert events == ["started", "stopped"]  # and its shut-down when the server stopped


def test_a_chat_that_fails_to_build_is_reported_and_the_api_answers(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> tuple[Any, Any]:
        raise ImportError("No module named 'gradio'")

    chat = LateChat(broken)
    with serving(chat) as url:
        for _ in range(100):
            if chat.state != "starting":
                break
            time.sleep(0.05)
        assert chat.state == "failed" and chat.error == "ImportError: No module named 'gradio'"
        page = httpx.get(f"{url}/")
        assert page.status_code == 500 and "failed to start" in page.json()["detail"]
        assert httpx.get(f"{url}/api/ping").json() == {"ok": True}
    assert "the chat page could not be built" in caplog.text


def test_a_server_stopped_while_the_chat_is_built_waits_for_the_build_and_never_starts_it() -> None:
    """A build under way is waited for, not abandoned (left running, Gradio's would write in its
    scratch folder after the server removed it), and the chat it built is never started."""
    release = threading.Event()
    events: list[str] = []
    build = chat_app(events)
    finished: list[bool] = []

    def slow() -> tuple[Any, Any]:
        try:
            assert release.wait(60)
            return build()
        finally:
            finished.append(True)

    chat = LateChat(slow)
    timer = threading.Timer(1.0, release.set)  # the build ends while the server is stopping
    try:
        with serving(chat) as url:
            assert httpx.get(f"{url}/").status_code == 503
            timer.start()
        # serving() checked that the server stopped
        assert finished == [True] and events == [] and chat.state == "starting"
    finally:
        timer.cancel()
        release.set()


def test_a_websocket_before_the_chat_exists_is_refused_not_a_server_error() -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    release = threading.Event()
    chat = LateChat(lambda: (release.wait(60), chat_app([])())[1])
    try:
        with serving(chat) as url:
            with pytest.raises(InvalidStatus) as refused:
                connect(url.replace("http://", "ws://") + "/gradio_api/queue/join", open_timeout=10)
            assert refused.value.response.status_code == 403
            assert httpx.get(f"{url}/api/ping").json() == {"ok": True}
            release.set()  # a stopping server waits for the build
    finally:
        release.set()
