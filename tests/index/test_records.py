"""The index's typed records: one record of a source's fields, mapped to the store in one place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from bot.records import Answer, Citation, Passage
from index.chunking import ChunkLimits, chunk_document
from index.documents import make_document
from index.records import ChunkMeta, DocumentMeta, Section, SourceFields

TEXT = "The Home Office set a target of 7,200 voluntary departures. It was missed."
LIMITS = ChunkLimits(200, 0, 256)


def _words(texts: Sequence[str]) -> list[int]:
    """A token counter for chunking: words (the real ones count tiktoken tokens and wordpieces)."""
    return [len(t.split()) for t in texts]


def _every_source_field() -> dict[str, Any]:
    """A distinct value for every field of ``SourceFields`` (a date where a date belongs)."""
    return {f.name: "2015-06-01" if f.name == "date" else f"the {f.name}" for f in fields(SourceFields)}


def test_every_source_field_travels_from_document_to_citation() -> None:
    """Whatever ``SourceFields`` declares reaches the chunk, the store's metadata and back, the
    passage and the citation: a new field needs no copying code anywhere else."""
    values = _every_source_field()
    doc = replace(make_document(key="k", text=TEXT, fields=SourceFields()), **values)
    (chunk,) = chunk_document(doc, LIMITS, _words, _words)
    stored = ChunkMeta.from_metadata(chunk.meta.to_metadata())
    passage = Passage.of(chunk.id, chunk.text, stored)
    citation = Citation.of(1, passage, passage.start, passage.start + 10, 1.0)
    for record in (chunk.meta, stored, passage, citation):
        assert record.source_fields() == values
    assert DocumentMeta.from_metadata(doc.to_metadata(chunks=1)).source_fields() == values


def test_a_turn_overrides_the_documents_fields_only_where_it_has_its_own() -> None:
    doc = make_document(
        key="k", text=TEXT, fields=SourceFields(title="Debate", source="Hansard", url="https://example.org/d")
    )
    doc = replace(doc, sections=(Section(0, 59, speaker="Amber Rudd", party="Con", column="12"),))
    (chunk,) = chunk_document(doc, LIMITS, _words, _words)
    assert (chunk.meta.speaker, chunk.meta.party, chunk.meta.column) == ("Amber Rudd", "Con", "12")
    assert chunk.meta.url == "https://example.org/d" and chunk.meta.title == "Debate"


def test_unset_fields_are_left_out_of_the_stores_metadata() -> None:
    """Chroma holds scalars only: an absent field is absent, never an empty string or None."""
    meta = SourceFields(title="T", source="S", date="2010-05-06").source_metadata()
    assert meta == {"title": "T", "source": "S", "date": "2010-05-06", "date_ord": 20100506}
    assert (
        SourceFields.read_metadata(meta)
        == SourceFields(title="T", source="S", date="2010-05-06").source_fields()
    )


def test_the_apis_citation_keeps_its_shape() -> None:
    """A citation's JSON names the speaker and leaves the party to the sentence it supports."""
    passage = Passage(
        chunk_id="c", doc_id="d", text=TEXT, start=0, end=len(TEXT), title="T", source="S", party="Lab"
    )
    citation = Citation.of(1, passage, 0, 10, 0.5)
    answer = Answer(
        question="q", resolved_question="q", answer="a [1]", refused=False, answerer="x", citations=[citation]
    )
    data = answer.to_json()
    assert "party" not in data["citations"][0] and citation.party == "Lab"
    assert data["citations"][0]["quote"] == TEXT[:10]
