"""How the store talks to Chroma: the client (a local folder or a ``chroma run`` server), the
``where`` clause that carries a scope's filters, and the gate that lets a reconnect wait for the
operations in flight. ``index.store`` builds the write protocol on top."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from despatch.errors import StoreError
from despatch.settings import Settings
from index.filters import Filters
from index.records import TAG_KEY, date_ord


def connect(settings: Settings, create: bool) -> Any:
    """A Chroma client: for the server at ``settings.chroma_url`` when one is set, else for the
    local folder ``settings.store`` (made when ``create``). Raises ``StoreError`` with the fix."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        try:
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises bare Exception/ValueError on connect
            raise StoreError(
                f"Cannot reach the Chroma server at {settings.chroma_url} ({exc}); start it with "
                "`chroma run --host 127.0.0.1 --port PORT` or unset DESPATCH_CHROMA_URL"
            ) from exc
    path = Path(settings.store)
    if not create and not (path / "chroma.sqlite3").exists():
        raise StoreError(
            f"No index at {path}. Build one with: despatch ingest ARTICLES... "
            "(or point --store / DESPATCH_STORE at an existing index)"
        )
    if path.exists() and not path.is_dir():
        raise StoreError(f"The store path {path} is a file, not a folder; choose another --store")
    path.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(
            f"The index at {path} is corrupt or unreadable ({exc}). Move it aside and rebuild "
            "it with: despatch ingest ARTICLES..."
        ) from exc


def where_clause(filters: Filters | None) -> dict[str, Any] | None:
    """Chroma's ``where`` clause for ``filters`` (the metadata keys are ``ChunkMeta``'s).

    Speaker and party are matched loosely (``Filters.allows``), which Chroma cannot do: the
    retriever applies them itself."""
    if filters is None:
        return None
    clauses: list[dict[str, Any]] = []
    if filters.date_from:
        clauses.append({"date_ord": {"$gte": date_ord(filters.date_from)}})
    if filters.date_to:
        clauses.append({"date_ord": {"$lte": date_ord(filters.date_to)}})
    if filters.source:
        clauses.append({"source": filters.source})
    if filters.doc_ids:
        clauses.append({"doc_id": {"$in": list(filters.doc_ids)}})
    if filters.tags:
        any_tag = [{f"{TAG_KEY}{t}": 1} for t in filters.tags]
        clauses.append(any_tag[0] if len(any_tag) == 1 else {"$or": any_tag})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class Gate:
    """A readers-writer lock: many operations at once, or one reconnect alone."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._exclusive = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._exclusive = True
            while self._active:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()
