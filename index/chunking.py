"""Chunking documents on sentence boundaries to a token budget."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from index.documents import stable_id
from index.records import Chunk, ChunkMeta, Document, Section, SourceFields, embedding_text
from index.sentences import sentences

# Counts tokens of many texts at once (tiktoken for the budget, wordpieces for the model).
Counter = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class ChunkLimits:
    """The budget (tiktoken tokens), the overlap, and the embedding model's own limit."""

    tokens: int
    overlap: int
    max_wordpieces: int  # including the model's special tokens


# The source fields a document's section can set for its own chunks.
TURN_FIELDS = tuple(f.name for f in fields(Section) if f.name in {g.name for g in fields(SourceFields)})


def chunk_document(
    doc: Document, limits: ChunkLimits, count_tokens: Counter, count_wordpieces: Counter
) -> list[Chunk]:
    """Split ``doc`` into chunks that follow sentences, never cross a section, and fit both limits."""
    chunks: list[Chunk] = []
    for section in doc.sections:
        prefix = _prefix_wordpieces(section, count_wordpieces)
        spans = _units(doc.text, section, limits, count_tokens, count_wordpieces, prefix)
        for start, end, tokens in _pack(doc.text, spans, limits, prefix):
            chunks.append(_make_chunk(doc, section, len(chunks), start, end, tokens))
    return chunks


_Unit = tuple[int, int, int, int]  # start, end, tiktoken tokens, wordpieces (no specials)


def _prefix_wordpieces(section: Section, count_wordpieces: Counter) -> int:
    if not section.speaker:
        return 0
    return count_wordpieces([embedding_text("", section.speaker, section.party)])[0]


def _units(
    text: str,
    section: Section,
    limits: ChunkLimits,
    count_tokens: Counter,
    count_wordpieces: Counter,
    prefix: int,
) -> list[_Unit]:
    spans = list(sentences(text, section.start, section.end))
    pieces = [text[s:e] for s, e in spans]
    toks = count_tokens(pieces)
    wps = count_wordpieces(pieces)
    room = limits.max_wordpieces - prefix
    units: list[_Unit] = []
    for (s, e), t, w in zip(spans, toks, wps, strict=True):
        if t <= limits.tokens and w <= room:
            units.append((s, e, t, w))
        else:
            units.extend(_split_long(text, s, e, limits, count_tokens, count_wordpieces, room))
    return units


def _split_long(
    text: str,
    start: int,
    end: int,
    limits: ChunkLimits,
    count_tokens: Counter,
    count_wordpieces: Counter,
    room: int,
) -> list[_Unit]:
    """A sentence over budget is cut at word boundaries into pieces that fit."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
    wtoks = count_tokens([text[start + a : start + b] for a, b in words])
    wwps = count_wordpieces([text[start + a : start + b] for a, b in words])
    out: list[_Unit] = []
    first = 0
    t = w = 0
    for i, (wt, ww) in enumerate(zip(wtoks, wwps, strict=True)):
        if i > first and (t + wt > limits.tokens or w + ww > room):
            out.append((start + words[first][0], start + words[i - 1][1], t, w))
            first, t, w = i, 0, 0
        t += wt
        w += ww
    out.append((start + words[first][0], start + words[-1][1], t, w))
    return out


def _pack(text: str, units: list[_Unit], limits: ChunkLimits, prefix: int) -> list[tuple[int, int, int]]:
    room = limits.max_wordpieces - prefix
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(units):
        j, t, w = i, 0, 0
        while j < len(units) and (j == i or (t + units[j][2] <= limits.tokens and w + units[j][3] <= room)):
            t += units[j][2]
            w += units[j][3]
            j += 1
        out.append((units[i][0], units[j - 1][1], t))
        if j >= len(units):
            break
        # Next chunk starts with trailing sentences of this one, up to the overlap budget,
        # but always advances by at least one unit.
        k, carried = j, 0
        while k - 1 > i and carried + units[k - 1][2] <= limits.overlap:
            carried += units[k - 1][2]
            k -= 1
        nxt = units[k : j + 1]
        if sum(u[2] for u in nxt) > limits.tokens or sum(u[3] for u in nxt) > room:
            k = j
        i = k
    return out


def _make_chunk(doc: Document, section: Section, ordinal: int, start: int, end: int, tokens: int) -> Chunk:
    # A transcript turn's own source fields (link, speaker, party, column); the document's where
    # it has none.
    turn = {name: getattr(section, name) for name in TURN_FIELDS}
    meta = ChunkMeta(
        **{**doc.source_fields(), **{k: v for k, v in turn.items() if v}},
        doc_id=doc.id,
        version=doc.version,
        ordinal=ordinal,
        start=start,
        end=end,
        tokens=tokens,
        kind=doc.kind,
        tags=doc.tags,
        speech=section.speech,
        person_id=section.person_id,
        division=section.division,
    )
    return Chunk(
        id=stable_id(doc.id, doc.version, str(ordinal), f"{start}:{end}"),
        text=doc.text[start:end],
        meta=meta,
    )
