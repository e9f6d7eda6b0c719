"""The documents API a newsroom CMS pushes stories through: ``PUT``/``GET``/``DELETE
/api/documents/{id}`` and ``GET /api/documents``, behind a bearer token.

Mounted by ``web.server`` only when ``DESPATCH_ADMIN_TOKEN`` is set (otherwise the routes do not
exist and answer 404). A story goes through the same all-or-nothing write as ``despatch
ingest``: readers see the old version or the new one, never half of either, and the running
server answers from it on the next question (the retriever follows the store's commits).
"""

from __future__ import annotations

import hmac
import itertools
import logging
import re
import secrets
import threading
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bot.core import Bot
from despatch.errors import ConfigError, DespatchError, RequestError
from despatch.settings import Settings
from index.ingest import Indexer
from index.json_records import SAFE_ID, record_document
from index.records import Document

log = logging.getLogger(__name__)

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


class JobStatus(BaseModel):
    """A story queued with ``Prefer: respond-async``."""

    job: str
    id: str = Field(..., description="The story's document id.")
    status: str = Field(
        ...,
        description="queued, preparing, added, updated, unchanged, failed or superseded (a newer version "
        "or an unpublishing came in first); failed and superseded wrote nothing",
    )
    chunks: int | None = None
    detail: str | None = Field(None, description="Why it failed.")


class Turns:
    """The order writes to each document id arrived in. A story is committed only if no later
    write (a newer version, or its unpublishing) arrived for its id while it was prepared, so
    stories prepared side by side never land out of order."""

    def __init__(self) -> None:
        self._latest: dict[str, int] = {}
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def take(self, doc_id: str) -> int:
        """The turn of a write to ``doc_id`` arriving now (it supersedes every earlier one)."""
        with self._lock:
            turn = self._latest[doc_id] = next(self._count)
            return turn

    def latest(self, doc_id: str, turn: int) -> bool:
        with self._lock:
            return self._latest.get(doc_id) == turn

    def done(self, doc_id: str, turn: int) -> None:
        """Forget ``doc_id`` once its latest write has finished (the book stays small)."""
        with self._lock:
            if self._latest.get(doc_id) == turn:
                del self._latest[doc_id]


SUPERSEDED = (
    "A newer version of this story, or its unpublishing, arrived while this one was being "
    "prepared; this one was not written."
)


class Jobs:
    """Stories queued by ``Prefer: respond-async``: each written in a thread of its own by
    ``write`` (the same path as a waiting PUT, with the write's turn), at most ``limit``
    unfinished at once; the newest ``keep`` are remembered for polling (in memory: a restart
    forgets them)."""

    def __init__(self, write: Callable[[Document, int], PutResult], limit: int = 8, keep: int = 1000) -> None:
        self._write = write
        self.limit = limit
        self.keep = keep
        self._jobs: dict[str, JobStatus] = {}
        self._lock = threading.Lock()

    def submit(self, doc: Document, turn: int) -> JobStatus | None:
        """Queue ``doc`` (its write's ``turn``); None when ``limit`` jobs are unfinished."""
        with self._lock:
            if sum(j.status in ("queued", "preparing") for j in self._jobs.values()) >= self.limit:
                return None
            job = JobStatus(job=secrets.token_urlsafe(12), id=doc.id, status="queued", detail=None)
            self._jobs[job.job] = job
            while len(self._jobs) > self.keep:
                oldest = next(k for k, j in self._jobs.items() if j.status not in ("queued", "preparing"))
                del self._jobs[oldest]
        run = threading.Thread(target=self._run, args=(job.job, doc, turn), name="despatch-job", daemon=True)
        run.start()
        return job.model_copy()

    def _run(self, key: str, doc: Document, turn: int) -> None:
        self._set(key, status="preparing")
        try:
            done = self._write(doc, turn)
        except RequestError as exc:  # 409: superseded by a later write to this id
            self._set(key, status="superseded" if exc.status == 409 else "failed", detail=exc.detail)
        except ConfigError as exc:
            self._set(key, status="failed", detail=f"server configuration error: {exc}")
        except DespatchError as exc:
            self._set(key, status="failed", detail=str(exc))
        except Exception as exc:  # never leave a job "preparing" forever
            log.exception("queued story %s failed", doc.id)
            detail = f"internal error: {type(exc).__name__}; see the server log"
            self._set(key, status="failed", detail=detail)
        else:
            self._set(key, status=done.status, chunks=done.chunks)

    def _set(self, key: str, **fields: Any) -> None:
        with self._lock:
            if key in self._jobs:
                self._jobs[key] = self._jobs[key].model_copy(update=fields)

    def get(self, key: str) -> JobStatus | None:
        with self._lock:
            job = self._jobs.get(key)
            return job.model_copy() if job is not None else None


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

    turns = Turns()

    def write(doc: Document, turn: int) -> PutResult:
        """Prepare and commit ``doc`` unless a later write to its id arrived meanwhile
        (``RequestError`` 409), and wait until the view answers from it; raises
        ``DespatchError`` (``ConfigError``: the server is set up wrong)."""
        try:
            # Chunking and embedding (seconds, minutes for a very long story) hold no lock:
            # other PUTs and DELETEs are not queued behind them; the commit is one short step.
            prepared = indexer.prepare(doc)
            with writing:
                if not turns.latest(doc.id, turn):
                    raise RequestError(409, SUPERSEDED)
                status, chunks = indexer.commit(prepared)
        finally:
            turns.done(doc.id, turn)
        # Answered from the moment the write is reported: the view advances by this story
        # alone (readers keep answering from the current view meanwhile).
        bot.retriever.follow(FOLLOW_S)
        return PutResult(id=doc.id, status=status, chunks=chunks)

    jobs = Jobs(write)

    @router.put("/{doc_id}", response_model=PutResult, responses={202: {"model": JobStatus}})
    def put(request: Request, body: DocumentBody, doc_id: str = doc_id_path) -> Any:
        """Add, replace or leave unchanged (the same body twice writes nothing). With the header
        ``Prefer: respond-async`` the story is checked, queued and answered at once with
        **202** and a job to poll (``GET /api/documents/jobs/{job}``)."""
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
        if "respond-async" in request.headers.get("prefer", "").lower():
            job = jobs.submit(doc, turns.take(doc.id))
            if job is None:
                return _problem(
                    503,
                    f"{jobs.limit} stories are already queued; send this one again when one has finished",
                    {"Retry-After": "30"},
                )
            where = f"{router.prefix}/jobs/{job.job}"
            headers = {"Location": where, "Preference-Applied": "respond-async"}
            return JSONResponse(job.model_dump(), status_code=202, headers=headers)
        try:
            return write(doc, turns.take(doc.id))
        except RequestError as exc:  # a newer write to this id arrived first
            return _problem(exc.status, exc.detail)
        except ConfigError as exc:  # the server is set up wrong: not a passing outage
            return _problem(500, f"server configuration error: {exc}")
        except DespatchError as exc:
            return _problem(503, str(exc))

    @router.get("/jobs/{job}", response_model=JobStatus)
    def job_status(job: str) -> Any:
        """Where a story sent with ``Prefer: respond-async`` is: queued, preparing, then added,
        updated or unchanged (answered from), or failed or superseded (``detail`` says why;
        nothing written)."""
        found = jobs.get(job)
        if found is None:
            gone = f"No such job: it is older than the last {jobs.keep:,}, or the server restarted"
            return _problem(404, f"{gone}; send the story again (a PUT of the same story is safe).")
        return found

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
            turn = turns.take(doc_id)  # a story still being prepared for this id is not written
            gone = SAFE_ID.fullmatch(doc_id) is not None and bot.store.remove(doc_id)
            turns.done(doc_id, turn)
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
