"""The Tantivy lexical index: the project's terms, BM25's IDF, the scope inside the engine, deltas."""

from __future__ import annotations

import pytest

from bot.lexical import BM25
from bot.tantivy_lexicon import TantivyLexicon, scoped_ids
from index.filters import Filters
from index.records import ChunkMeta


def _meta(doc: str, **fields: object) -> ChunkMeta:
    base: dict[str, object] = {"doc_id": doc, "version": "v", "ordinal": 0, "start": 0, "end": 1, "tokens": 1}
    return ChunkMeta(**{**base, "title": f"Title {doc}", "source": "Hansard", **fields})  # type: ignore[arg-type]


CHUNKS = [
    (
        "c1",
        "The Home Office set a target of 7,200 voluntary departures in 2014/15.",
        _meta("d1", date="2015-06-01", tags=("home-office",)),
    ),
    (
        "c2",
        "For 2015/16 the annual target was raised to 12,000.",
        _meta("d1", date="2015-06-01", tags=("home-office",)),
    ),
    (
        "c3",
        "Mr Green said the cap on migration would fall.",
        _meta("d2", date="2010-06-10", speaker="Damian Green", party="Con"),
    ),
    (
        "c4",
        "Ms Hartley said a cap on migration was no answer.",
        _meta("d2", date="2010-06-10", speaker="Alice Hartley", party="Lab"),
    ),
    (
        "c5",
        "Ferries ran late across the Solent.",
        _meta("d3", source="Courier", speaker="Tom O'Brien", party="LibDem"),
    ),
]


@pytest.fixture(scope="module")
def lexicon() -> TantivyLexicon:
    return TantivyLexicon.build(CHUNKS)


def test_figures_stay_whole(lexicon: TantivyLexicon) -> None:
    assert [c for c, _ in lexicon.search("7200 departures", 1)] == ["c1"]
    assert [c for c, _ in lexicon.search("12000", 5)] == ["c2"]


def test_idf_is_bm25s(lexicon: TantivyLexicon) -> None:
    bm25 = BM25.build((cid, text) for cid, text, _ in CHUNKS)
    for term in ("cap", "migrat", "target", "solent", "neverseen"):
        assert lexicon.term_idf(term) == pytest.approx(bm25.term_idf(term))


@pytest.mark.parametrize(
    "scope",
    [
        Filters(doc_ids=("d1", "d3")),
        Filters(source="Courier"),
        Filters(date_from="2011-01-01"),
        Filters(date_to="2012-12-31"),
        Filters(tags=("home-office", "none")),
        Filters(speaker="green"),
        Filters(speaker="O’Brien"),
        Filters(party="Labour"),
        Filters(party="Liberal Democrat"),
        Filters(party="Conservatives", date_from="2010-01-01", date_to="2010-12-31"),
        Filters(speaker="nobody"),
    ],
)
def test_the_scope_inside_the_engine_is_the_scope_filters_allow(
    lexicon: TantivyLexicon, scope: Filters
) -> None:
    assert set(scoped_ids(lexicon, scope, 100)) == {cid for cid, _, meta in CHUNKS if scope.allows(meta)}
    found = {cid for cid, _ in lexicon.search("cap migration target ferries", 10, scope)}
    assert found <= {cid for cid, _, meta in CHUNKS if scope.allows(meta)}


def test_a_delta_makes_a_new_snapshot_and_leaves_the_old_one(lexicon: TantivyLexicon) -> None:
    later = lexicon.advanced(["d2"], [("c6", "The Zanzibar committee capped ferry licences.", _meta("d4"))])
    assert later.n == lexicon.n - 2 + 1
    assert [c for c, _ in later.search("Zanzibar licences", 3)] == ["c6"]
    assert not {c for c, _ in later.search("cap on migration", 5)} & {"c3", "c4"}
    assert {c for c, _ in lexicon.search("cap on migration", 5)} >= {"c3", "c4"}  # the old view's
    assert lexicon.search("Zanzibar", 3) == []
