"""Entity annotation at ingest: every chunk carries its entities, overlapping chunks are read
once, and spaCy's pipeline with its matrix products on numpy's BLAS finds exactly the entities
the stock pipeline finds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def test_blas_ops_find_the_same_entities_as_spacys_own() -> None:
    import spacy
    from thinc.api import NumpyOps

    from index.nlp import _NER_ONLY, MODEL, entities, pipeline

    ner = pipeline().get_pipe("ner")
    assert all(isinstance(node.ops, NumpyOps) and not node.ops.use_blis for node in ner.model.walk())

    texts = [(ROOT / "data" / "corpus" / "2018-04-26-rudd-removal-targets.txt").read_text(encoding="utf-8")]
    hansard = sorted((ROOT / "data" / "corpora" / "hansard-2010-immigration").glob("*.txt"))
    assert hansard
    texts += [path.read_text(encoding="utf-8", errors="replace")[:20_000] for path in hansard[:8]]

    stock = spacy.load(MODEL)
    assert all(node.ops.use_blis for node in stock.get_pipe("ner").model.walk())  # type: ignore[attr-defined]
    want = [
        tuple((e.start_char, e.end_char, e.label_) for e in doc.ents)
        for doc in stock.pipe(texts, disable=list(_NER_ONLY))
    ]
    got = [tuple((e.start, e.end, e.label) for e in ents) for ents in entities(texts)]
    assert sum(map(len, want)) > 100  # real text with many entities, not a vacuous comparison
    assert got == want


def test_chunks_are_annotated_with_entities(founding_store: Any) -> None:
    _, store = founding_store
    labels: set[str] = set()
    for chunk in store.iter_chunks():
        ents = chunk.meta.entities
        assert ents is not None, "every chunk is annotated at ingest"
        for e in ents:
            assert 0 <= e.start < e.end <= len(chunk.text)
            labels.add(e.label)
            if e.label == "PERSON":
                assert chunk.text[e.start : e.end].strip()
        texts = {chunk.text[e.start : e.end] for e in ents}
        if "July 2016" in chunk.text:
            assert "July 2016" in texts
    assert {"PERSON", "DATE", "CARDINAL", "ORG"} <= labels


def test_overlapping_chunks_are_annotated_once_each_keeping_its_own_entities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entity recogniser reads a document's overlapping chunks as one stretch of text; every
    chunk gets the entities inside it, with offsets into its own text, and none twice, also
    when a long stretch is cut (here at 400 characters)."""
    from itertools import pairwise

    import index.ingest as ingest
    from bot.assembly import assemble
    from index.nlp import entities
    from index.records import Document, Section

    text = " ".join(
        f"Theresa May met Amber Rudd on {day} March. Diane Abbott spoke in Leeds." for day in range(1, 30)
    )
    doc = Document(id="d", source="s", title="t", text=text, sections=(Section(0, len(text)),))
    settings = make_settings(tmp_path / "store", chunk_tokens=60, chunk_overlap=20)
    indexer = assemble(settings, create=True).indexer()
    chunks = indexer.chunk(doc)
    assert len(chunks) > 3 and any(b.start < a.end for a, b in pairwise(chunks))
    for cut in (20_000, 400):
        monkeypatch.setattr(ingest, "_REGION_CHARS", cut)
        [(_, annotated, _)] = ingest._annotated([(doc, chunks, False)])
        alone = entities([c.text for c in chunks])
        for chunk, own in zip(annotated, alone, strict=True):
            ents = chunk.meta.entities
            assert ents is not None and len(set(ents)) == len(ents)
            got = {(chunk.text[e.start : e.end], e.label) for e in ents}
            assert got and all(t and t == t.strip() for t, _ in got)  # offsets land on the words
            # the same entities as annotating the chunk on its own, near enough (context differs)
            want = {(chunk.text[e.start : e.end], e.label) for e in own}
            assert len(got & want) >= 0.8 * len(want | got)


def test_long_texts_are_read_in_batches_bounded_by_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recogniser's batches hold at most ``BATCH_CHARS`` characters (one longer text goes
    alone), in order, and batching changes no entity."""
    import index.nlp as nlp

    texts = [f"Amber Rudd spoke in Leeds on {d} March." * (d % 3 + 1) for d in range(1, 13)]
    whole = nlp.entities(texts)
    monkeypatch.setattr(nlp, "BATCH_CHARS", 130)
    groups = nlp._batches(texts, 64)
    assert [t for g in groups for t in g] == texts
    assert all(len(g) == 1 or sum(map(len, g)) <= 130 for g in groups)
    assert any(len(g) > 1 for g in groups) and any(len(g[0]) > 100 for g in groups)
    assert nlp._batches(texts, 2) and all(len(g) <= 2 for g in nlp._batches(texts, 2))
    assert nlp.entities(texts) == whole
    assert {texts[0][e.start : e.end] for e in whole[0]} >= {"Amber Rudd", "Leeds"}
