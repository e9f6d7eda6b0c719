"""One FastAPI process: the JSON API, health, and the Gradio chat (``/``) and widget (``/widget``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.core import Bot
from bot.records import Answer
from bot.web import ChatService, RateLimiter, build_app
from despatch.errors import DespatchError, RequestError, StoreError
from despatch.settings import Settings
from index.records import Filters


class Scope(BaseModel):
    """Restricts the sources an answer may use (every field optional)."""

    date_from: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="On or after YYYY-MM-DD.")
    date_to: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="On or before YYYY-MM-DD.")
    source: str | None = Field(None, max_length=500, description="Only this source.")
    speaker: str | None = Field(None, max_length=200, description="Only this speaker's words.")
    party: str | None = Field(
        None, max_length=200, description='Only this party\'s speakers ("Labour" or "Lab").'
    )

    def filters(self) -> Filters:
        return Filters(self.date_from, self.date_to, self.source, self.speaker, self.party)


class AskRequest(BaseModel):
    question: str = Field(..., description="The reader's question.")
    scope: Scope | None = Field(None, description="Optional filters: dates, source, speaker, party.")
    history: list[str | dict[str, Any]] = Field(
        default_factory=list,
        description="Earlier turns, oldest first: questions as strings, or objects "
        '{"question", "answer"} or chat turns {"role", "content"} (limits: see README).',
    )


class Problem(BaseModel):
    detail: str


# Gradio routes that take or serve files: the chat needs none, so nobody may upload or fetch.
_FILE_ROUTES = (
    "/gradio_api/upload",
    "/gradio_api/upload_progress",
    "/gradio_api/process_recording",
    "/gradio_api/file=",
    "/gradio_api/file/",
)


class Guard:
    """Pure ASGI middleware in front of everything: refuses a body over ``max_bytes`` before
    reading it (by Content-Length, and by counting a chunked body as it arrives), refuses
    Gradio's upload and file routes, and replaces the body of Gradio's own 422 responses
    (which repeat the request's input) with a short message."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if any(route in path for route in _FILE_ROUTES):
            await _problem(send, 403, "File uploads and downloads are disabled on this server.")
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _problem(send, 413, f"The request body is over the {self.max_bytes // 1024} KB limit.")
            return
        seen = 0
        too_big = False

        async def counted() -> Any:
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_big = True
                    return {"type": "http.disconnect"}
            return message

        started = False
        muted = False  # a Gradio 422 whose body is being replaced
        gradio = "/gradio_api/" in path

        async def sending(message: Any) -> None:
            nonlocal started, muted
            if too_big and not started:
                started = True
                await _problem(send, 413, f"The request body is over the {self.max_bytes // 1024} KB limit.")
                return
            if too_big or muted:
                return
            if gradio and message["type"] == "http.response.start" and message.get("status") == 422:
                started = muted = True
                await _problem(send, 422, "The request does not match what this endpoint expects.")
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, sending)
        if too_big and not started:
            await _problem(send, 413, f"The request body is over the {self.max_bytes // 1024} KB limit.")


async def _problem(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_server(bot: Bot, settings: Settings) -> Any:
    """The whole web surface, ready for uvicorn."""
    import gradio as gr
    from fastapi.exceptions import RequestValidationError

    from bot.feedback import Feedback, feedback_path
    from bot.render import CSS

    limiter = RateLimiter(settings.rate_limit_per_minute)
    feedback = Feedback(feedback_path(settings), settings.feedback_max_rows)
    service = ChatService(bot, settings, limiter, feedback)
    app = FastAPI(title="Despatch", description="Answers about parliamentary coverage, every claim cited.")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["*"],  # Gradio's client sends its own x-gradio-* headers
        allow_credentials=False,
    )
    ancestors = " ".join(["'self'", *settings.allowed_origins])

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        """Say which field is wrong and why, without echoing the (possibly huge) input."""
        problems = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:200], "type": e.get("type")}
            for e in exc.errors()[:10]
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    @app.post(
        "/api/ask",
        response_model=Answer,  # the record itself: the schema cannot drift from `despatch ask --json`
        responses={413: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
    )
    def ask(body: AskRequest, request: Request) -> Any:
        """Answer a question; the same JSON as ``despatch ask --json``."""
        try:
            question, history = service.check_request(body.question, body.history)
        except RequestError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        client = request.client.host if request.client else "unknown"
        wait = limiter.retry_after(client)
        if wait:
            return JSONResponse(
                {"detail": limiter.message(wait)}, status_code=429, headers={"Retry-After": str(wait)}
            )
        try:
            return bot.ask(question, history, body.scope.filters() if body.scope else None).to_json()
        except DespatchError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.get("/healthz")
    def healthz() -> Any:
        """Index status: document and chunk counts."""
        try:
            docs = bot.store.documents()
            return {
                "status": "ok",
                "documents": len(docs),
                "chunks": sum(d.chunks for d in docs),
                "generation": bot.store.generation(),
                "answerer": bot.answerer.name,
            }
        except StoreError as exc:
            return JSONResponse({"status": "error", "detail": str(exc)}, status_code=503)

    @app.get("/widget/gradio.js", include_in_schema=False)
    def web_component_loader() -> Any:
        """Gradio's web-component loader, served here so no page needs an outside CDN."""
        from pathlib import Path

        from fastapi.responses import FileResponse

        loader = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"
        return FileResponse(loader, media_type="text/javascript")

    theme = gr.themes.Default(
        font=["system-ui", "-apple-system", "Segoe UI", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    common: dict[str, Any] = {"theme": theme, "css": CSS, "footer_links": [], "ssr_mode": False}
    common["max_file_size"] = 0  # no uploads (the Guard refuses the routes before Gradio sees them)
    gr.mount_gradio_app(app, build_app(service, compact=True), path="/widget", **common)
    gr.mount_gradio_app(app, build_app(service), path="", **common)
    return Guard(app, settings.max_body_kb * 1024)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn must run the app: X-Forwarded-For is trusted only when a proxy in front says
    so (rate limits are per client address; a forged header must not reset them)."""
    return {
        "log_level": "warning",
        "proxy_headers": settings.trust_proxy_headers,
        "forwarded_allow_ips": settings.trusted_proxies,
    }
