"""Typed records of the bot stage: resolved questions, passages, citations, and answers with
their typed meta."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from index.records import ChunkMeta, Entity, SourceFields

NO_MATCH = "nothing in the index matches it"  # meta["reason"] when no passage is left to consider


@dataclass(frozen=True)
class Question:
    """A question as the pipeline reads it, once follow-ups are resolved.

    ``text`` is the reader's question in its own words, with a pronoun replaced by its
    ``antecedent`` ("When did she take over?" -> "When did the Home Secretary take over?");
    ``context`` is the earlier question it leans on when its words alone don't say what it is
    about ("What was it raised to?"). Retrieval searches ``search_text``, which is also the
    ``resolved_question`` an answer reports.
    """

    text: str
    context: str = ""
    antecedent: str = ""

    @property
    def search_text(self) -> str:
        return f"{self.text} (following: {self.context})" if self.context else self.text


@dataclass(frozen=True, kw_only=True)
class Passage(SourceFields):
    """A retrieved chunk, with its chunk's source fields; ``text`` is ``document_text[start:end]``."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    score: float = 0.0
    dense: float = 0.0  # cosine similarity to the question, when known
    entities: tuple[Entity, ...] | None = None  # offsets into ``text``; None: not annotated

    @staticmethod
    def of(chunk_id: str, text: str, meta: ChunkMeta, score: float = 0.0, dense: float = 0.0) -> Passage:
        """The passage of a stored chunk."""
        return Passage(
            **meta.source_fields(),
            chunk_id=chunk_id,
            doc_id=meta.doc_id,
            text=text,
            start=meta.start,
            end=meta.end,
            score=score,
            dense=dense,
            entities=meta.entities,
        )


@dataclass(frozen=True, kw_only=True)
class Citation(SourceFields):
    """Source ``n`` of an answer: the exact supporting span ``quote == document_text[start:end]``,
    with its passage's source fields (``url``: the source's own http(s) page, a story, a Hansard
    speech or division)."""

    n: int
    doc_id: str
    chunk_id: str
    quote: str
    start: int
    end: int
    score: float

    def to_json(self) -> dict[str, Any]:
        """The API's form of a citation, which names the speaker but not their party."""
        data = asdict(self)
        del data["party"]
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        """The OpenAPI schema (pydantic's hook) describes ``to_json``'s form: no ``party``."""
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        target.get("properties", {}).pop("party", None)
        if "party" in target.get("required", ()):
            target["required"].remove("party")
        return schema

    @staticmethod
    def of(n: int, passage: Passage, start: int, end: int, score: float) -> Citation:
        """Cite ``document_text[start:end]``, a span inside ``passage``."""
        if not (passage.start <= start < end <= passage.end):
            raise ValueError(f"span {start}:{end} is outside passage {passage.start}:{passage.end}")
        quote = passage.text[start - passage.start : end - passage.start]
        return Citation(
            **passage.source_fields(),
            n=n,
            doc_id=passage.doc_id,
            chunk_id=passage.chunk_id,
            quote=quote,
            start=start,
            end=end,
            score=round(score, 4),
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
class AnswerMeta(Mapping[str, Any]):
    """How an answer was reached, for API clients, the evaluation and logs. Every field is
    optional; an unset one (None) is absent from the JSON and from the mapping view (``"reason"
    in meta``, ``meta.get("fallback")``), so the JSON is as it was when this was a dict."""

    reason: str | None = None  # why it refused (or why the LLM's answer was not used)
    confidence: float | None = None  # the scorer's probability for the lead sentence
    answer_type: str | None = None  # what the question asks for (bot.questions.ANSWER_TYPES)
    best_sentence: str | None = None  # a refusal's would-be lead sentence (risk-coverage curve)
    fallback: str | None = None  # the LLM answerer fell back to the extractive answer: why
    llm_raw: str | None = None  # the model's reply (first 2,000 characters)
    dropped_sentences: int | None = None  # LLM sentences no citation supported
    removed_markers: int | None = None  # LLM markers naming no passage
    resolved_by: str | None = None  # "rules" or "llm": how a follow-up was made self-contained
    retrieved: list[str] | None = None  # the chunk ids retrieval gave, in order
    filters: dict[str, Any] | None = None  # the scope the answer was found under (its set fields)
    index: str | None = None  # the commit token of the index view it was found in

    def updated(self, **changes: Any) -> AnswerMeta:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return dict(self)

    def _set(self) -> dict[str, Any]:
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def __getitem__(self, key: str) -> Any:
        return self._set()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._set())

    def __len__(self) -> int:
        return len(self._set())


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
    meta: AnswerMeta = field(default_factory=AnswerMeta)
    short_answer: ShortAnswer | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.meta, AnswerMeta):  # read back from its JSON
            object.__setattr__(self, "meta", AnswerMeta(**dict(self.meta)))

    @property
    def nothing_matched(self) -> bool:
        """Refused because no passage was left to consider (e.g. filters that match nothing)."""
        return self.refused and self.meta.reason == NO_MATCH

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["meta"] = self.meta.to_json()
        data["citations"] = [c.to_json() for c in self.citations]
        data["related"] = [c.to_json() for c in self.related]
        return data
