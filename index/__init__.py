"""The index stage: read, clean, chunk, embed and store documents.

Public API: ``Document``, ``Chunk``, ``Section``, ``read_file``, ``chunk_document``,
``ChunkLimits``, ``SentenceTransformerEmbedder``, ``OnnxEmbedder``, ``VectorSpace``, ``Store``,
``Indexer``, ``IngestSummary``.
Modules are imported lazily so ``import index`` is instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Document": "index.records",
    "Chunk": "index.records",
    "Section": "index.records",
    "read_file": "index.reading",
    "chunk_document": "index.chunking",
    "ChunkLimits": "index.chunking",
    "SentenceTransformerEmbedder": "index.embedding",
    "OnnxEmbedder": "index.onnx_embedding",
    "VectorSpace": "index.records",
    "Store": "index.store",
    "StoredDocument": "index.store",
    "Indexer": "index.ingest",
    "IngestSummary": "index.ingest",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'index' has no attribute {name!r}")
