"""Hybrid retrieval over real Chroma and BM25: exact figures, filters, de-duplication."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bot.lexical import BM25
from bot.retrieval import Filters, _rrf


def test_exact_figure_is_found_lexically(founding_bot: Any) -> None:
    result = founding_bot.retriever.search("7,200", 3, mode="lexical")
    assert "7,200" in result.passages[0].text


def test_hybrid_ranks_the_answer_first(founding_bot: Any) -> None:
    result = founding_bot.retriever.search("voluntary departures target 2015/16", 3)
    assert "12,000" in result.passages[0].text or "12,000" in result.passages[1].text
    assert set(result.timings_ms) >= {"embed", "dense", "lexical", "fusion"}


def test_no_overlapping_duplicates(hansard_bot: Any) -> None:
    passages = hansard_bot.retriever.search("human trafficking centre funding", 8).passages
    for i, a in enumerate(passages):
        for b in passages[i + 1 :]:
            if a.doc_id == b.doc_id:
                overlap = min(a.end, b.end) - max(a.start, b.start)
                assert overlap <= 0.5 * min(a.end - a.start, b.end - b.start)


def test_date_and_source_filters(hansard_bot: Any) -> None:
    only_2010 = hansard_bot.retriever.search("Home Office targets", 6, Filters(date_to="2010-12-31"))
    assert only_2010.passages and all(p.date and p.date <= "2010-12-31" for p in only_2010.passages)
    after = hansard_bot.retriever.search("Home Office targets", 6, Filters(date_from="2018-01-01"))
    assert after.passages and all(p.date == "2018-04-26" for p in after.passages)
    source = after.passages[0].source
    one = hansard_bot.retriever.search("immigration", 6, Filters(source=source))
    assert {p.source for p in one.passages} == {source}


def test_a_blank_name_is_no_filter_and_names_are_trimmed(hansard_bot: Any) -> None:
    """Whichever front end builds the scope, a blank source, speaker or party filters nothing."""
    blank = Filters(source="  ", speaker=" ", party="\t")
    assert blank.empty and (blank.source, blank.speaker, blank.party) == (None, None, None)
    assert Filters(speaker="  Damian Green ").speaker == "Damian Green"
    everything = hansard_bot.retriever.search("immigration", 6)
    assert hansard_bot.retriever.search("immigration", 6, blank).passages == everything.passages


def test_transcript_passages_carry_speakers(hansard_bot: Any) -> None:
    passages = hansard_bot.retriever.search("Damian Green immigration cap limit", 6).passages
    assert any(p.speaker == "Damian Green" and p.party == "Con" for p in passages)


def test_bm25_matches_a_reference_computation() -> None:
    import math

    docs = [("a", "the cat sat on the mat"), ("b", "the dog sat"), ("c", "cats and dogs and cats")]
    bm25 = BM25.build(docs)
    # Reference: Okapi BM25 with k1=1.2, b=0.75 over stemmed, stopword-free terms.
    lengths = {"a": 3, "b": 2, "c": 3}  # cat sat mat / dog sat / cat dog cat
    avg = sum(lengths.values()) / 3
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))  # "cat" is in a and c
    tf = 2
    expected = idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * lengths["c"] / avg))
    top = dict(bm25.search("cats", 3))
    assert abs(top["c"] - expected) < 1e-5
    assert set(top) == {"a", "c"}


def test_rrf_rewards_agreement() -> None:
    fused = _rrf([[("x", 1.0), ("y", 0.9)], [("y", 5.0), ("z", 4.0)]])
    assert fused[0][0] == "y"


def test_saved_view_is_loaded_and_answers_the_same(
    hansard_store: Any, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second bot over the same store loads the view the first one saved, not a rebuild, and
    with it the Tantivy index kept beside it: no chunk is indexed again."""
    from bot.assembly import assemble
    from bot.retrieval import IndexView
    from bot.tantivy_lexicon import TantivyLexicon

    settings, store = hansard_store
    first = assemble(settings, store=store, embedder=embedder).bot()
    view = first.retriever.view()
    folder = store.view_cache(settings)
    loaded = IndexView.load(folder, view.token)
    assert loaded is not None and loaded.ids == view.ids and type(loaded.lexical) is type(view.lexical)
    assert loaded.vectors is not None and view.vectors is not None
    assert np.allclose(loaded.vectors, view.vectors)

    def boom(*_: Any, **__: Any) -> Any:
        raise AssertionError("the view was rebuilt instead of loaded")

    assert isinstance(view.lexical, TantivyLexicon) and isinstance(loaded.lexical, TantivyLexicon)
    assert any(folder.glob("*/tantivy/meta.json"))
    second = assemble(settings, store=store, embedder=embedder).bot()
    monkeypatch.setattr(IndexView, "build", boom)
    monkeypatch.setattr(TantivyLexicon, "build", boom)
    q = "How many student visas were issued in 2009?"
    b = [p.chunk_id for p in second.search(q, 6)]
    monkeypatch.undo()
    a = [p.chunk_id for p in first.search(q, 6)]
    assert a == b and a
    assert second.retriever.view().lexical.search(q, 10) == view.lexical.search(q, 10)
    assert loaded.texts == view.texts and loaded.titles == view.titles
    # a damaged view.json reads as no saved view (the caller then builds one), never an error
    saved = next(folder.glob("*/view.json"))
    good = saved.read_bytes()
    try:
        saved.write_bytes(good[: len(good) // 2])
        assert IndexView.load(folder, view.token) is None
    finally:
        saved.write_bytes(good)


def test_exact_dense_search_matches_chroma_and_repeats(hansard_store: Any, embedder: Any) -> None:
    """Below the size threshold, dense search is exact: the same every time, and Chroma's HNSW
    (the large-store path) finds the same top passages on this small store."""
    from bot.assembly import assemble

    settings, store = hansard_store
    exact = assemble(settings, store=store, embedder=embedder).bot()
    hnsw = assemble(
        settings.model_copy(update={"exact_search_max_chunks": 0, "save_views": False}),
        store=store,
        embedder=embedder,
    ).bot()
    assert exact.retriever.view().vectors is not None and hnsw.retriever.view().vectors is None
    for q in ("points-based system for migrants", "trafficking of women", "the cap on non-EU workers"):
        runs = {tuple(p.chunk_id for p in exact.search(q, 6, mode="dense")) for _ in range(3)}
        assert len(runs) == 1
        (ids,) = runs
        assert ids[:3] == tuple(p.chunk_id for p in hnsw.search(q, 6, mode="dense"))[:3]


def test_view_follows_a_write_by_another_store_handle(tmp_path: Any, embedder: Any) -> None:
    """A write through another handle (as another process would) gives a new token, and the
    next search sees the new document in both the dense and the lexical ranking."""
    from bot.assembly import assemble
    from tests.conftest import FOUNDING, make_settings

    settings = make_settings(tmp_path / "store")
    assemble(settings, create=True, embedder=embedder).indexer().ingest([FOUNDING])
    # A question waits view_wait_ms (250 by default) for the next view, then answers from the
    # current one; on a loaded machine following the write can take longer than that.
    bot = assemble(settings.model_copy(update={"view_wait_ms": 60_000}), embedder=embedder).bot()
    before = bot.retriever.view().token
    extra = tmp_path / "ferry.txt"
    extra.write_text("title Ferries\n\nThe Zanzibar committee capped ferry licences at 40 a year.\n")
    assemble(settings, embedder=embedder).indexer().ingest([extra])
    dense = bot.search("Zanzibar ferry licences", 1, mode="dense")
    lexical = bot.search("Zanzibar ferry licences", 1, mode="lexical")
    assert bot.retriever.current().token != before
    assert "Zanzibar" in dense[0].text and "Zanzibar" in lexical[0].text


def test_the_token_a_question_read_is_kept_for_health_checks(tmp_path: Any, embedder: Any) -> None:
    """``seen`` gives the store's token as the last question read it while that is recent, and
    None once it is older than asked (so ``/healthz`` reads the store again)."""
    import time

    from bot.retrieval import HybridRetriever

    store, _doc, _write = _small_store(tmp_path)
    retriever = HybridRetriever(store, embedder)
    assert retriever.loaded is None and retriever.seen(60) is None  # nothing read yet
    view = retriever.view()
    assert retriever.loaded is view and retriever.seen(60) == store.token() == view.token
    _write(store, _doc("c", "A new story."))
    assert retriever.seen(60) == view.token != store.token()  # as read, not re-read
    time.sleep(0.05)
    assert retriever.seen(0.01) is None
    retriever.view()
    assert retriever.seen(60) == store.token()


def _small_store(tmp_path: Any) -> Any:
    from index.store import Store
    from tests.conftest import make_settings
    from tests.index.test_store import _doc, _write

    store = Store.open(make_settings(tmp_path / "store"), create=True)
    _write(
        store, _doc("a", "The Home Office set a target of 7,200 departures."), _doc("b", "Ferries ran late.")
    )
    return store, _doc, _write


@pytest.mark.parametrize("engine", ["bm25", "tantivy"])
def test_a_view_advanced_by_its_delta_is_the_view_a_full_read_makes(tmp_path: Any, engine: str) -> None:
    """Pushes, corrections and removals change the view by their documents alone; the result
    is what reading the whole store gives, vectors and lexical ranking included."""
    import numpy as np

    from bot.retrieval import HybridRetriever, IndexView

    store, doc, write = _small_store(tmp_path)
    retriever = HybridRetriever(store, embedder=None, exact_max=100, wait_s=5.0, lexical=engine)  # type: ignore[arg-type]
    first = retriever.view()
    write(store, doc("c", "The Zanzibar committee capped ferry licences."), doc("b", "Ferries ran on time."))
    store.remove("a")
    advanced = retriever.view()
    full = IndexView.build(store, 100, engine)
    assert advanced is not first and retriever.updates == {"delta": 1, "full": 0, "failed": 0}
    assert advanced.token == full.token and advanced.versions == full.versions
    assert advanced.texts == full.texts and set(advanced.ids) == set(full.ids)
    assert advanced.vectors is not None and full.vectors is not None
    for cid in full.ids:
        assert advanced.meta[cid] == full.meta[cid]
        assert np.allclose(advanced.vectors[advanced.position[cid]], full.vectors[full.position[cid]])
    for q in ("ferry licences Zanzibar", "ferries on time", "7,200 departures"):
        got, want = (v.lexical_search(q, 3, Filters(), None) for v in (advanced, full))
        assert [c for c, _ in got] == [c for c, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want])
    assert advanced.mask(Filters(doc_ids=("c",))).sum() == len(full.chunks_by_doc()["c"])
    assert sorted(advanced.chunks_by_doc()) == ["b", "c"]


def test_readers_answer_from_the_current_view_while_the_next_is_prepared(tmp_path: Any) -> None:
    """A slow delta read holds no reader back, and many readers make one update, not one each."""
    import threading
    import time

    from bot.retrieval import HybridRetriever

    store, doc, write = _small_store(tmp_path)
    retriever = HybridRetriever(store, embedder=None, exact_max=100, wait_s=0.05)  # type: ignore[arg-type]
    old = retriever.view()
    read = store.chunks_of
    gate = threading.Event()

    def slow_read(*args: Any, **kwargs: Any) -> Any:
        gate.wait(10)
        return read(*args, **kwargs)

    store.chunks_of = slow_read  # type: ignore[method-assign]
    write(store, doc("c", "The Zanzibar committee capped ferry licences."))
    began = time.perf_counter()
    seen = [retriever.view() for _ in range(8)]
    waited = time.perf_counter() - began
    assert all(v is old for v in seen) and waited < 5  # each waited at most wait_s
    gate.set()
    retriever._updating().join(10)
    new = retriever.view()
    assert new is not old and "c" in new.versions and retriever.updates["delta"] == 1


def test_a_story_scope_on_a_large_store_is_searched_exactly_over_its_own_chunks(
    tmp_path: Any, embedder: Any
) -> None:
    """Above the exact-search size, a scope small enough (a story) is read from the Tantivy
    index's filter fields and searched exactly over its own vectors, never through Chroma's
    filtered HNSW search; a wider one still goes to Chroma."""
    from bot.retrieval import HybridRetriever

    store, doc, write = _small_store(tmp_path)
    write(store, doc("c", "The Zanzibar committee capped ferry licences."))
    retriever = HybridRetriever(store, embedder, exact_max=1, wait_s=5.0, lexical="tantivy")
    assert retriever.view().vectors is None  # 3 chunks > exact_max: dense search is Chroma's

    def no_chroma(*_: Any, **__: Any) -> Any:
        raise AssertionError("a story scope went to Chroma's HNSW search")

    query = store.query
    store.query = no_chroma  # type: ignore[method-assign]
    found = retriever.search("ferry licences", 3, Filters(doc_ids=("c",)), mode="dense").passages
    assert [p.doc_id for p in found] == ["c"]
    store.query = query  # type: ignore[method-assign]
    wide = retriever.search("ferry licences", 3, Filters(source="Test"), mode="dense").passages
    assert {p.doc_id for p in wide} == {"a", "b", "c"}


def test_a_process_starting_after_pushes_loads_the_newest_saved_view_and_takes_the_delta(
    tmp_path: Any,
) -> None:
    """No full read at start when a saved view and the journal since it exist."""
    from bot.retrieval import HybridRetriever, IndexView

    store, doc, write = _small_store(tmp_path)
    cache = tmp_path / "views"
    HybridRetriever(store, embedder=None, exact_max=100, cache=cache).view()  # type: ignore[arg-type]
    write(store, doc("c", "The Zanzibar committee capped ferry licences."))
    store.remove("a")

    def boom(*_: Any, **__: Any) -> Any:
        raise AssertionError("the whole store was read at start")

    build, IndexView.build = IndexView.build, boom  # type: ignore[method-assign,assignment]
    try:
        later = HybridRetriever(store, embedder=None, exact_max=100, cache=cache)  # type: ignore[arg-type]
        view = later.view()
    finally:
        IndexView.build = build  # type: ignore[method-assign]
    assert view.token == store.token() and sorted(view.versions) == ["b", "c"] and later.updates["delta"] == 1
    assert [c for c, _ in view.lexical_search("Zanzibar", 1, Filters(), None)] == view.chunks_by_doc()["c"][
        :1
    ]


def test_a_long_run_of_pushes_shares_the_archive_and_ends_at_the_view_a_full_read_makes(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A saved view (lazy metadata, no vectors) advanced by thirty pushes, corrections and
    removals, compacted on the way: every mapping, the speakers and parties, each document's
    chunks and the coverage titles are what reading the whole store gives, and the view that
    went before each push still reads as it did."""
    from bot import layered
    from bot.layered import Layered, last_keys
    from bot.retrieval import HybridRetriever, IndexView
    from index.documents import make_document
    from index.records import Section, SourceFields

    monkeypatch.setattr(layered, "COMPACT_MIN", 12)
    store, doc, write = _small_store(tmp_path)

    def speech(key: str, text: str, speaker: str, party: str) -> Any:
        fields = SourceFields(title=key.title(), source="Hansard")
        turn = (Section(0, len(text), speaker=speaker, party=party),)
        return make_document(key=key, text=text, fields=fields, doc_id=key, sections=turn)

    write(
        store,
        *(
            speech(f"s{i}", f"Speech {i} on ferries and quotas.", f"Mr Member {i}", "Labour")
            for i in range(8)
        ),
    )
    cache = tmp_path / "views"
    cache.mkdir()
    IndexView.build(store, 0, "tantivy", cache).save(cache)
    retriever = HybridRetriever(store, embedder=None, exact_max=0, wait_s=5.0, lexical="tantivy", cache=cache)  # type: ignore[arg-type]
    view = retriever.view()
    view.people(), view.of_kind("article")  # made once; later views change them by their deltas
    layers = 0
    for i in range(30):
        before, old_texts = view, dict(view.texts)
        if i % 3 == 0:
            write(store, speech(f"n{i}", f"New speech {i} about harbour dues.", f"Ms Newcomer {i}", "Green"))
        elif i % 3 == 1:
            write(store, doc(f"s{i % 4}", f"Corrected speech {i} on quotas."))  # its speaker is gone
        elif (i - 2) % 2 == 0:
            store.remove(f"n{i - 2}")
        else:
            write(store, speech(f"n{i - 2}", f"Revised speech {i} on dues.", f"Ms Newcomer {i - 2}", "Green"))
        view = retriever.view()
        assert view is not before and dict(before.texts) == old_texts
        layers += isinstance(view.texts, Layered)
    full = IndexView.build(store, 0, "tantivy")
    assert retriever.updates["full"] == 0 and retriever.updates["delta"] == 30
    assert 0 < layers < 30  # shared layers, and compactions between them
    assert dict(view.texts) == dict(full.texts) and dict(view.versions) == dict(full.versions)
    assert dict(view.titles) == dict(full.titles)
    assert last_keys(view.titles, 2) == ["s0", "n27"]  # the last written that still stand (coverage)
    assert {c: view.meta[c] for c in view.meta} == {c: full.meta[c] for c in full.meta}
    assert {d: sorted(c) for d, c in view.chunks_by_doc().items()} == {
        d: sorted(c) for d, c in full.chunks_by_doc().items()
    }
    assert view._people_counts is not None and "article" in view._kinds  # carried, not recounted
    assert view.people() == full.people()
    speakers, parties = view.people()
    assert {"Mr Member 1", "Ms Newcomer 24"}.isdisjoint(speakers) and "Ms Newcomer 27" in speakers
    assert "Mr Member 7" in speakers and parties == {"Labour", "Green"}
    assert sorted(c for c, _ in view.of_kind("article")) == sorted(c for c, _ in full.of_kind("article"))
    # Tantivy's scores count deleted documents until its segments merge: the top hit is compared.
    for q, d in (("7,200 departures", "a"), ("Corrected speech 28", "s0"), ("Revised speech 29", "n27")):
        top = view.lexical_search(q, 1, Filters(), None)[0][0]
        assert top == full.lexical_search(q, 1, Filters(), None)[0][0] and top in view.chunks_by_doc()[d]
