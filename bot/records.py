"""Typed records of the bot stage: passages, citations and answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from index.records import ChunkMeta, Entity

NO_MATCH = "nothing in the index matches it"  # meta["reason"] when no passage is left to consider


@dataclass(frozen=True, kw_only=True)
class Passage:
    """A retrieved chunk; ``text`` is ``document_text[start:end]``."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    title: str
    source: str
    date: str | None = None
    speaker: str | None = None
    party: str | None = None
    score: float = 0.0
    dense: float = 0.0  # cosine similarity to the question, when known
    entities: tuple[Entity, ...] | None = None  # offsets into ``text``; None: not annotated
    url: str | None = None
    byline: str | None = None
    section: str | None = None
    column: str | None = None  # the Hansard column of a parlparse speech or division

    @staticmethod
    def of(chunk_id: str, text: str, meta: ChunkMeta, score: float = 0.0, dense: float = 0.0) -> Passage:
        """The passage of a stored chunk."""
        return Passage(
            chunk_id=chunk_id,
            doc_id=meta.doc_id,
            text=text,
            start=meta.start,
            end=meta.end,
            title=meta.title,
            source=meta.source,
            date=meta.date,
            speaker=meta.speaker,
            party=meta.party,
            score=score,
            dense=dense,
            entities=meta.entities,
            url=meta.url,
            byline=meta.byline,
            section=meta.section,
            column=meta.column,
        )


@dataclass(frozen=True, kw_only=True)
class Citation:
    """Source ``n`` of an answer: the exact supporting span ``quote == document_text[start:end]``."""

    n: int
    doc_id: str
    title: str
    date: str | None
    source: str
    speaker: str | None
    chunk_id: str
    quote: str
    start: int
    end: int
    score: float
    url: str | None = None  # the source's own http(s) page: a story, a Hansard speech or division
    byline: str | None = None
    section: str | None = None
    column: str | None = None  # the Hansard column of a parlparse speech or division

    @staticmethod
    def of(n: int, passage: Passage, start: int, end: int, score: float) -> Citation:
        """Cite ``document_text[start:end]``, a span inside ``passage``."""
        if not (passage.start <= start < end <= passage.end):
            raise ValueError(f"span {start}:{end} is outside passage {passage.start}:{passage.end}")
        quote = passage.text[start - passage.start : end - passage.start]
        return Citation(
            n=n,
            doc_id=passage.doc_id,
            title=passage.title,
            date=passage.date,
            source=passage.source,
            speaker=passage.speaker,
            chunk_id=passage.chunk_id,
            quote=quote,
            start=start,
            end=end,
            score=round(score, 4),
            url=passage.url,
            byline=passage.byline,
            section=passage.section,
            column=passage.column,
        )


@dataclass(frozen=True, kw_only=True)
class ShortAnswer:
    """The exact span that answers a factoid question, inside the source of citation ``n``:
    ``text == document_text[start:end]``."""

    text: str
    n: int
    start: int
    end: int


@dataclass(frozen=True, kw_only=True)
class Answer:
    """What the bot says, JSON-serialisable with ``to_json``."""

    question: str
    resolved_question: str
    answer: str
    refused: bool
    answerer: str
    citations: list[Citation] = field(default_factory=list)
    related: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    short_answer: ShortAnswer | None = None

    @property
    def nothing_matched(self) -> bool:
        """Refused because no passage was left to consider (e.g. filters that match nothing)."""
        return self.refused and self.meta.get("reason") == NO_MATCH

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
