"""The Tantivy lexical index: the project's terms, BM25's IDF, the scope inside the engine, deltas."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

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


QUERIES = ("7200 departures", "cap on migration", "ferries Solent", "target 2015/16")


def _results(lexicon: TantivyLexicon) -> list[list[tuple[str, float]]]:
    return [lexicon.search(q, 5) for q in QUERIES] + [lexicon.search("cap", 5, Filters(party="Lab"))]


def test_a_saved_commit_loads_with_the_same_results_without_indexing_again(tmp_path: Path) -> None:
    """On disk under a work root, a commit is kept beside its view and opened by a later start
    in a working folder of its own; the saved copy is never written by the loaded index."""
    live = TantivyLexicon.build(CHUNKS[:4], tmp_path).advanced([], CHUNKS[4:])
    assert live.save(tmp_path / "view" / "tantivy")
    saved = sorted(p.name for p in (tmp_path / "view" / "tantivy").iterdir())
    loaded = TantivyLexicon.load(tmp_path / "view" / "tantivy", tmp_path, expected=len(CHUNKS))
    assert loaded is not None and loaded.n == len(CHUNKS)
    assert _results(loaded) == _results(live)
    assert [loaded.term_idf(t) for t in ("cap", "target")] == [live.term_idf(t) for t in ("cap", "target")]
    # the loaded index takes deltas in its own folder; the saved copy stays as it was
    later = loaded.advanced(["d3"], [])
    assert later.n == len(CHUNKS) - 1 and not later.search("ferries Solent", 5)
    assert sorted(p.name for p in (tmp_path / "view" / "tantivy").iterdir()) == saved
    again = TantivyLexicon.load(tmp_path / "view" / "tantivy", tmp_path, expected=len(CHUNKS))
    assert again is not None and _results(again) == _results(live)


def test_only_the_latest_commit_of_an_on_disk_index_is_saved(tmp_path: Path) -> None:
    first = TantivyLexicon.build(CHUNKS, tmp_path)
    second = first.advanced(["d1"], [])
    assert not first.save(tmp_path / "old")  # the index has moved on: its files are the next commit's
    assert not (tmp_path / "old").exists()
    assert not TantivyLexicon.build(CHUNKS).save(tmp_path / "memory")  # in memory: nothing to keep
    assert second.save(tmp_path / "new") and not second.save(tmp_path / "new")  # never over a folder
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".new")]  # no temporary left


@pytest.mark.parametrize("damage", ["missing", "no-meta", "garbled-meta", "other-count"])
def test_a_saved_copy_that_cannot_serve_is_refused(tmp_path: Path, damage: str) -> None:
    """None (the caller indexes the chunks instead) for a copy that is gone, cut short or of
    another commit; no working folder is left behind for it."""
    lexicon = TantivyLexicon.build(CHUNKS, tmp_path / "work")
    saved = tmp_path / "saved"
    assert lexicon.save(saved)
    expected = len(CHUNKS)
    if damage == "missing":
        saved = tmp_path / "nowhere"
    elif damage == "no-meta":
        (saved / "meta.json").unlink()
    elif damage == "garbled-meta":
        (saved / "meta.json").write_text("{not json", encoding="utf-8")
    else:
        expected += 1
    before = set((tmp_path / "work").iterdir())
    assert TantivyLexicon.load(saved, tmp_path / "work", expected) is None
    gc.collect()
    assert set((tmp_path / "work").iterdir()) == before


def test_working_folders_go_with_their_index_and_with_dead_processes(tmp_path: Path) -> None:
    lexicon = TantivyLexicon.build(CHUNKS, tmp_path)
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith(".lexicon-")]
    assert folder.name.startswith(f".lexicon-{os.getpid()}-")
    del lexicon
    gc.collect()
    assert not folder.exists()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f".lexicon-{dead.stdout.strip()}-abc"  # a killed process's folder
    stale.mkdir()
    keep = TantivyLexicon.build(CHUNKS, tmp_path)
    assert not stale.exists() and keep.n == len(CHUNKS)
