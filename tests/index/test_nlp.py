"""The entity recogniser as ingest runs it: spaCy's pipeline with its matrix products on numpy's
BLAS must find exactly the entities the stock pipeline finds."""

from __future__ import annotations

from pathlib import Path

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
    assert all(node.ops.use_blis for node in stock.get_pipe("ner").model.walk())
    want = [
        tuple((e.start_char, e.end_char, e.label_) for e in doc.ents)
        for doc in stock.pipe(texts, disable=list(_NER_ONLY))
    ]
    got = [tuple((e.start, e.end, e.label) for e in ents) for ents in entities(texts)]
    assert sum(map(len, want)) > 100  # real text with many entities, not a vacuous comparison
    assert got == want
