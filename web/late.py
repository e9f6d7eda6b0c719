"""The Gradio chat page, built after the server has started answering.

Importing Gradio and building the chat's Blocks were about 4 s of a 12 s cold start at 86,655
chunks (``python -m bench.coldstart``), and the JSON API, the widget and ``/healthz`` need none of
it. So the server starts with the chat page still to come: ``LateChat`` is mounted where the page
is served and answers 503 (with ``Retry-After`` and a short page that reloads itself) until the
chat has been built in a worker thread; from then on it passes every request to Gradio's app,
whose own start-up (its queue) runs inside the server's lifespan, as ``gr.mount_gradio_app``
would have run it; a websocket opened before then is refused (403), and a server stopped during
the build waits for it (seconds) rather than leave it writing in Gradio's scratch folder.
``/healthz`` says which (``chat``: starting, ready or failed).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from despatch.errors import ConfigError
from web.chat import ChatService, build_app

log = logging.getLogger(__name__)

RETRY_AFTER_S = 2
_STARTING = (
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    f'<meta http-equiv="refresh" content="{RETRY_AFTER_S}"><title>Despatch</title></head>'
    "<body><p>The chat is starting; this page reloads in a moment. "
    "The widget and the JSON API are already answering.</p></body></html>"
).encode()


class LateChat:
    """An ASGI app: Gradio's chat once ``run`` has built it, a 503 page until then."""

    def __init__(self, build: Callable[[], tuple[Any, Any]]) -> None:
        """``build`` (called in a worker thread) returns (shell, app): a FastAPI whose lifespan
        starts the chat, and the ASGI app that serves it."""
        self._build = build
        self.app: Any = None
        self.error: str | None = None

    @property
    def state(self) -> str:
        if self.error is not None:
            return "failed"
        return "starting" if self.app is None else "ready"

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Beside the server's lifespan: build and start the chat while the server runs, and
        stop it (its own shut-down) when the server stops."""
        async with anyio.create_task_group() as tasks:
            stop = anyio.Event()
            tasks.start_soon(self._run, stop)
            yield
            stop.set()  # a started chat leaves Gradio's lifespan the ordinary way
            if self.app is None:
                # Still building (or failed): nothing to shut down. A build under way is waited
                # for (a few seconds), not abandoned: left running, it would go on writing in
                # Gradio's scratch folder after the server has removed it.
                tasks.cancel_scope.cancel()

    async def _run(self, stop: anyio.Event) -> None:
        try:
            shell, app = await anyio.to_thread.run_sync(self._build)
            if stop.is_set():  # built while the server was stopping: never started
                return
            async with shell.router.lifespan_context(shell):
                self.app = app
                await stop.wait()
        except Exception as exc:  # the API keeps answering; /healthz reports the failure
            self.app = None
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("the chat page could not be built")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # refused before the handshake: uvicorn answers 403
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1013})  # "try again later"
            return
        if scope["type"] != "http":
            return
        failed = self.error is not None
        body = b'{"detail": "The chat page failed to start; see the server log."}' if failed else _STARTING
        headers = [
            (b"content-type", b"application/json" if failed else b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if not failed:
            headers.append((b"retry-after", str(RETRY_AFTER_S).encode()))
        await send({"type": "http.response.start", "status": 500 if failed else 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def gradio_chat(service: ChatService, cors: Callable[[Any], None]) -> tuple[Any, Any]:
    """The chat's Blocks mounted by Gradio on a shell FastAPI (which ``LateChat`` starts but never
    serves through): returns the shell and Gradio's app. ``cors`` gives the shell the server's
    CORS policy, which tells Gradio that its parent app handles CORS (as when it is mounted on the
    server itself), so Gradio's stricter check of its own stands aside."""
    import gradio as gr
    from fastapi import FastAPI
    from starlette.routing import Mount

    from web.render import CSS

    theme = gr.themes.Default(
        font=["system-ui", "-apple-system", "Segoe UI", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    shell = FastAPI()
    cors(shell)
    gr.mount_gradio_app(
        shell,
        build_app(service),
        path="",
        theme=theme,
        css=CSS,
        footer_links=[],
        ssr_mode=False,
        max_file_size=0,  # no uploads (the Guard refuses the routes before Gradio sees them)
    )
    mounted = shell.routes[-1]  # the Mount that mount_gradio_app added last
    if not isinstance(mounted, Mount):
        raise ConfigError(
            f"gradio {gr.__version__} no longer mounts the chat as a sub-app; install the pinned "
            "version (./scripts/setup.sh, constraints.txt)"
        )
    return shell, mounted.app
