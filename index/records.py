"""Typed records that cross module boundaries in the index stage.

``SourceFields`` is the one record of where a text comes from (title, source, date, url, byline,
section, speaker, party, column); documents, chunks, and the bot's passages and citations carry
it as their base, and ``SourceFields.source_metadata`` / ``read_metadata`` are its one mapping to
the store. ``ChunkMeta`` and ``DocumentMeta`` map their own fields beside it: this module is the
only place that knows Chroma's metadata keys. Everything else reads typed fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

Scalar = str | int


@dataclass(frozen=True)
class Entity:
    """A named entity of a text: ``text[start:end]`` with spaCy's label (PERSON, DATE...)."""

    start: int
    end: int
    label: str


def encode_entities(ents: Sequence[Entity]) -> str:
    """Compact form for chunk metadata (Chroma stores scalars only): ``start,end,LABEL;...``."""
    return ";".join(f"{e.start},{e.end},{e.label}" for e in ents)


def decode_entities(value: object) -> tuple[Entity, ...] | None:
    """The inverse of ``encode_entities``; ``None`` when a chunk was never annotated."""
    if not isinstance(value, str):
        return None
    out = []
    for item in value.split(";"):
        if item:
            start, end, label = item.split(",", 2)
            out.append(Entity(int(start), int(end), label))
    return tuple(out)


def date_ord(date: str | None) -> int | None:
    """``2018-04-26`` as the integer 20180426 (Chroma compares numbers, not strings)."""
    return int(date.replace("-", "")) if date else None


@dataclass(frozen=True)
class Section:
    """A span of a document with its own metadata (a transcript turn, say): a parlparse
    speech also has its person id, Hansard column and URL; a division's span its number."""

    start: int
    end: int
    speaker: str | None = None
    party: str | None = None
    speech: int | None = None
    person_id: str | None = None
    column: str | None = None
    url: str | None = None  # the section's own link; the document's when None
    division: int | None = None


@dataclass(frozen=True, kw_only=True)
class SourceFields:
    """Where a text comes from, as a reader sees it cited: the publication or record (``source``),
    its headline or debate title, date, link, byline and newsroom section, and for a transcript
    turn the speaker, their party and the Hansard column. Every record that names a source
    inherits these fields; adding one touches this record and its two storage methods only."""

    title: str = ""
    source: str = ""
    date: str | None = None
    url: str | None = None
    byline: str | None = None
    section: str | None = None  # the newsroom's section (politics, home affairs...)
    speaker: str | None = None
    party: str | None = None
    column: str | None = None  # the Hansard column of a parlparse speech or division

    def source_fields(self) -> dict[str, Any]:
        """These fields by name, to build another record of the same source with."""
        return {f.name: getattr(self, f.name) for f in fields(SourceFields)}

    def source_metadata(self) -> dict[str, Scalar]:
        """The fields as Chroma metadata: title and source always, the rest when set (and the
        date also as ``date_ord``, a number Chroma can compare)."""
        meta: dict[str, Scalar] = {"title": self.title, "source": self.source}
        for name, value in self.source_fields().items():
            if name not in meta and value:
                meta[name] = value
        if self.date:
            meta["date_ord"] = date_ord(self.date) or 0
        return meta

    @staticmethod
    def read_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
        """The fields read back from ``source_metadata``'s form."""
        return {
            f.name: str(meta.get(f.name, "")) if f.name in ("title", "source") else _opt(meta.get(f.name))
            for f in fields(SourceFields)
        }


@dataclass(frozen=True, kw_only=True)
class Document(SourceFields):
    """A cleaned source document; chunk offsets refer to ``text``. Its speaker, party and column
    are a whole document's (its ``sections`` carry each turn's)."""

    id: str
    text: str
    tags: tuple[str, ...] = ()  # normalised by ``normal_tags``
    kind: str = "article"  # "article", "transcript", "debate" or "division"
    sections: tuple[Section, ...] = ()
    version: str = ""  # content hash; changes whenever text or metadata change
    replaces: tuple[str, ...] = ()  # ids of earlier versions' records of this same source
    origin: str = ""  # canonical path of the file it was read from ("" when not from a file)

    def to_metadata(self, chunks: int) -> dict[str, Scalar]:
        """The document record's metadata in the store."""
        return DocumentMeta(
            **self.source_fields(),
            kind=self.kind,
            version=self.version,
            tags=self.tags,
            chunks=chunks,
            origin=self.origin,
        ).to_metadata()


@dataclass(frozen=True, kw_only=True)
class DocumentMeta(SourceFields):
    """A document's metadata as the store holds it."""

    version: str
    kind: str = "article"
    tags: tuple[str, ...] = ()
    chunks: int = 0
    origin: str = ""

    def to_metadata(self) -> dict[str, Scalar]:
        meta: dict[str, Scalar] = {
            **self.source_metadata(),
            "kind": self.kind,
            "version": self.version,
            "chunks": self.chunks,
        }
        if self.origin:
            meta["origin"] = self.origin
        meta.update(_tag_metadata(self.tags))
        return meta

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any] | None) -> DocumentMeta:
        meta = meta or {}
        return cls(
            **SourceFields.read_metadata(meta),
            version=str(meta.get("version", "")),
            kind=str(meta.get("kind", "article")),
            tags=_tags(meta.get("tags")),
            chunks=int(meta.get("chunks", 0) or 0),
            origin=str(meta.get("origin") or ""),
        )


@dataclass(frozen=True, kw_only=True)
class ChunkMeta(SourceFields):
    """Everything the store keeps about a chunk besides its text and vector; its source fields
    are its document's, with a transcript turn's own url, speaker, party and column."""

    doc_id: str
    version: str  # the document version this chunk belongs to
    ordinal: int
    start: int  # offsets into the document's text
    end: int
    tokens: int
    kind: str = "article"
    tags: tuple[str, ...] = ()
    speech: int | None = None
    person_id: str | None = None
    division: int | None = None
    entities: tuple[Entity, ...] | None = None  # offsets into the chunk text; None: not annotated

    @property
    def date_ord(self) -> int | None:
        return date_ord(self.date)

    def to_metadata(self) -> dict[str, Scalar]:
        """Flat metadata for Chroma (str/int/float/bool only; absent fields are left out)."""
        meta: dict[str, Scalar] = {
            "doc_id": self.doc_id,
            "version": self.version,
            "ordinal": self.ordinal,
            "start": self.start,
            "end": self.end,
            "tokens": self.tokens,
            **self.source_metadata(),
            "kind": self.kind,
        }
        optional: dict[str, Scalar | None] = {
            "speech": self.speech,
            "person_id": self.person_id,
            "division": self.division,
        }
        meta.update({k: v for k, v in optional.items() if v is not None and v != ""})
        meta.update(_tag_metadata(self.tags))
        if self.entities is not None:
            meta["entities"] = encode_entities(self.entities)
        return meta

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any] | None) -> ChunkMeta:
        """Read back ``to_metadata``; a missing metadata record reads as an empty one."""
        meta = meta or {}
        speech = meta.get("speech")
        division = meta.get("division")
        return cls(
            doc_id=str(meta.get("doc_id", "")),
            version=str(meta.get("version", "")),
            ordinal=int(meta.get("ordinal", 0) or 0),
            start=int(meta.get("start", 0) or 0),
            end=int(meta.get("end", 0) or 0),
            tokens=int(meta.get("tokens", 0) or 0),
            **SourceFields.read_metadata(meta),
            kind=str(meta.get("kind", "article")),
            tags=_tags(meta.get("tags")),
            speech=int(speech) if speech is not None else None,
            person_id=_opt(meta.get("person_id")),
            division=int(division) if division is not None else None,
            entities=decode_entities(meta.get("entities")),
        )

    def with_entities(self, ents: Sequence[Entity]) -> ChunkMeta:
        return replace(self, entities=tuple(ents))


def _opt(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


TAG_KEY = "tag:"  # a boolean metadata key per tag, so Chroma can filter on one


def _tag_metadata(tags: Sequence[str]) -> dict[str, Scalar]:
    meta: dict[str, Scalar] = {}
    if tags:
        meta["tags"] = "|".join(tags)
        meta.update({f"{TAG_KEY}{t}": 1 for t in tags})
    return meta


def _tags(value: object) -> tuple[str, ...]:
    return tuple(t for t in value.split("|") if t) if isinstance(value, str) else ()


def normal_tags(tags: Sequence[str]) -> tuple[str, ...]:
    """Tags as stored: lower case, runs of anything but letters and digits as one ``-``, no
    duplicates, sorted (the same set in another order is the same document)."""
    return tuple(sorted({slug for t in tags if (slug := re.sub(r"[^a-z0-9]+", "-", t.lower()).strip("-"))}))


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document: ``text == document.text[meta.start:meta.end]``."""

    id: str
    text: str
    meta: ChunkMeta = field(compare=False)

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id

    @property
    def ordinal(self) -> int:
        return self.meta.ordinal

    @property
    def start(self) -> int:
        return self.meta.start

    @property
    def end(self) -> int:
        return self.meta.end

    @property
    def tokens(self) -> int:
        return self.meta.tokens

    @property
    def speaker(self) -> str | None:
        return self.meta.speaker

    def embedding_text(self) -> str:
        """What the embedding model sees: the text, prefixed by the speaker when known."""
        return embedding_text(self.text, self.meta.speaker, self.meta.party)


def embedding_text(text: str, speaker: str | None, party: str | None) -> str:
    """A chunk's text as embedded: ``Speaker (Party): text`` for transcript turns."""
    if speaker:
        who = f"{speaker} ({party})" if party else speaker
        return f"{who}: {text}"
    return text


@dataclass(frozen=True, kw_only=True)
class VectorSpace:
    """Which model and backend made a store's vectors.

    Two spaces are compatible when the model's fingerprint and the numeric precision agree:
    torch and ONNX fp32 give the same vectors (cosine 1.0000, differences below 1e-6), int8
    does not. An empty ``fingerprint`` means unknown (a store from before this record existed,
    all of which were written in fp32).
    """

    model: str  # a readable name: the model folder's package or folder name
    fingerprint: str  # a hash of the model's config and weights
    precision: str  # "fp32" or "int8"
    backend: str  # what wrote it: "torch", "onnx", "onnx-int8"

    def compatible(self, other: VectorSpace) -> bool:
        same_model = not self.fingerprint or not other.fingerprint or self.fingerprint == other.fingerprint
        return same_model and self.precision == other.precision

    def describe(self) -> str:
        return f"{self.model} ({self.backend}, {self.precision})"

    def to_metadata(self) -> dict[str, Scalar]:
        return {
            "vectors_model": self.model,
            "vectors_fingerprint": self.fingerprint,
            "vectors_precision": self.precision,
            "vectors_backend": self.backend,
        }

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> VectorSpace | None:
        """The space a store's state records; None when it records none."""
        if "vectors_precision" not in meta:
            return None
        return cls(
            model=str(meta.get("vectors_model", "")),
            fingerprint=str(meta.get("vectors_fingerprint", "")),
            precision=str(meta["vectors_precision"]),
            backend=str(meta.get("vectors_backend", "")),
        )


# Stores written before ``VectorSpace`` was recorded: every one was written by torch in fp32.
LEGACY_SPACE = VectorSpace(model="unrecorded", fingerprint="", precision="fp32", backend="torch")
