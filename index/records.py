"""Typed records that cross module boundaries in the index stage."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """A span of a document with its own metadata (a transcript turn, say)."""

    start: int
    end: int
    speaker: str | None = None
    party: str | None = None
    speech: int | None = None


@dataclass(frozen=True)
class Document:
    """A cleaned source document; chunk offsets refer to ``text``."""

    id: str
    text: str
    title: str
    source: str
    date: str | None = None
    url: str | None = None
    kind: str = "article"  # "article" or "transcript"
    sections: tuple[Section, ...] = ()
    version: str = ""  # content hash; changes whenever text or metadata change

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata for the store (Chroma accepts str/int/float/bool only)."""
        meta: dict[str, str | int] = {
            "title": self.title,
            "source": self.source,
            "kind": self.kind,
            "version": self.version,
        }
        if self.date:
            meta["date"] = self.date
            meta["date_ord"] = int(self.date.replace("-", ""))
        if self.url:
            meta["url"] = self.url
        return meta


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document: ``text == document.text[start:end]``."""

    id: str
    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    tokens: int
    metadata: dict[str, str | int] = field(default_factory=dict, compare=False)

    @property
    def speaker(self) -> str | None:
        value = self.metadata.get("speaker")
        return str(value) if value else None

    def embedding_text(self) -> str:
        """What the embedding model sees: the text, prefixed by the speaker when known."""
        if self.speaker:
            party = self.metadata.get("party")
            who = f"{self.speaker} ({party})" if party else self.speaker
            return f"{who}: {self.text}"
        return self.text
