"""The ingest pipeline: discover, read, chunk, embed in batches, write all-or-nothing."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from despatch.errors import DespatchError, InputError
from despatch.settings import Settings
from index.chunking import ChunkLimits, chunk_document
from index.documents import canonical
from index.embedding import space_of
from index.members import Members, load_members
from index.nlp import entities
from index.reading import discover, read_file
from index.records import Chunk, Document, Entity
from index.store import Store
from index.tokens import get_encoding

# Embedding batches span documents so the model always sees full batches.
_EMBED_GROUP = 512


class ChunkingEmbedder(Protocol):
    """What ingest needs of the embedding backend: vectors and the model's token limit."""

    @property
    def max_wordpieces(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]: ...


@dataclass
class IngestSummary:
    """What one ingest did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_written: int = 0
    seconds: float = 0.0
    recovered_chunks: int = 0
    removed: int = 0  # records no longer in the file they came from
    bad_records: int = 0  # records of JSON/JSONL files skipped (their files' good ones went in)
    errors: list[str] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        removed = f", {self.removed} removed" if self.removed else ""
        records = f", {self.bad_records} bad records skipped" if self.bad_records else ""
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged{removed}, "
            f"{self.failed} failed{records}; {self.chunks_written} chunks written in {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class Prepared:
    """A document chunked and embedded, ready to commit (``item`` None: unchanged when made)."""

    doc: Document
    item: tuple[Document, list[Chunk], np.ndarray] | None


class Preparer(Protocol):
    """Where a pushed document is chunked, annotated and embedded (``Settings.preparer``):
    ``Chunker`` in this process, or ``index.preparing.WorkerPreparer`` in a child process."""

    def embedded(self, doc: Document) -> tuple[list[Chunk], np.ndarray]: ...


class Chunker:
    """Chunks, annotates and embeds documents; touches no store (so it also runs in a worker
    process, ``index.preparing``)."""

    def __init__(self, settings: Settings, embedder: ChunkingEmbedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._encoding: Any = None  # loaded on first use: an unchanged re-ingest never needs it

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if self._encoding is None:
            self._encoding = get_encoding(self.settings.encoding, self.settings.tiktoken_cache)
        return [len(ids) for ids in self._encoding.encode_ordinary_batch(list(texts), num_threads=2)]

    def limits(self) -> ChunkLimits:
        return ChunkLimits(
            tokens=self.settings.chunk_tokens,
            overlap=self.settings.chunk_overlap,
            max_wordpieces=self.embedder.max_wordpieces - 2,  # [CLS] and [SEP]
        )

    def chunk(self, doc: Document) -> list[Chunk]:
        return chunk_document(doc, self.limits(), self.count_tokens, self.embedder.count_wordpieces)

    def embedded(self, doc: Document) -> tuple[list[Chunk], np.ndarray]:
        """``doc``'s chunks, annotated, and their vectors."""
        ((_, chunks, vectors),) = self.embedded_many([(doc, self.chunk(doc), False)])
        return chunks, vectors

    def embedded_many(
        self, pending: list[tuple[Document, list[Chunk], bool]]
    ) -> list[tuple[Document, list[Chunk], np.ndarray]]:
        """Annotate and embed the chunks of ``pending`` in one batch.

        The entity recogniser runs in a second thread while the model embeds (what is embedded
        does not depend on the entities); both release the GIL in their numeric kernels."""
        texts = [c.embedding_text() for _, chunks, _ in pending for c in chunks]
        with ThreadPoolExecutor(1, thread_name_prefix="despatch-annotate") as pool:
            annotating = pool.submit(_annotated, pending)
            vectors = self.embedder.embed(texts)
            pending = annotating.result()
        items = []
        offset = 0
        for doc, chunks, _ in pending:
            items.append((doc, chunks, vectors[offset : offset + len(chunks)]))
            offset += len(chunks)
        return items


class Indexer:
    """Turns files into committed documents in a ``Store``."""

    def __init__(
        self, settings: Settings, store: Store, embedder: ChunkingEmbedder, preparer: Preparer | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.chunker = Chunker(settings, embedder)
        self.preparer: Preparer = preparer or self.chunker
        self._members: Members | None = None

    def close(self) -> None:
        """Stop what the preparer runs beside this process (a worker preparer's children)."""
        close = getattr(self.preparer, "close", None)
        if close is not None:
            close()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.chunker.count_tokens(texts)

    def limits(self) -> ChunkLimits:
        return self.chunker.limits()

    def chunk(self, doc: Document) -> list[Chunk]:
        return self.chunker.chunk(doc)

    def members(self) -> Members | None:
        """The members file of the settings (parties for parlparse XML), or None."""
        if self.settings.members_file is None:
            return None
        if self._members is None:
            self._members = load_members(self.settings.members_file)
        return self._members

    def ingest(self, paths: Iterable[Path], progress: Callable[[int], None] | None = None) -> IngestSummary:
        """Ingest files and folders; bad files are reported in the summary and skipped."""
        began = time.perf_counter()
        space = space_of(self.embedder)
        if space is not None:
            self.store.claim_vectors(space)
        summary = IngestSummary(recovered_chunks=self.store.recover())
        committed = self.store.documents()  # one read gives versions and origins
        versions = {d.id: d.version for d in committed}
        by_origin: dict[str, set[str]] = {}
        for d in committed:
            if d.origin:
                by_origin.setdefault(d.origin, set()).add(d.id)
        stale: set[str] = set()
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        members = self.members()
        seen: set[str] = set()
        pending: list[tuple[Document, list[Chunk], bool]] = []
        waiting = 0
        for item in discover(paths):
            if isinstance(item, InputError):
                self._fail(summary, item)
                continue
            problems: list[InputError] = []
            try:
                docs = read_file(item, max_bytes, problems, members)
            except InputError as exc:
                self._fail(summary, exc)
                if progress:
                    progress(1)
                continue
            for problem in problems:  # bad records of a JSON/JSONL file; its good ones go on
                summary.bad_records += 1
                summary.errors.append(str(problem))
            if not problems:
                # A record removed from its file leaves the index with it (only when every
                # record read cleanly: a malformed one might be a stored record's new version).
                stale |= by_origin.get(canonical(item), set()) - {doc.id for doc in docs}
            for doc in docs:
                if doc.id in seen:
                    continue
                seen.add(doc.id)
                if versions.get(doc.id) == doc.version:
                    summary.unchanged += 1
                    summary.documents.append({"id": doc.id, "source": doc.source, "status": "unchanged"})
                    continue
                chunks = self.chunk(doc)
                pending.append((doc, chunks, doc.id in versions))
                waiting += len(chunks)
            if waiting >= _EMBED_GROUP:
                self._flush(pending, summary)
                pending, waiting = [], 0
            if progress:
                progress(1)
        self._flush(pending, summary)
        gone = self.store.remove_many(sorted(stale - seen)) if stale - seen else []
        summary.removed = len(gone)
        for doc_id in gone:
            summary.documents.append({"id": doc_id, "status": "removed"})
        summary.seconds = time.perf_counter() - began
        return summary

    def put(self, doc: Document) -> tuple[str, int]:
        """Add or replace one document that came from no file (the documents API), all or
        nothing: ``("added" | "updated" | "unchanged", chunks)``; unchanged writes nothing."""
        return self.commit(self.prepare(doc))

    def prepare(self, doc: Document) -> Prepared:
        """The slow half of ``put``: chunk, annotate and embed ``doc`` (none of it touches the
        store's writes, so other writers need not wait for it)."""
        stored = self.store.document(doc.id)
        if stored is not None and stored.version == doc.version:
            return Prepared(doc, None)
        chunks, vectors = self.preparer.embedded(doc)
        return Prepared(doc, (doc, chunks, vectors))

    def commit(self, prepared: Prepared) -> tuple[str, int]:
        """The short half of ``put``: write what ``prepare`` made in one commit, unless the
        store already holds this version (another writer committed it meanwhile)."""
        self.store.recover()
        doc = prepared.doc
        stored = self.store.document(doc.id)
        if stored is not None and stored.version == doc.version:
            return "unchanged", stored.chunks
        if prepared.item is None:  # it was unchanged when prepared, and changed since: redo
            return self.commit(self.prepare(doc))
        self.store.write_documents([prepared.item])
        return ("updated" if stored is not None else "added"), len(prepared.item[1])

    def _flush(self, pending: list[tuple[Document, list[Chunk], bool]], summary: IngestSummary) -> None:
        if not pending:
            return
        items = self.chunker.embedded_many(pending)
        try:
            self.store.write_documents(items)
            written = pending
        except DespatchError:
            # Find the document that fails by writing each on its own; the rest still land.
            written = []
            for item, entry in zip(items, pending, strict=True):
                try:
                    self.store.write_documents([item])
                    written.append(entry)
                except DespatchError as exc:
                    self._fail(summary, InputError(entry[0].source, f"not written: {exc}"))
        for doc, chunks, existed in written:
            summary.chunks_written += len(chunks)
            if existed:
                summary.updated += 1
            else:
                summary.added += 1
            status = "updated" if existed else "added"
            summary.documents.append(
                {"id": doc.id, "source": doc.source, "status": status, "chunks": len(chunks)}
            )

    @staticmethod
    def _fail(summary: IngestSummary, error: InputError) -> None:
        summary.failed += 1
        summary.errors.append(f"{error} (file skipped)")


_REGION_CHARS = 20_000  # longest text given to the entity recogniser at once (see index.nlp.BATCH_CHARS)


def _annotated(
    pending: list[tuple[Document, list[Chunk], bool]],
) -> list[tuple[Document, list[Chunk], bool]]:
    """Chunks with their named entities in ``meta.entities``, so answering never runs the
    entity recogniser on passages.

    Overlapping chunks are annotated once, as the one stretch of the document they cover
    (the overlap is not read twice); each chunk keeps the entities wholly inside it."""
    regions: list[tuple[int, int, int]] = []  # (pending index, start, end)
    for i, (_, chunks, _) in enumerate(pending):
        for c in sorted(chunks, key=lambda c: c.start):
            last = regions[-1] if regions else None
            if last and last[0] == i and c.start < last[2] and c.end - last[1] <= _REGION_CHARS:
                regions[-1] = (i, last[1], max(last[2], c.end))
            else:
                regions.append((i, c.start, c.end))
    found = entities([pending[i][0].text[start:end] for i, start, end in regions])
    by_doc: dict[int, list[Entity]] = {}
    for (i, start, _), ents in zip(regions, found, strict=True):
        known = by_doc.setdefault(i, [])
        # regions of one document only overlap when a region was cut at _REGION_CHARS
        seen = {(e.start, e.end) for e in known if e.end > start}
        known.extend(
            Entity(start + e.start, start + e.end, e.label)
            for e in ents
            if (start + e.start, start + e.end) not in seen
        )
    out = []
    for i, (doc, chunks, existed) in enumerate(pending):
        in_doc = sorted(by_doc.get(i, []), key=lambda e: (e.start, e.end))
        starts = [e.start for e in in_doc]
        annotated = []
        for c in chunks:  # each chunk looks only at the entities starting inside it
            inside = in_doc[bisect_left(starts, c.start) : bisect_left(starts, c.end)]
            own = [Entity(e.start - c.start, e.end - c.start, e.label) for e in inside if e.end <= c.end]
            annotated.append(replace(c, meta=c.meta.with_entities(own)))
        out.append((doc, annotated, existed))
    return out


def count_files(paths: Iterable[Path]) -> int:
    """How many files an ingest of ``paths`` will look at (for a progress bar)."""
    return sum(1 for _ in discover(paths))
