"""The Chroma store: chunks with embeddings, full document texts, and a write protocol
that makes each document all-or-nothing.

Three collections share a name prefix: ``<name>_chunks`` (one record per chunk, cosine
space), ``<name>_docs`` (one record per document: full text and metadata; its vector is the
mean of its chunks') and ``<name>_meta`` (a generation counter and a dirty flag).

Writing a document: upsert its new chunks (ids derive from the content version), then the
document record (the commit point), then delete the chunks of any other version. A failure
rolls the new chunks back; a crash leaves the dirty flag set, and the next writer sweeps
chunks that no committed document version owns. Readers only trust chunks whose version
matches their document's committed version.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from despatch.errors import StoreError
from despatch.settings import Settings
from index.chroma import Gate, connect, where_clause
from index.filters import Filters
from index.records import (
    LEGACY_SPACE,
    Chunk,
    ChunkMeta,
    Document,
    DocumentMeta,
    VectorSpace,
)

_BATCH = 2000
_META_ID = "state"
# Each commit also writes a journal record (the documents it wrote or removed), so a reader's
# view changes by its delta; the newest _JOURNAL_KEEP are kept. A commit of more documents than
# _JOURNAL_MAX_IDS names none ("*"): readers rebuild, which costs no more than the write did.
_JOURNAL = "journal"
_JOURNAL_KEEP = 1000
_JOURNAL_MAX_IDS = 5000
# Source fields that belong to a transcript's turns, not to a whole document's summary.
_TURN_FIELDS = frozenset({"speaker", "party", "column"})


@dataclass(frozen=True, kw_only=True)
class StoredDocument(DocumentMeta):
    """A document as the store holds it: its metadata, its id and (when read) its text."""

    id: str
    text: str = ""

    def summary(self) -> dict[str, Any]:
        """The documents API's and ``despatch docs``'s form: the id, the source fields (but a
        transcript turn's own: speaker, party and column are its sections'), kind, tags and the
        number of chunks."""
        shown = {k: v for k, v in self.source_fields().items() if k not in _TURN_FIELDS}
        return {"id": self.id, **shown, "kind": self.kind, "tags": list(self.tags), "chunks": self.chunks}


@dataclass(frozen=True)
class StoredChunk:
    """A chunk read back from the store."""

    id: str
    text: str
    meta: ChunkMeta


class Store:
    """Documents and chunks in Chroma; the only module that talks to chromadb."""

    def __init__(self, client: Any, name: str, where: str, reopen: Any = None) -> None:
        self.where = where
        self.name = name
        self._reopen = reopen
        self._gate = Gate()
        self._own: deque[str] = deque(maxlen=64)  # the commit tokens this handle made
        self._bind(client)

    def _bind(self, client: Any) -> None:
        try:
            # One HNSW build thread: parallel inserts make the graph, and so the ranking of
            # near-ties, differ from run to run; evaluations must be repeatable.
            self.chunks = client.get_or_create_collection(
                f"{self.name}_chunks",
                metadata={"hnsw:space": "cosine", "hnsw:num_threads": 1, "hnsw:search_ef": 100},
                embedding_function=None,
            )
            self.docs = client.get_or_create_collection(
                f"{self.name}_docs", metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
            self.meta = client.get_or_create_collection(f"{self.name}_meta", embedding_function=None)
        except Exception as exc:
            raise StoreError(
                f"Cannot open the index at {self.where} ({exc}). If it is corrupt, move it aside and "
                "rebuild it with: despatch ingest ARTICLES..."
            ) from exc

    @classmethod
    def open(cls, settings: Settings, create: bool = False) -> Store:
        """Open (or with ``create``, create) the store the settings name."""
        where = settings.chroma_url or str(settings.store)

        def reopen() -> Any:
            if not settings.chroma_url:
                # An embedded client caches segments per process; another process's writes
                # are only seen by a fresh one.
                from chromadb.api.client import SharedSystemClient

                SharedSystemClient.clear_system_cache()
            return connect(settings, create)

        return cls(connect(settings, create), settings.collection, where, reopen)

    def refresh(self) -> None:
        """Reconnect, so that writes made by other processes are visible. Waits for operations
        in flight on the old client, and holds new ones back until the new client is bound."""
        if self._reopen is not None:
            with self._gate.exclusive():
                self._bind(self._reopen())

    def view_cache(self, settings: Settings) -> Path:
        """Where retrieval views of this store are saved: beside an embedded store, or under
        the store folder for a Chroma server (one folder per server and collection)."""
        if settings.chroma_url:
            tag = "".join(ch if ch.isalnum() else "_" for ch in settings.chroma_url)
            return Path(settings.store) / "views" / f"{tag}-{self.name}"
        return Path(settings.store) / "views" / self.name

    # -- state -------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        got = self._call("meta", "get", ids=[_META_ID], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] else {"generation": 0, "dirty": ""}

    def _set_state(self, **changes: Any) -> None:
        state = self._state()
        state.update(changes)
        self._call("meta", "upsert", ids=[_META_ID], embeddings=[[0.0]], metadatas=[state])

    def _commit(self, changed: Sequence[str]) -> None:
        """Journal the documents ``changed`` (written, replaced or removed), then clear the dirty
        flag, bump the generation and draw a new commit token: the state record is the commit
        point. A journal record whose commit never happened (a crash between the two) names
        documents whose committed state a reader reads again: harmless."""
        state = self._state()
        generation, token = int(state.get("generation", 0)) + 1, uuid.uuid4().hex
        ids = sorted(set(changed))
        record = {"kind": _JOURNAL, "generation": generation, "docs": "|".join(ids)}
        if len(ids) > _JOURNAL_MAX_IDS:
            record["docs"] = "*"
        self._call("meta", "upsert", ids=[f"{_JOURNAL}:{token}"], embeddings=[[0.0]], metadatas=[record])
        state.update(dirty="", generation=generation, token=token)
        self._call("meta", "upsert", ids=[_META_ID], embeddings=[[0.0]], metadatas=[state])
        self._own.append(f"{self.chunks.id}-{generation}-{token}")
        if generation % 100 == 0:
            old = {"$and": [{"kind": _JOURNAL}, {"generation": {"$lte": generation - _JOURNAL_KEEP}}]}
            self._call("meta", "delete", where=old)

    def made_since(self, since: str, latest: str) -> bool:
        """Whether this handle made every commit after ``since`` up to ``latest`` (so its client
        has seen every write, and needs no reconnecting to see them)."""
        if latest not in self._own:
            return False
        mine = {int(t.rsplit("-", 2)[1]) for t in self._own}
        try:
            first, last = int(since.rsplit("-", 2)[1]) + 1, int(latest.rsplit("-", 2)[1])
        except (IndexError, ValueError):
            return False
        return all(g in mine for g in range(first, last + 1))

    def changed_since(self, token: str) -> set[str] | None:
        """The ids of the documents written or removed by the commits after ``token`` (one of
        ``token()``'s values), or None when the journal cannot say: another collection, a
        commit too large or too old to be journalled, or a token this store never made."""
        try:
            collection, generation, drawn = token.rsplit("-", 2)
            since = int(generation)
        except ValueError:
            return None
        state = self._state()
        now = int(state.get("generation", 0))
        if collection != str(self.chunks.id) or since > now:
            return None
        if since == now:
            return set() if token == self.token() else None
        got = self._call(
            "meta",
            "get",
            where={"$and": [{"kind": _JOURNAL}, {"generation": {"$gte": since}}]},
            include=["metadatas"],
        )
        # Two processes that commit at once can both take generation ``since``; the reader saw
        # one of them, and what the other wrote is in no later record: read everything again.
        if any(
            int(m["generation"]) == since and i != f"{_JOURNAL}:{drawn}"
            for i, m in zip(got["ids"], got["metadatas"], strict=True)
        ):
            return None
        records = [m for m in got["metadatas"] if int(m["generation"]) > since]
        if not set(range(since + 1, now + 1)) <= {int(m["generation"]) for m in records}:
            return None
        if any(m.get("docs") == "*" for m in records):
            return None
        return {d for m in records for d in str(m.get("docs") or "").split("|") if d}

    def generation(self) -> int:
        """A counter that changes whenever any document is written or removed."""
        return int(self._state().get("generation", 0))

    def token(self) -> str:
        """Names the store's current commit: differs after any write, by any process.

        It combines the chunk collection's id (new when a store is rebuilt) with a random token
        drawn at each commit (two writers can never make the same one, unlike the generation).
        """
        state = self._state()
        return f"{self.chunks.id}-{state.get('generation', 0)}-{state.get('token', '')}"

    # -- which vectors it holds ---------------------------------------------------------
    def vector_space(self) -> VectorSpace | None:
        """The model and backend whose vectors the store holds; None when it holds none."""
        if not self._call("docs", "count"):
            return None
        return VectorSpace.from_metadata(self._state()) or LEGACY_SPACE

    def check_vectors(self, space: VectorSpace) -> None:
        """Refuse to search or write the store with vectors that are not comparable to its own."""
        held = self.vector_space()
        if held is None or held.compatible(space):
            return
        fix = (
            "set DESPATCH_EMBED_BACKEND=onnx or torch (fp32: the two are interchangeable)"
            if held.precision == "fp32"
            else f"set DESPATCH_EMBED_BACKEND={held.backend}"
        )
        if held.fingerprint != space.fingerprint and held.fingerprint and space.fingerprint:
            fix = f"point DESPATCH_MODEL_PATH at the model that wrote it ({held.model})"
        raise StoreError(
            f"The index at {self.where} holds vectors from {held.describe()}; this process embeds "
            f"with {space.describe()}, whose vectors are not comparable and are never mixed. Either "
            f"{fix}, or rebuild the index with this backend: move {self.where} aside (or choose "
            "another --store / DESPATCH_COLLECTION) and run despatch ingest ARTICLES..."
        )

    def claim_vectors(self, space: VectorSpace) -> None:
        """Before a write: check ``space`` against the store's, and record it when the store
        records none (new, emptied, or written before spaces were recorded)."""
        self.check_vectors(space)
        recorded = VectorSpace.from_metadata(self._state())
        if recorded is None or not self._call("docs", "count"):
            self._set_state(**space.to_metadata())

    def _call(self, collection: str, op: str, **kwargs: Any) -> Any:
        """Run one Chroma operation, never while ``refresh`` swaps the client underneath."""
        try:
            with self._gate.shared():
                return getattr(getattr(self, collection), op)(**kwargs)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Chroma failed on {self.where}: {exc}") from exc

    # -- reading -----------------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        """Committed version of every document, by id."""
        return {d: m.version for d, m in self.catalog().items()}

    def catalog(self, doc_ids: Sequence[str] | None = None) -> dict[str, DocumentMeta]:
        """Every committed document's record without its text (or those of ``doc_ids`` the
        store holds), in the store's order."""
        if doc_ids is None:
            got = self._call("docs", "get", include=["metadatas"])
            return {
                d: DocumentMeta.from_metadata(m) for d, m in zip(got["ids"], got["metadatas"], strict=True)
            }
        out: dict[str, DocumentMeta] = {}
        ids = sorted(set(doc_ids))
        for i in range(0, len(ids), _BATCH):
            got = self._call("docs", "get", ids=ids[i : i + _BATCH], include=["metadatas"])
            out.update(
                {d: DocumentMeta.from_metadata(m) for d, m in zip(got["ids"], got["metadatas"], strict=True)}
            )
        return out

    def versions_of(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """The committed version of each of ``doc_ids`` that the store holds."""
        return {d: m.version for d, m in self.catalog(doc_ids).items()}

    def chunks_of(self, versions: dict[str, str], embeddings: bool = False) -> list[tuple[StoredChunk, Any]]:
        """The committed chunks of the documents ``versions`` names (at those versions), with
        their vectors when ``embeddings``; read by document id, never by reading the store."""
        out: list[tuple[StoredChunk, Any]] = []
        ids = sorted(versions)
        include = ["metadatas", "documents", *(["embeddings"] if embeddings else [])]
        for i in range(0, len(ids), 200):
            got = self._call("chunks", "get", where={"doc_id": {"$in": ids[i : i + 200]}}, include=include)
            vectors = got["embeddings"] if embeddings else [None] * len(got["ids"])
            for cid, text, meta, vector in zip(
                got["ids"], got["documents"], got["metadatas"], vectors, strict=True
            ):
                chunk = StoredChunk(cid, text or "", ChunkMeta.from_metadata(meta))
                if versions.get(chunk.meta.doc_id) == chunk.meta.version:
                    out.append((chunk, vector))
        return out

    def documents(self) -> list[StoredDocument]:
        """Every committed document, without its text, sorted by date then title."""
        got = self._call("docs", "get", include=["metadatas"])
        docs = [_stored(i, m, "") for i, m in zip(got["ids"], got["metadatas"], strict=True)]
        return sorted(docs, key=lambda d: (d.date or "", d.title, d.id))

    def document(self, doc_id: str) -> StoredDocument | None:
        """One document with its full text, or None."""
        got = self._call("docs", "get", ids=[doc_id], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        return _stored(doc_id, got["metadatas"][0], got["documents"][0] or "")

    def document_texts(self, doc_ids: Sequence[str]) -> dict[str, StoredDocument]:
        """Several documents with their text, by id."""
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        got = self._call("docs", "get", ids=ids, include=["metadatas", "documents"])
        return {
            i: _stored(i, m, t or "")
            for i, m, t in zip(got["ids"], got["metadatas"], got["documents"], strict=True)
        }

    def count_chunks(self) -> int:
        return int(self._call("chunks", "count"))

    def iter_chunks(self, versions: dict[str, str] | None = None, page: int = 5000) -> Iterator[StoredChunk]:
        """Every chunk whose version is its document's committed version."""
        versions = self.versions() if versions is None else versions
        offset = 0
        while True:
            got = self._call("chunks", "get", include=["metadatas", "documents"], limit=page, offset=offset)
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                chunk = StoredChunk(cid, text or "", ChunkMeta.from_metadata(meta))
                if versions.get(chunk.meta.doc_id) == chunk.meta.version:
                    yield chunk
            if len(got["ids"]) < page:
                return
            offset += page

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each chunk, by id."""
        out: dict[str, np.ndarray] = {}
        ids = list(chunk_ids)
        for i in range(0, len(ids), _BATCH):
            got = self._call("chunks", "get", ids=ids[i : i + _BATCH], include=["embeddings"])
            embs = np.asarray(got["embeddings"], dtype=np.float32)
            out.update({cid: embs[j] for j, cid in enumerate(got["ids"])})
        return out

    def chunk_ids(self, doc_id: str) -> list[str]:
        got = self._call("chunks", "get", where={"doc_id": doc_id}, include=[])
        return list(got["ids"])

    def query(
        self,
        vector: np.ndarray,
        n: int,
        filters: Filters | None = None,
        versions: Mapping[str, str] | None = None,
    ) -> list[tuple[StoredChunk, float]]:
        """Nearest committed chunks to ``vector`` with cosine similarity.

        Only chunks of a document's committed version count (``versions``, default the store's
        now): a chunk written by an unfinished or superseded write is never returned.
        """
        total = self.count_chunks()
        if total == 0 or n <= 0:
            return []
        versions = self.versions() if versions is None else versions
        got = self._call(
            "chunks",
            "query",
            query_embeddings=[vector.tolist()],
            n_results=min(n, total),
            where=where_clause(filters),
            include=["metadatas", "documents", "distances"],
        )
        out = []
        for cid, text, meta, dist in zip(
            got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
        ):
            chunk = StoredChunk(cid, text or "", ChunkMeta.from_metadata(meta))
            if versions.get(chunk.meta.doc_id) == chunk.meta.version:
                out.append((chunk, 1.0 - float(dist)))
        return out

    # -- writing -----------------------------------------------------------------------
    def write_document(self, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write ``doc`` and its chunks all-or-nothing, replacing any older version."""
        self.write_documents([(doc, chunks, vectors)])

    def write_documents(self, items: Sequence[tuple[Document, Sequence[Chunk], np.ndarray]]) -> None:
        """Write several documents with one commit: each is all-or-nothing, and so is the group.

        Chunks first (their ids carry the new version, so readers ignore them), then every
        document record in one upsert (the commit point), then older versions' chunks go.
        """
        if not items:
            return
        for doc, chunks, vectors in items:
            if len(chunks) != len(vectors):
                raise StoreError(f"{doc.source}: {len(chunks)} chunks but {len(vectors)} vectors")
        self._set_state(dirty=",".join(doc.id for doc, _, _ in items)[:1000])
        chunks = [c for _, cs, _ in items for c in cs]
        vectors = np.concatenate([v for _, _, v in items if len(v)]) if chunks else np.zeros((0, 384))
        new_ids = [c.id for c in chunks]
        try:
            for i in range(0, len(chunks), _BATCH):
                part = chunks[i : i + _BATCH]
                self._call(
                    "chunks",
                    "upsert",
                    ids=[c.id for c in part],
                    embeddings=vectors[i : i + _BATCH].tolist(),
                    documents=[c.text for c in part],
                    metadatas=[c.meta.to_metadata() for c in part],
                )
            for i in range(0, len(items), _BATCH):
                group = items[i : i + _BATCH]
                self._call(
                    "docs",
                    "upsert",
                    ids=[doc.id for doc, _, _ in group],
                    embeddings=[_mean(v) for _, _, v in group],
                    documents=[doc.text for doc, _, _ in group],
                    metadatas=[doc.to_metadata(len(cs)) for doc, cs, _ in group],
                )
        except BaseException:
            self._rollback(new_ids)
            raise
        self._call(
            "chunks",
            "delete",
            where={
                "$and": [
                    {"doc_id": {"$in": [doc.id for doc, _, _ in items]}},
                    {"version": {"$nin": [doc.version for doc, _, _ in items]}},
                ]
            },
        )
        # Records of the same sources made by earlier versions (another id scheme) go in the
        # same commit, so the old and the new copy are never both answered from.
        written = {doc.id for doc, _, _ in items}
        replaced = sorted({old for doc, _, _ in items for old in doc.replaces} - written)
        if replaced:
            self._call("docs", "delete", ids=replaced)
            self._call("chunks", "delete", where={"doc_id": {"$in": replaced}})
        self._commit([*written, *replaced])

    def _rollback(self, ids: list[str]) -> None:
        for i in range(0, len(ids), _BATCH):
            self._call("chunks", "delete", ids=ids[i : i + _BATCH])

    def remove(self, doc_id: str) -> bool:
        """Delete a document and its chunks; False when there was none."""
        return bool(self.remove_many([doc_id]))

    def remove_many(self, doc_ids: Sequence[str]) -> list[str]:
        """Delete documents and their chunks in one commit; returns the ids that existed."""
        ids = sorted(set(doc_ids))
        existing = list(self._call("docs", "get", ids=ids, include=[])["ids"]) if ids else []
        if not existing:
            return []
        self._set_state(dirty=",".join(existing)[:1000])
        self._call("docs", "delete", ids=existing)
        self._call("chunks", "delete", where={"doc_id": {"$in": existing}})
        self._commit(existing)
        return existing

    def recover(self) -> int:
        """After a crash mid-write, delete chunks no committed document owns; returns how many."""
        if not self._state().get("dirty"):
            return 0
        versions = self.versions()
        got = self._call("chunks", "get", include=["metadatas"])
        orphans = [
            cid
            for cid, meta in zip(got["ids"], got["metadatas"], strict=True)
            if versions.get((m := ChunkMeta.from_metadata(meta)).doc_id) != m.version
        ]
        self._rollback(orphans)
        self._commit([])
        return len(orphans)


def _mean(vectors: np.ndarray) -> list[float]:
    """A document's vector: the normalised mean of its chunks'."""
    if not len(vectors):
        return [0.0] * 384
    mean = vectors.mean(axis=0)
    return (mean / (float(np.linalg.norm(mean)) or 1.0)).tolist()


def _stored(doc_id: str, meta: dict[str, Any] | None, text: str) -> StoredDocument:
    return StoredDocument(id=doc_id, text=text, **vars(DocumentMeta.from_metadata(meta)))
