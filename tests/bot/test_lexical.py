"""BM25: scores checked against a plain reference implementation of Okapi BM25, ranking,
masks, and the save/load round trip (memory-mapped) with its failure modes."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bot.lexical import BM25
from bot.text import terms

DOCS = [
    ("c1", "The Home Secretary said removals rose to 7,200 in 2015/16."),
    ("c2", "Asylum seekers live on vouchers, the Member for Kettering said."),
    ("c3", "Removals, removals and more removals: the targets drove removals."),
    ("c4", "The immigration cap on skilled workers was debated in the House."),
    ("c5", "The House rose at ten o'clock."),
]


def reference_scores(
    docs: list[tuple[str, str]], query: str, k1: float = 1.2, b: float = 0.75
) -> dict[str, float]:
    """Okapi BM25 written out term by term, over the same terms()."""
    toks = {doc_id: Counter(terms(text)) for doc_id, text in docs}
    n = len(docs)
    avg = sum(sum(c.values()) for c in toks.values()) / n
    out: dict[str, float] = {}
    for doc_id, counts in toks.items():
        length = sum(counts.values())
        score = 0.0
        for term in set(terms(query)):
            tf = counts.get(term, 0)
            if not tf:
                continue
            df = sum(1 for c in toks.values() if term in c)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg))
        if score > 0:
            out[doc_id] = score
    return out


@pytest.fixture(scope="module")
def index() -> BM25:
    return BM25.build(DOCS)


@pytest.mark.parametrize(
    "query",
    [
        "removals",
        "Home Secretary removals",
        "the House rose",
        "asylum vouchers Kettering",
        "7,200 in 2015/16",
    ],
)
def test_scores_match_the_reference(index: BM25, query: str) -> None:
    expected = reference_scores(DOCS, query)
    got = dict(index.search(query, k=10))
    assert set(got) == set(expected)
    for doc_id, score in expected.items():
        assert got[doc_id] == pytest.approx(score, rel=1e-5)


def test_ranking_is_by_score_descending(index: BM25) -> None:
    hits = index.search("removals", k=10)
    assert [doc_id for doc_id, _ in hits] == ["c3", "c1"]  # four mentions in a short text beat one
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)


def test_only_documents_sharing_a_term_are_returned(index: BM25) -> None:
    assert [d for d, _ in index.search("vouchers", k=10)] == ["c2"]
    assert index.search("Zimbabwe", k=10) == []


def test_query_terms_are_stemmed_like_the_documents(index: BM25) -> None:
    assert [d for d, _ in index.search("removal", k=1)] == ["c3"]
    assert [d for d, _ in index.search("7200", k=10)] == ["c1"]  # "7,200" normalised


def test_repeated_query_words_count_once(index: BM25) -> None:
    assert index.search("removals removals removals", k=10) == index.search("removals", k=10)


def test_k_limits_the_hits(index: BM25) -> None:
    assert len(index.search("the house rose removals", k=2)) == 2
    assert index.search("the house rose removals", k=2) == index.search("the house rose removals", k=10)[:2]
    assert index.search("removals", k=0) == []


def test_a_stopword_only_or_empty_query_finds_nothing(index: BM25) -> None:
    assert index.search("the and of", k=5) == []
    assert index.search("", k=5) == []


def test_allowed_mask_restricts_hits(index: BM25) -> None:
    allowed = np.array([doc_id != "c3" for doc_id, _ in DOCS])
    hits = index.search("removals", k=10, allowed=allowed)
    assert [d for d, _ in hits] == ["c1"]
    assert hits[0][1] == pytest.approx(dict(index.search("removals", k=10))["c1"])  # same score
    assert index.search("removals", k=10, allowed=np.zeros(len(DOCS), dtype=bool)) == []


def test_empty_index() -> None:
    empty = BM25.build([])
    assert empty.n == 0
    assert empty.search("removals", k=5) == []


def test_a_document_without_terms_is_indexed_but_never_found() -> None:
    idx = BM25.build([("blank", "the of and"), ("real", "removals")])
    assert idx.n == 2 and idx.position == {"blank": 0, "real": 1}
    assert [d for d, _ in idx.search("removals", k=5)] == ["real"]


def test_term_idf_is_rarer_higher_and_unseen_highest(index: BM25) -> None:
    rare = index.term_idf(terms("vouchers")[0])  # in one document
    common = index.term_idf(terms("House")[0])  # in two
    unseen = index.term_idf("zimbabwe")
    assert unseen > rare > common > 0
    assert unseen == pytest.approx(math.log(1 + (5 + 0.5) / 0.5))


def test_save_and_load_round_trip(index: BM25, tmp_path: Path) -> None:
    index.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "bm25.json",
        "bm25-offsets.npy",
        "bm25-rows.npy",
        "bm25-weights.npy",
        "bm25-df.npy",
    }
    loaded = BM25.load(tmp_path)
    assert isinstance(loaded.weights, np.memmap)  # postings are not read into memory
    assert loaded.ids == index.ids and loaded.vocab == index.vocab
    for query in ("removals", "the House rose", "asylum vouchers", "7,200"):
        assert loaded.search(query, k=10) == index.search(query, k=10)
    assert loaded.term_idf("zimbabwe") == index.term_idf("zimbabwe")


def test_save_keeps_non_ascii_ids_and_terms(tmp_path: Path) -> None:
    idx = BM25.build([("doc-é", "Sinn Féin members"), ("doc-2", "café owners")])
    idx.save(tmp_path)
    loaded = BM25.load(tmp_path)
    assert [d for d, _ in loaded.search("Féin", k=5)] == ["doc-é"]
    assert [d for d, _ in loaded.search("café", k=5)] == ["doc-2"]


def test_empty_index_round_trips(tmp_path: Path) -> None:
    BM25.build([]).save(tmp_path)
    loaded = BM25.load(tmp_path)
    assert loaded.n == 0 and loaded.search("anything", k=3) == []


def test_load_refuses_another_format(index: BM25, tmp_path: Path) -> None:
    index.save(tmp_path)
    head = json.loads((tmp_path / "bm25.json").read_text(encoding="utf-8"))
    (tmp_path / "bm25.json").write_text(json.dumps({**head, "format": 99}), encoding="utf-8")
    with pytest.raises(ValueError, match="unknown BM25 format 99"):
        BM25.load(tmp_path)


def test_load_of_a_missing_or_damaged_index_raises_what_callers_catch(index: BM25, tmp_path: Path) -> None:
    """The view cache treats OSError and ValueError as "no saved view" and rebuilds."""
    with pytest.raises(OSError):
        BM25.load(tmp_path)
    index.save(tmp_path)
    (tmp_path / "bm25-rows.npy").unlink()
    with pytest.raises(OSError):
        BM25.load(tmp_path)
    (tmp_path / "bm25.json").write_text("{truncated", encoding="utf-8")
    with pytest.raises(ValueError):
        BM25.load(tmp_path)
