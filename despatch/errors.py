"""The one exception hierarchy of Despatch.

    DespatchError                  anything the user can fix; the CLI prints it, exit 2
    ├── ConfigError                a setting is invalid or a resource is missing
    │   └── OfflineResourceError   a model or encoding file is not installed
    ├── InputError                 one input file cannot be read (reported, skipped)
    ├── StoreError                 the index is missing, corrupt or unreachable
    ├── AnswerError                an answerer (LLM endpoint) failed
    └── RequestError               a reader's request is over a limit or malformed (HTTP 4xx)

Foreign exceptions (chromadb, sentence-transformers, LangChain, HTTP) are wrapped where
they enter the code, with ``raise ... from exc``. Anything else is a bug.
"""

from __future__ import annotations

from pathlib import Path


class DespatchError(Exception):
    """Base class: the message says what happened and what to do."""


class ConfigError(DespatchError):
    """A setting is invalid or something it points to is missing."""


class OfflineResourceError(ConfigError):
    """A model or tokenizer file that must ship in a package is not installed."""


class InputError(DespatchError):
    """One input document cannot be read; the others are still ingested."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class StoreError(DespatchError):
    """The index is missing, corrupt or unreachable."""


class IndexingError(StoreError):
    """A document could not be prepared for the index (its worker process died); nothing was
    written."""


class AnswerError(DespatchError):
    """An answerer failed (for example the LLM endpoint is unreachable)."""


class RequestError(DespatchError):
    """A reader's request cannot be taken; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)
