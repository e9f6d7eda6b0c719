"""The store's commit journal: what changed since a commit, read by document id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import store as store_module
from index.chunking import ChunkLimits, chunk_document
from index.documents import make_document
from index.records import Document, SourceFields
from index.store import Store
from tests.conftest import make_settings


def _words(texts: Sequence[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def _write(store: Store, *docs: Document) -> None:
    items = []
    for doc in docs:
        chunks = chunk_document(doc, ChunkLimits(40, 0, 256), _words, _words)
        rng = np.random.default_rng(len(doc.text))
        vectors = rng.normal(size=(len(chunks), 384)).astype(np.float32)
        items.append((doc, chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)))
    store.write_documents(items)


def _doc(key: str, text: str) -> Document:
    return make_document(
        key=key, text=text, fields=SourceFields(title=key.title(), source="Test"), doc_id=key
    )


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store.open(make_settings(tmp_path / "store"), create=True)


def test_the_journal_names_what_each_commit_wrote_or_removed(store: Store) -> None:
    _write(store, _doc("a", "Alpha one. Alpha two."), _doc("b", "Beta one."))
    first = store.token()
    _write(store, _doc("c", "Gamma one."))
    store.remove("a")
    assert store.changed_since(first) == {"a", "c"}
    assert store.changed_since(store.token()) == set()
    _write(store, _doc("b", "Beta, corrected."))
    assert store.changed_since(first) == {"a", "b", "c"}


def test_the_journal_cannot_say_for_a_token_it_never_made(store: Store) -> None:
    _write(store, _doc("a", "Alpha."))
    token = store.token()
    collection, generation, _ = token.rsplit("-", 2)
    assert store.changed_since(f"{collection}-{generation}-someoneelse") is None  # same generation
    assert store.changed_since(f"another-collection-{generation}-x") is None
    assert store.changed_since("garbage") is None
    assert store.changed_since(f"{collection}-{int(generation) + 5}-x") is None  # from the future


def test_two_writers_that_take_one_generation_make_its_readers_rebuild(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes (replicas on one Chroma server) that commit at once both read generation N
    and write N+1. A reader whose view is the commit that lost must not take the next commit's
    delta alone: what the other writer wrote is in no later journal record."""
    _write(store, _doc("a", "Alpha."))
    before = store.token()
    other = Store.open(make_settings(tmp_path / "store"))
    stale = other._state()  # read before the first writer commits: the race
    _write(store, _doc("c", "Gamma."))
    seen = store.token()  # a reader's view of the first writer's commit
    monkeypatch.setattr(other, "_state", lambda: dict(stale))
    _write(other, _doc("d", "Delta."))  # also generation N+1, and it wins the state record
    monkeypatch.undo()
    assert store.token() != seen and store.token().rsplit("-", 2)[1] == seen.rsplit("-", 2)[1]
    assert store.changed_since(seen) is None  # same generation, another token: rebuild
    _write(store, _doc("e", "Epsilon."))  # a later commit, N+2
    assert store.changed_since(seen) is None  # not {"e"}: that would miss "d"
    assert store.changed_since(before) == {"c", "d", "e"}  # both writers' records, and the next


def test_a_commit_too_large_to_journal_makes_readers_rebuild(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(store, _doc("a", "Alpha."))
    token = store.token()
    monkeypatch.setattr(store_module, "_JOURNAL_MAX_IDS", 1)
    _write(store, _doc("b", "Beta."), _doc("c", "Gamma."))
    assert store.changed_since(token) is None


def test_chunks_are_read_back_by_document_at_their_committed_version(store: Store) -> None:
    _write(store, _doc("a", "Alpha one. Alpha two."), _doc("b", "Beta one."))
    versions = store.versions_of(["a", "b", "missing"])
    assert set(versions) == {"a", "b"}
    read = store.chunks_of({"a": versions["a"]}, embeddings=True)
    assert read and {c.meta.doc_id for c, _ in read} == {"a"} and all(len(v) == 384 for _, v in read)
    assert store.chunks_of({"a": "an-old-version"}) == []


def test_a_handle_knows_the_commits_it_made(store: Store, tmp_path: Path) -> None:
    _write(store, _doc("a", "Alpha."))
    before = store.token()
    _write(store, _doc("b", "Beta."))
    assert store.made_since(before, store.token())
    other = Store.open(make_settings(tmp_path / "store"))
    _write(other, _doc("c", "Gamma."))
    assert not store.made_since(before, store.token())  # another handle (process) wrote too


def test_a_documents_summary_is_the_documents_apis_form(store: Store) -> None:
    """The keys `despatch docs` and GET /api/documents have always shown, with the values the
    document was written with (a turn's speaker, party and column stay with its sections)."""
    doc = replace(
        _doc("a", "Alpha one. Alpha two."),
        date="2018-04-16",
        url="https://example.org/a",
        byline="A Reporter",
        section="Politics",
        tags=("windrush",),
        speaker="Somebody",
    )
    _write(store, doc)
    (stored,) = store.documents()
    summary = stored.summary()
    assert set(summary) == {
        "id",
        "title",
        "date",
        "source",
        "kind",
        "url",
        "byline",
        "section",
        "tags",
        "chunks",
    }
    assert summary["id"] == "a" and summary["title"] == "A" and summary["source"] == "Test"
    assert (summary["date"], summary["url"], summary["byline"]) == (
        "2018-04-16",
        "https://example.org/a",
        "A Reporter",
    )
    assert (summary["section"], summary["tags"], summary["kind"]) == ("Politics", ["windrush"], "article")
    assert summary["chunks"] >= 1
