"""A real server on loopback (uvicorn + FastAPI + Gradio), in-process with the shared model."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import FOUNDING, build_store, free_port, make_settings, wait_http

EVIL = (
    "date 2018-05-02\nThe Zanzibar ferry committee met on Tuesday. "
    '<script>window.__despatch_pwned = 1; document.title = "pwned";</script> '
    'Its chair said ferry licences <img src=x onerror="window.__despatch_pwned = 2"> '
    "would be capped at 40 a year.\n"
)


@dataclass
class LiveServer:
    url: str
    settings: Any
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_server(bot: Any, settings: Any, indexer: Any = None) -> LiveServer:
    import uvicorn

    from web.server import create_server, uvicorn_options

    port = free_port()
    app = create_server(bot, settings, indexer)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **uvicorn_options(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_http(f"http://127.0.0.1:{port}/healthz", 60)
    wait_http(f"http://127.0.0.1:{port}/", 60)  # the chat page is built after the API answers
    return LiveServer(f"http://127.0.0.1:{port}", settings, server, thread)


@pytest.fixture(scope="session")
def host_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example CMS page, served from a second loopback origin."""
    import functools
    import http.server

    from despatch.settings import PROJECT_ROOT

    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(PROJECT_ROOT / "examples")
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory, embedder: Any, host_origin: str) -> Iterator[LiveServer]:
    from bot.assembly import assemble

    folder = tmp_path_factory.mktemp("web")
    evil = folder / "zanzibar.txt"
    evil.write_text(EVIL)
    settings, store = build_store(folder / "store", embedder, FOUNDING, evil)
    settings = make_settings(
        folder / "store",
        allowed_origins=[host_origin],
        rate_limit_per_minute=1000,
        max_question_chars=300,
    )
    live = start_server(assemble(settings, store=store, embedder=embedder).bot(), settings)
    yield live
    live.stop()


def wait_until(predicate: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError("condition not met")


TOKEN = "test-admin-token"


@pytest.fixture(scope="session")
def cms(tmp_path_factory: pytest.TempPathFactory, embedder: Any, host_origin: str) -> Iterator[LiveServer]:
    """A server with the documents API on (DESPATCH_ADMIN_TOKEN), starting from an empty index,
    its story size limit at 60 KB."""
    from bot.assembly import assemble

    folder = tmp_path_factory.mktemp("cms")
    settings = make_settings(
        folder / "store",
        allowed_origins=[host_origin],
        rate_limit_per_minute=1000,
        admin_token=TOKEN,
        max_file_mb=0.06,
    )
    parts = assemble(settings, create=True, embedder=embedder)
    live = start_server(parts.bot(), settings, parts.indexer())
    yield live
    live.stop()
