"""The documents API a newsroom CMS pushes stories through: ``PUT``/``GET``/``DELETE
/api/documents/{id}`` and ``GET /api/documents``, behind a bearer token.

Mounted by ``web.server`` only when ``DESPATCH_ADMIN_TOKEN`` is set (otherwise the routes do not
exist and answer 404). A story goes through the same all-or-nothing write as ``despatch
ingest``: readers see the old version or the new one, never half of either, and the running
server answers from it on the next question (the retriever follows the store's commits).
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bot.core import Bot
from despatch.errors import ConfigError, DespatchError
from despatch.settings import Settings
from index.ingest import Indexer
from index.json_records import SAFE_ID, record_document

SOURCE = "cms"  # the source of pushed stories unless the body names one
_FIELD = re.compile(r'^"(\w+)"')

FOLLOW_S = 30.0  # how long a write waits for the view to show it before it returns anyway


class DocumentBody(BaseModel):
    """A story as the CMS sends it: ``text`` or ``html``, plus metadata."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(..., min_length=1, max_length=500)
    text: str | None = Field(None, description="Plain text; paragraphs separated by blank lines.")
    html: str | None = Field(None, description="Or the story's HTML: its main text is kept.")
    url: str | None = Field(None, description="The story's public http(s) address, shown with citations.")
    date: str | None = Field(None, description="Publication date, YYYY-MM-DD.")
    byline: str | None = Field(None, max_length=200)
    section: str | None = Field(None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=50, description="At most 60 characters each.")
    source: str | None = Field(None, max_length=200, description=f'Default "{SOURCE}".')


class PutResult(BaseModel):
    id: str
    status: str = Field(..., description="added, updated or unchanged (unchanged wrote nothing)")
    chunks: int


def _problem(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _field_error(field: str, msg: str) -> JSONResponse:
    return _problem(422, [{"loc": ["body", field], "msg": msg, "type": "value_error"}])


def bearer_check(settings: Settings) -> Callable[[Request], bool]:
    """Whether a request carries ``Authorization: Bearer <DESPATCH_ADMIN_TOKEN>``."""
    assert settings.admin_token is not None
    expected = settings.admin_token.get_secret_value().encode()

    def ok(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        # Compared in constant time, whatever the header holds.
        return hmac.compare_digest(token.strip().encode(), expected) and scheme.lower() == "bearer"

    return ok


SAFE_ID_RULE = "1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"


def documents_router(bot: Bot, settings: Settings, indexer: Indexer) -> APIRouter:
    """The routes, writing with ``indexer`` into the store ``bot`` answers from. Writes are one
    at a time in this process, so each reports what it did (added, updated, deleted)."""
    ok = bearer_check(settings)
    writing = threading.Lock()

    def authorised(request: Request) -> None:
        if not ok(request):
            raise _Unauthorised

    router = APIRouter(prefix="/api/documents", tags=["documents"], dependencies=[Depends(authorised)])
    doc_id_path = Path(..., description=f"The CMS's own id: {SAFE_ID_RULE}.")
    bad_id = [{"loc": ["path", "doc_id"], "msg": f"an id is {SAFE_ID_RULE}", "type": "value_error"}]

    @router.put("/{doc_id}", response_model=PutResult)
    def put(body: DocumentBody, doc_id: str = doc_id_path) -> Any:
        """Add, replace or leave unchanged (the same body twice writes nothing)."""
        if not SAFE_ID.fullmatch(doc_id):
            return _problem(422, bad_id)
        if (body.text is None) == (body.html is None):
            return _field_error("text", 'send exactly one of "text" and "html"')
        record = body.model_dump(exclude_none=True)
        record["id"] = doc_id
        try:
            doc = record_document(
                record, default_key=f"cms:{doc_id}", default_title=body.title, default_source=SOURCE
            )
        except ValueError as exc:
            named = _FIELD.match(str(exc))
            return _field_error(named.group(1) if named else "text", str(exc))
        try:
            # Chunking and embedding (seconds, minutes for a very long story) hold no lock:
            # other PUTs and DELETEs are not queued behind them; the commit is one short step.
            prepared = indexer.prepare(doc)
            with writing:
                status, chunks = indexer.commit(prepared)
        except ConfigError as exc:  # the server is set up wrong: not a passing outage
            return _problem(500, f"server configuration error: {exc}")
        except DespatchError as exc:
            return _problem(503, str(exc))
        # Answered from the moment the PUT returns: the view advances by this story alone
        # (readers keep answering from the current view meanwhile).
        bot.retriever.follow(FOLLOW_S)
        return PutResult(id=doc.id, status=status, chunks=chunks)

    @router.get("/{doc_id}")
    def get(doc_id: str = doc_id_path) -> Any:
        """The stored story: metadata and cleaned text."""
        doc = bot.store.document(doc_id) if SAFE_ID.fullmatch(doc_id) else None
        if doc is None:
            return _problem(404, "No document has this id.")
        return {**doc.summary(), "text": doc.text}

    @router.delete("/{doc_id}")
    def delete(doc_id: str = doc_id_path) -> Any:
        """Unpublish: the story and its passages leave the index in one commit."""
        with writing:
            gone = SAFE_ID.fullmatch(doc_id) is not None and bot.store.remove(doc_id)
        if not gone:
            return _problem(404, "No document has this id.")
        bot.retriever.follow(FOLLOW_S)
        return {"id": doc_id, "status": "deleted"}

    @router.get("")
    def list_documents(
        cursor: str | None = Query(None, description="The next_cursor of the previous page."),
        limit: int = Query(100, ge=1, le=1000),
    ) -> Any:
        """Every indexed document (pushed or ingested), by id, a page at a time."""
        docs = sorted(bot.store.documents(), key=lambda d: d.id)
        if cursor:
            docs = [d for d in docs if d.id > cursor]
        page = docs[:limit]
        more = len(docs) > limit
        return {"documents": [d.summary() for d in page], "next_cursor": page[-1].id if more else None}

    return router


class _Unauthorised(Exception):
    """A request to the documents API without the right bearer token."""


def unauthorised_handler(request: Request, exc: Exception) -> JSONResponse:
    return _problem(
        401,
        "Send the documents API token as 'Authorization: Bearer TOKEN' (DESPATCH_ADMIN_TOKEN).",
        {"WWW-Authenticate": "Bearer"},
    )
