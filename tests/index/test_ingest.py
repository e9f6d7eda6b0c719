"""Ingest into a real embedded Chroma: idempotency, updates, atomicity, bad input, search."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from despatch.errors import StoreError
from entry.cli import main
from index.ingest import Indexer
from index.store import Store
from tests.conftest import FOUNDING, HANSARD, CountingEmbedder, make_settings


def _indexer(store_path: Path, embedder: Any) -> tuple[Indexer, Store, CountingEmbedder]:
    settings = make_settings(store_path)
    store = Store.open(settings, create=True)
    counting = CountingEmbedder(embedder)
    return Indexer(settings, store, counting), store, counting


def _chunk_ids(store: Store) -> list[str]:
    return sorted(c.id for c in store.iter_chunks())


def test_reingest_is_idempotent(tmp_path: Path, embedder: Any) -> None:
    indexer, store, counting = _indexer(tmp_path / "s", embedder)
    first = indexer.ingest([FOUNDING])
    ids = _chunk_ids(store)
    assert (first.added, first.chunks_written) == (1, len(ids))
    embedded = counting.embedded
    again = indexer.ingest([FOUNDING])
    assert (again.added, again.unchanged, again.chunks_written) == (0, 1, 0)
    assert counting.embedded == embedded  # nothing re-embedded
    assert _chunk_ids(store) == ids
    assert store.count_chunks() == len(ids)


def test_changed_file_replaces_its_chunks(tmp_path: Path, embedder: Any, corpus_copy: Path) -> None:
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    indexer.ingest([corpus_copy])
    old = set(_chunk_ids(store))
    path = next(corpus_copy.iterdir())
    path.write_text(path.read_text().replace("12,000", "13,500"), encoding="utf-8")
    summary = indexer.ingest([corpus_copy])
    assert (summary.updated, summary.added) == (1, 0)
    new = set(_chunk_ids(store))
    assert new != old and store.count_chunks() == len(new)
    [doc] = store.documents()
    assert doc.chunks == len(new)
    texts = " ".join(c.text for c in store.iter_chunks())
    assert "13,500" in texts and "12,000" not in texts


def test_bad_files_are_reported_and_the_rest_ingested(
    tmp_path: Path, embedder: Any, corpus_copy: Path
) -> None:
    (corpus_copy / "empty.txt").write_text("")
    (corpus_copy / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (corpus_copy / "broken.jsonl").write_text('{"text": "fine"}\n{oops\n')
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    summary = indexer.ingest([corpus_copy, tmp_path / "missing-folder"])
    # The founding article and the good record of broken.jsonl; its bad line is reported alone.
    assert summary.added == 2 and summary.failed == 3 and summary.bad_records == 1
    joined = "\n".join(summary.errors)
    for expected in (
        "empty.txt: file is empty",
        "photo.jpg: unsupported file type .jpg",
        "broken.jsonl: line 2: malformed JSON",
        "missing-folder: no such file",
    ):
        assert expected in joined
    assert sorted(d.title for d in store.documents())[0].startswith(("Broken", "broken"))
    assert len(store.documents()) == 2


class _FailingCollection:
    """The real chunk collection, except that every upsert after the first fails like a lost server."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.upserts = 0

    def upsert(self, **kwargs: Any) -> Any:
        self.upserts += 1
        if self.upserts >= 2:
            raise RuntimeError("connection reset")
        return self.inner.upsert(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_failure_mid_document_leaves_no_partial_chunks(
    tmp_path: Path, embedder: Any, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    indexer.ingest([corpus_copy])
    before = _chunk_ids(store)
    [old_doc] = store.documents()
    path = next(corpus_copy.iterdir())
    path.write_text(path.read_text().replace("7,200", "7,300"), encoding="utf-8")
    monkeypatch.setattr("index.store._BATCH", 2)  # several upserts per document
    store.chunks = _FailingCollection(store.chunks)
    summary = indexer.ingest([corpus_copy])
    assert summary.failed == 1 and "connection reset" in summary.errors[0]
    assert _chunk_ids(store) == before  # the old version is intact, nothing of the new one
    assert store.chunks.inner.count() == len(before)
    assert store.documents() == [old_doc]


def test_crash_mid_write_is_swept_on_next_ingest(tmp_path: Path, embedder: Any, corpus_copy: Path) -> None:
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    indexer.ingest([corpus_copy])
    committed = _chunk_ids(store)
    # Simulate a process killed after writing chunks but before the commit point.
    store._set_state(dirty="crashed")
    store.chunks.upsert(
        ids=["orphan-1"],
        embeddings=[np.ones(384).tolist()],
        documents=["half"],
        metadatas=[{"doc_id": "zzz", "version": "v0", "start": 0, "end": 4}],
    )
    assert store.count_chunks() == len(committed) + 1
    assert _chunk_ids(store) == committed  # readers never see it
    summary = indexer.ingest([corpus_copy])
    assert summary.recovered_chunks == 1
    assert store.count_chunks() == len(committed)


def test_nearest_neighbour_finds_the_2015_16_target(founding_store: Any, embedder: Any) -> None:
    _, store = founding_store
    vector = embedder.embed(["voluntary departures target 2015/16"])[0]
    [(chunk, score)] = store.query(vector, 1)
    assert "the annual target was raised to 12,000" in chunk.text
    assert score > 0.4


def test_documents_list_and_remove(tmp_path: Path, embedder: Any) -> None:
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    indexer.ingest([FOUNDING, HANSARD / "2010-09-06_Immigration_Cap.txt"])
    docs = store.documents()
    assert [d.date for d in docs] == ["2010-09-06", "2018-04-26"]
    assert all(d.chunks > 0 for d in docs)
    assert store.remove(docs[0].id)
    assert [d.id for d in store.documents()] == [docs[1].id]
    assert all(c.meta.doc_id == docs[1].id for c in store.iter_chunks())
    assert not store.remove("no-such-id")


def test_missing_store_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"No index at .*despatch ingest"):
        Store.open(make_settings(tmp_path / "nothing"))


def test_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="corrupt"):
        Store.open(make_settings(folder)).documents()


def test_cli_ingest_docs_remove(
    tmp_path: Path, corpus_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "cli-store")
    (corpus_copy / "empty.txt").write_text("")
    assert main(["ingest", str(corpus_copy), "--store", store, "--json"]) == 1  # one bad file
    summary = json.loads(capsys.readouterr().out)
    assert (summary["added"], summary["failed"]) == (1, 1)
    (corpus_copy / "empty.txt").unlink()
    assert main(["ingest", str(corpus_copy), "--store", store]) == 0
    assert "0 added, 0 updated, 1 unchanged, 0 failed" in capsys.readouterr().out
    assert main(["docs", "--json", "--store", store]) == 0
    [doc] = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"id", "title", "date", "source", "chunks"} and doc["date"] == "2018-04-26"
    assert main(["remove", doc["id"], "--store", store]) == 0
    capsys.readouterr()
    assert main(["docs", "--json", "--store", store]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_cli_missing_store_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "--store", str(tmp_path / "none")]) == 2
    assert "Build one with: despatch ingest" in capsys.readouterr().err


def test_store_copy_is_usable(tmp_path: Path, founding_store: Any) -> None:
    settings, _store = founding_store
    copy = tmp_path / "copy"
    shutil.copytree(settings.store, copy)
    assert len(Store.open(make_settings(copy)).documents()) == 1


def test_jsonl_records_are_independent(tmp_path: Path, embedder: Any) -> None:
    records = tmp_path / "export.jsonl"
    records.write_text(
        '{"id": "a1", "title": "One", "text": "The committee met on Monday."}\n'
        "not json at all\n"
        '{"id": "a2", "title": "Two"}\n'
        '["a list"]\n'
        '{"id": "a3", "title": "Three", "text": "The vote was 301 to 231."}\n'
    )
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    summary = indexer.ingest([records])
    assert summary.added == 2 and summary.failed == 0 and summary.bad_records == 3
    joined = "\n".join(summary.errors)
    assert "line 2: malformed JSON" in joined and 'line 3: missing or empty "text"' in joined
    assert "line 4: expected an object" in joined and "record skipped" in joined
    assert sorted(d.title for d in store.documents()) == ["One", "Three"]


def test_identity_does_not_depend_on_the_working_directory(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = tmp_path / "news" / "story.txt"
    story.parent.mkdir()
    story.write_text("date 2018-04-26\nRudd\n\nThe target was 12,000 departures.\n")
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    monkeypatch.chdir(tmp_path)
    indexer.ingest([Path("news/story.txt")])
    monkeypatch.chdir(story.parent)
    story.write_text("date 2018-04-26\nRudd\n\nThe target was raised to 15,000 departures.\n")
    summary = indexer.ingest([Path("story.txt")])
    assert summary.updated == 1 and summary.added == 0
    (doc,) = store.documents()
    stored = store.document(doc.id)
    assert stored is not None and "15,000" in (stored.text or "")


def test_a_store_from_an_earlier_version_is_migrated_on_reingest(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier versions keyed a file by its path relative to the working directory; re-ingesting
    it from that directory replaces the old record in the same commit."""
    from dataclasses import replace

    from index.documents import stable_id
    from index.reading import read_file

    story = tmp_path / "story.txt"
    story.write_text("Rudd\n\nThe target was 12,000 departures.\n")
    monkeypatch.chdir(tmp_path)
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    (doc,) = read_file(Path("story.txt"), 10**6)
    legacy = replace(doc, id=stable_id("story.txt"), replaces=())
    chunks = indexer.chunk(legacy)
    store.write_document(legacy, chunks, embedder.embed([c.embedding_text() for c in chunks]))
    assert [d.id for d in store.documents()] == [legacy.id]
    indexer.ingest([Path("story.txt")])
    assert [d.id for d in store.documents()] == [doc.id] and doc.id != legacy.id
    assert all(c.meta.doc_id == doc.id for c in store.iter_chunks())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"caf\xe9 \x81 closed", "byte at offset 5 cannot be decoded"),
    ],
)
def test_undecodable_text_is_reported(tmp_path: Path, embedder: Any, data: bytes, expected: str) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(data)
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    summary = indexer.ingest([bad])
    assert (
        summary.failed == 1
        and expected in summary.errors[0]
        and "save the file as UTF-8" in summary.errors[0]
    )
    assert store.documents() == []


def test_legacy_encodings_decode_by_the_stated_rule(tmp_path: Path) -> None:
    from index.reading import read_file

    cp1252 = tmp_path / "a.txt"
    cp1252.write_bytes("Title\n\nThe minister\u2019s caf\u00e9 reply.\n".encode("cp1252"))
    utf16 = tmp_path / "b.txt"
    utf16.write_bytes("Title\n\nA UTF-16 caf\u00e9 file.\n".encode("utf-16"))
    controls = tmp_path / "c.txt"
    controls.write_bytes("Title\n\nBell\x07 and C1\u0085 gone.\n".encode())
    assert "minister\u2019s caf\u00e9" in read_file(cp1252, 10**6)[0].text
    assert "UTF-16 caf\u00e9" in read_file(utf16, 10**6)[0].text
    text = read_file(controls, 10**6)[0].text
    assert "\x07" not in text and "\u0085" not in text and "Bell and C1 gone." in text


def test_a_file_deleted_mid_run_says_so(tmp_path: Path) -> None:
    from despatch.errors import InputError
    from index.reading import read_file

    with pytest.raises(InputError, match="no longer exists"):
        read_file(tmp_path / "gone.txt", 10**6)


def test_a_record_removed_from_its_file_leaves_the_index(tmp_path: Path, embedder: Any) -> None:
    export = tmp_path / "export.jsonl"
    export.write_text(
        '{"id": "a1", "title": "Ferret festival", "text": "The ferret festival drew 900 people."}\n'
        '{"id": "a2", "title": "Budget", "text": "The budget rose by 3 per cent."}\n'
    )
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    assert indexer.ingest([export]).added == 2
    export.write_text('{"id": "a2", "title": "Budget", "text": "The budget rose by 3 per cent."}\n')
    summary = indexer.ingest([export])
    assert (summary.removed, summary.unchanged) == (1, 1)
    assert [d.title for d in store.documents()] == ["Budget"]
    # A malformed line might be a stored record's new version: then nothing is removed.
    export.write_text('{"id": "a2", "title": "Budget", "text": "The budget rose by 3 per cent."}\n{oops\n')
    assert indexer.ingest([export]).removed == 0


def test_unchanged_file_through_another_directory_or_a_link_writes_nothing(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = tmp_path / "art" / "zorblax.txt"
    story.parent.mkdir()
    story.write_text("The zorblax count was 17.\n")
    link = tmp_path / "zlink.txt"
    link.symlink_to(story)
    indexer, store, _ = _indexer(tmp_path / "s", embedder)
    monkeypatch.chdir(story.parent)
    assert indexer.ingest([Path("zorblax.txt")]).added == 1
    monkeypatch.chdir(tmp_path)
    assert indexer.ingest([Path("art/zorblax.txt")]).unchanged == 1
    assert indexer.ingest([link]).unchanged == 1
    (doc,) = store.documents()
    assert doc.title == "Zorblax"


def test_record_fields_must_be_text(tmp_path: Path) -> None:
    from index.reading import read_file

    bad = tmp_path / "r.jsonl"
    bad.write_text(
        '{"text": "One.", "source": ["a", "b"]}\n{"text": "Two.", "date": "not a date"}\n'
        '{"text": "Three \\ud800 surrogate.", "id": "story-3"}\n'
        '{"text": "Four.", "id": "../etc x\\udfff"}\n{"text": "Five.", "url": "javascript:alert(1)"}\n'
        '{"text": "Six.", "tags": "not-a-list"}\n'
    )
    problems: list[Any] = []
    docs = read_file(bad, 10**6, problems)
    assert [d.text for d in docs] == ["Three  surrogate."]
    reasons = "\n".join(str(p) for p in problems)
    assert '"source" must be text' in reasons
    assert "'not a date' is not a real date written YYYY-MM-DD" in reasons
    assert 'line 4: "id" must be 1 to 128 letters' in reasons
    assert 'line 5: "url" must be an absolute http:// or https:// address' in reasons
    assert 'line 6: "tags" must be a list' in reasons
    assert docs[0].id == "story-3"  # the caller's id is the document id


def test_a_records_own_id_is_its_document_id(tmp_path: Path) -> None:
    from index.reading import read_file

    path = tmp_path / "stories.jsonl"
    path.write_text(
        '{"id": "rudd-2018", "text": "One.", "url": "https://courier.example/a", "tags": ["Home Office"]}\n'
        '{"id": 42, "text": "Two.", "byline": "Political staff", "section": "Politics"}\n'
    )
    first, second = read_file(path, 10**6)
    assert (
        first.id == "rudd-2018"
        and first.url == "https://courier.example/a"
        and first.tags == ("home-office",)
    )
    assert second.id == "42" and second.byline == "Political staff" and second.section == "Politics"
