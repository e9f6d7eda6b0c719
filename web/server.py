"""One FastAPI process: the JSON API, the documents API (``web.cms``), health, the Gradio chat
(``/``, built once the server is up: ``web.late``) and the embeddable widget (``/widget``,
static files in ``web/widget/``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.core import Bot
from bot.layered import last_keys
from bot.records import Answer
from despatch.errors import ConfigError, DespatchError, RequestError, StoreError
from despatch.settings import Settings
from index.dates import real_date
from index.filters import Filters
from index.ingest import Indexer
from index.records import normal_tags
from web.chat import ChatService, RateLimiter
from web.late import LateChat, gradio_chat

_DATE = r"^\d{4}-\d{2}-\d{2}$"
HEALTH_TOKEN_AGE_S = 1.0  # /healthz trusts the store's commit token as read this recently


class Scope(BaseModel):
    """What an answer may come from (every field optional; all given must hold)."""

    model_config = ConfigDict(extra="forbid")

    doc_ids: list[str] = Field(default_factory=list, max_length=100, description="Only these documents.")
    date_from: str | None = Field(None, pattern=_DATE, description="Sources dated on or after.")
    date_to: str | None = Field(None, pattern=_DATE, description="Sources dated on or before.")
    source: str | None = Field(None, max_length=500)
    speaker: str | None = Field(None, max_length=200, description="Transcript turns of this speaker.")
    party: str | None = Field(None, max_length=100, description="Transcript turns of this party.")
    tags: list[str] = Field(default_factory=list, max_length=20, description="Documents with any tag.")

    @field_validator("date_from", "date_to")
    @classmethod
    def _real_day(cls, value: str | None) -> str | None:
        if value is not None and not real_date(value):
            raise ValueError("not a real date (YYYY-MM-DD)")
        return value

    @model_validator(mode="after")
    def _range_in_order(self) -> Scope:
        if (problem := Filters(self.date_from, self.date_to).range_error()) is not None:
            raise ValueError(f"date_from is after date_to ({problem}); swap them")
        return self

    def filters(self) -> Filters:
        return Filters(
            date_from=self.date_from,
            date_to=self.date_to,
            source=self.source,
            doc_ids=tuple(self.doc_ids),
            speaker=self.speaker,
            party=self.party,
            tags=normal_tags(self.tags),
        )


class AskRequest(BaseModel):
    question: str = Field(..., description="The reader's question.")
    history: list[str | dict[str, Any]] = Field(
        default_factory=list,
        description="Earlier turns, oldest first: questions as strings, or objects "
        '{"question", "answer"} (an earlier answer\'s own JSON too: its short_answer names who '
        'a "who" question found) or chat turns {"role", "content"} (limits: see README).',
    )
    scope: Scope | None = Field(
        None, description="Answer only from these sources: stories, tags, dates, source, speaker, party."
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

    def __init__(self, app: Any, max_bytes: int, document_max_bytes: int | None = None) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.document_max_bytes = document_max_bytes or max_bytes  # for /api/documents: whole stories

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if any(route in path for route in _FILE_ROUTES):
            await _problem(send, 403, "File uploads and downloads are disabled on this server.")
            return
        documents = path.startswith("/api/documents")
        limit = self.document_max_bytes if documents else self.default_max_bytes
        too_long = (
            f"The story is over the {limit / 1e6:g} MB limit (DESPATCH_MAX_FILE_MB)."
            if documents
            else f"The request body is over the {limit // 1024} KB limit (DESPATCH_MAX_BODY_KB)."
        )
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _problem(send, 413, too_long)
            return
        seen = 0
        too_big = False

        async def counted() -> Any:
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
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
                await _problem(send, 413, too_long)
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
            await _problem(send, 413, too_long)


async def _problem(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_server(bot: Bot, settings: Settings, indexer: Indexer | None = None) -> Any:
    """The whole web surface, ready for uvicorn; ``indexer`` (writing into ``bot``'s store)
    serves the documents API when ``Settings.admin_token`` is set."""
    from fastapi.exceptions import RequestValidationError

    from web.feedback import Feedback, feedback_path

    limiter = RateLimiter(settings.rate_limit_per_minute)
    feedback = Feedback(feedback_path(settings), settings.feedback_max_rows)
    service = ChatService(bot, settings, limiter, feedback)

    def cors(shell: FastAPI) -> None:
        shell.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],  # Gradio's client sends its own x-gradio-* headers
            allow_credentials=False,
        )

    chat = LateChat(lambda: gradio_chat(service, cors))
    app = FastAPI(
        title="Despatch",
        description="Answers about parliamentary coverage, every claim cited.",
        lifespan=lambda _: chat.serving(),
    )
    cors(app)
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
        response.headers.setdefault("Content-Security-Policy", f"frame-ancestors {ancestors}")
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
            answer = bot.ask(question, history, body.scope.filters() if body.scope else None)
            # The record's own JSON (as `despatch ask --json` prints it): unset meta stays absent.
            return JSONResponse(answer.to_json())
        except ConfigError as exc:  # the server is set up wrong: not a passing outage
            return JSONResponse({"detail": f"server configuration error: {exc}"}, status_code=500)
        except DespatchError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503)

    if settings.admin_token is not None:  # otherwise the documents API does not exist (404)
        from web.cms import _Unauthorised, bearer_check, documents_router, unauthorised_handler

        if indexer is None:
            raise ConfigError(
                "DESPATCH_ADMIN_TOKEN is set but the server has no indexer; start it with `despatch serve`"
            )
        app.add_exception_handler(_Unauthorised, unauthorised_handler)
        app.include_router(documents_router(bot, settings, indexer))
        token_ok = bearer_check(settings)

        @app.middleware("http")
        async def documents_auth(request: Request, call_next: Any) -> Any:
            """The token is checked before a byte of the body is read or parsed."""
            if request.url.path.startswith("/api/documents") and not token_ok(request):
                return unauthorised_handler(request, _Unauthorised())
            return await call_next(request)

    # Health checks and the widget's footer (which every page load asks for) are public too:
    # limited per client like questions, with a larger allowance, and counted from the view.
    public = RateLimiter(max(120, 4 * settings.rate_limit_per_minute))

    def too_many(request: Request) -> JSONResponse | None:
        wait = public.retry_after(request.client.host if request.client else "unknown")
        if not wait:
            return None
        detail = f"Too many requests: the limit is {public.per_minute} a minute. Try again in {wait} s."
        return JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": str(wait)})

    def health(latest: str | None) -> Any:
        """The status ``/healthz`` answers, against ``latest`` (None: read the store's token)."""
        try:
            view = bot.retriever.current()
            latest = latest or bot.store.token()
        except ConfigError as exc:
            return JSONResponse(
                {"status": "error", "detail": f"server configuration error: {exc}"}, status_code=500
            )
        except StoreError as exc:
            return JSONResponse({"status": "error", "detail": str(exc)}, status_code=503)
        if chat.error is not None:
            detail = f"the chat page failed to start ({chat.error}); the API answers"
            return JSONResponse({"status": "error", "chat": chat.state, "detail": detail}, status_code=500)
        return {
            "status": "ok",
            "chat": chat.state,
            "documents": len(view.versions),
            "chunks": len(view.texts),
            "generation": view.generation,
            "current": view.token == latest,
            "view_updates": dict(bot.retriever.updates),
            "answerer": bot.answerer.name,
        }

    @app.api_route("/healthz", methods=["GET", "HEAD"])  # HEAD: load balancers' checks
    async def healthz(request: Request) -> Any:
        """Index status: document and chunk counts of the view answers come from, its commit and
        whether it is the store's latest, how views have been updated, and whether the chat page
        is built yet (``chat``: starting or ready; the API answers before it is).

        Answered on the event loop from what is in memory while questions are coming in (the
        store's commit as a question read it within the last second), so a health check does
        not queue for a worker thread behind them; otherwise it reads the store in a thread."""
        if (refused := too_many(request)) is not None:
            return refused
        latest = bot.retriever.seen(HEALTH_TOKEN_AGE_S)
        if bot.retriever.loaded is not None and latest is not None:
            return health(latest)
        return await anyio.to_thread.run_sync(health, None)

    @app.get("/api/coverage")
    def coverage(request: Request, doc: str | None = None) -> Any:
        """What the widget's footer names: how many documents answers come from, a few titles
        (never hundreds), and the scoped stories' titles and URLs."""
        if (refused := too_many(request)) is not None:
            return refused
        try:
            titles = bot.retriever.current().titles
        except ConfigError as exc:
            return JSONResponse({"detail": f"server configuration error: {exc}"}, status_code=500)
        except StoreError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503)
        wanted = [d for d in (doc or "").split(",") if d][:100]
        latest = [(d, titles[d]) for d in last_keys(titles, 3)]  # the latest three
        return {
            "documents": len(titles),
            "titles": [{"title": t, "url": u} for _, (t, u) in latest],
            "scoped": [{"id": i, "title": titles[i][0], "url": titles[i][1]} for i in wanted if i in titles],
        }

    widget_csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        f"base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )

    @app.get("/widget", include_in_schema=False)
    @app.get("/widget/", include_in_schema=False)
    def widget_page() -> Any:
        """The embeddable widget (configured by URL parameters: docs/embedding.md)."""
        return _asset("widget.html", "text/html; charset=utf-8", {"Content-Security-Policy": widget_csp})

    @app.get("/widget/{name}", include_in_schema=False)
    def widget_asset(name: str) -> Any:
        """The widget's script and style, and embed.js for a CMS page."""
        kinds = {"widget.js": "text/javascript", "embed.js": "text/javascript", "widget.css": "text/css"}
        if name not in kinds:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        # embed.js runs on the newsroom's pages: any origin may load it.
        cors = {"Access-Control-Allow-Origin": "*"} if name == "embed.js" else {}
        return _asset(name, f"{kinds[name]}; charset=utf-8", {"Cache-Control": "public, max-age=300", **cors})

    app.mount("", chat)  # after every route above: the chat page is what none of them match
    return Guard(app, settings.max_body_kb * 1024, int(settings.max_file_mb * 1_000_000))


WIDGET = Path(__file__).with_name("widget")


def _asset(name: str, media_type: str, headers: dict[str, str]) -> Any:
    from fastapi.responses import Response

    return Response((WIDGET / name).read_bytes(), media_type=media_type, headers=headers)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn must run the app: X-Forwarded-For is trusted only when a proxy in front says
    so (rate limits are per client address; a forged header must not reset them)."""
    return {
        "log_level": "warning",
        "proxy_headers": settings.trust_proxy_headers,
        "forwarded_allow_ips": settings.trusted_proxies,
    }
