"""One FastAPI process: the JSON API, health, and the Gradio chat (``/``) and widget (``/widget``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.core import Bot
from bot.records import Answer
from bot.web import ChatService, FeedbackLog, RateLimiter, build_app
from despatch.errors import DespatchError, StoreError
from despatch.settings import Settings


class AskRequest(BaseModel):
    question: str = Field(..., description="The reader's question.")
    history: list[str | dict[str, Any]] = Field(
        default_factory=list, description="Earlier questions (strings or chat turns), oldest first."
    )


class Problem(BaseModel):
    detail: str


def create_server(bot: Bot, settings: Settings) -> FastAPI:
    """The whole web surface, ready for uvicorn."""
    import gradio as gr

    from bot.render import CSS

    limiter = RateLimiter(settings.rate_limit_per_minute)
    service = ChatService(bot, settings, limiter, FeedbackLog(settings.feedback_path))
    app = FastAPI(title="Despatch", description="Answers about parliamentary coverage, every claim cited.")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["*"],  # Gradio's client sends its own x-gradio-* headers
        allow_credentials=False,
    )
    ancestors = " ".join(["'self'", *settings.allowed_origins])

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
        problem = service.check_question(body.question)
        if problem is not None:
            status = 413 if body.question.strip() else 422
            return JSONResponse({"detail": problem}, status_code=status)
        client = request.client.host if request.client else "unknown"
        wait = limiter.retry_after(client)
        if wait:
            return JSONResponse(
                {"detail": limiter.message(wait)}, status_code=429, headers={"Retry-After": str(wait)}
            )
        try:
            return bot.ask(body.question, body.history).to_json()
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
    gr.mount_gradio_app(app, build_app(service, compact=True), path="/widget", **common)
    gr.mount_gradio_app(app, build_app(service), path="", **common)
    return app
