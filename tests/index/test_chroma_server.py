"""Ingest against a real `chroma run` server gives the same documents as the embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from index.ingest import Indexer
from index.store import Store
from tests.conftest import FOUNDING, HANSARD, make_settings


def test_server_store_matches_embedded(tmp_path: Path, embedder: Any, chroma_server: str) -> None:
    paths = [FOUNDING, HANSARD / "2010-09-06_Immigration_Cap.txt", HANSARD / "2010-03-24_Zimbabwe.txt"]
    results = []
    for settings in (
        make_settings(tmp_path / "embedded"),
        make_settings(tmp_path / "unused", chroma_url=chroma_server, collection="servertest"),
    ):
        store = Store.open(settings, create=True)
        summary = Indexer(settings, store, embedder).ingest(paths)
        assert (summary.added, summary.failed) == (3, 0)
        again = Indexer(settings, store, embedder).ingest(paths)
        assert again.unchanged == 3 and again.chunks_written == 0
        results.append(
            (
                [d.summary() for d in store.documents()],
                sorted((c.id, c.text) for c in store.iter_chunks()),
            )
        )
    assert results[0] == results[1]
    assert not (tmp_path / "unused").exists()  # the server mode never writes a local store
