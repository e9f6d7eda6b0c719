"""The Chroma seam on a real embedded Chroma in a temp dir: opening a store (and every way that
fails), the ``where`` clause agreeing with ``Filters.allows``, and the reconnect gate.

Vectors are always given explicitly: Chroma's default embedding function would download a model.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from despatch.errors import StoreError
from despatch.settings import load_settings
from index.chroma import Gate, connect, where_clause
from index.filters import Filters
from index.records import ChunkMeta


def _meta(doc_id: str, **fields: Any) -> ChunkMeta:
    return ChunkMeta(
        doc_id=doc_id,
        version="v1",
        ordinal=0,
        start=0,
        end=10,
        tokens=3,
        title=f"Title {doc_id}",
        source=fields.pop("source", "Hansard"),
        **fields,
    )


CHUNKS: dict[str, ChunkMeta] = {
    "a": _meta("d1", date="2010-01-06", tags=("asylum", "visas"), speaker="Alice Hartley", party="Lab"),
    "b": _meta("d1", date="2010-01-06", tags=("asylum", "visas"), speaker="Bernard Okafor", party="Con"),
    "c": _meta("d2", date="2009-12-31", source="BBC", tags=("visas",)),
    "d": _meta("d3", date="2010-02-01", source="BBC"),
    "e": _meta("d4", source="Guardian", tags=("asylum",)),  # undated
    "f": _meta("d5", date="2011-01-01", tags=("wales",)),
}


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real embedded collection holding ``CHUNKS`` with their store metadata and 3-d vectors."""
    client = connect(load_settings(store=tmp_path_factory.mktemp("where") / "store"), create=True)
    coll = client.get_or_create_collection(
        "t_chunks", metadata={"hnsw:space": "cosine"}, embedding_function=None
    )
    ids = list(CHUNKS)
    coll.add(
        ids=ids,
        embeddings=[[1.0, float(i), 0.5] for i in range(len(ids))],
        metadatas=[CHUNKS[i].to_metadata() for i in ids],
        documents=[f"text {i}" for i in ids],
    )
    return coll


def test_create_makes_the_folder_and_a_working_client(tmp_path: Path) -> None:
    store = tmp_path / "nested" / "store"
    client = connect(load_settings(store=store), create=True)
    coll = client.get_or_create_collection("probe", embedding_function=None)
    coll.add(ids=["1"], embeddings=[[0.1, 0.2]], documents=["hello"])
    assert (store / "chroma.sqlite3").is_file()
    assert coll.get(ids=["1"])["documents"] == ["hello"]


def test_reopening_an_existing_store_sees_its_data(tmp_path: Path) -> None:
    settings = load_settings(store=tmp_path / "store")
    first = connect(settings, create=True).get_or_create_collection("probe", embedding_function=None)
    first.add(ids=["1", "2"], embeddings=[[0.1, 0.2], [0.3, 0.4]])
    again = connect(settings, create=False).get_collection("probe", embedding_function=None)
    assert again.count() == 2


def test_opening_a_missing_store_says_how_to_build_one(tmp_path: Path) -> None:
    store = tmp_path / "none"
    with pytest.raises(StoreError) as info:
        connect(load_settings(store=store), create=False)
    message = str(info.value)
    assert f"No index at {store}" in message and "despatch ingest" in message
    assert not store.exists()  # reading never creates a store


def test_an_empty_folder_is_not_an_index(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="No index at"):
        connect(load_settings(store=tmp_path), create=False)


def test_a_file_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "store"
    path.write_text("not a folder", encoding="utf-8")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        connect(load_settings(store=path), create=True)
    assert path.read_text(encoding="utf-8") == "not a folder"  # left as it was


def test_a_corrupt_store_is_a_store_error_with_the_fix(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "chroma.sqlite3").write_bytes(b"this is not a SQLite database" * 100)
    with pytest.raises(StoreError, match="corrupt or unreadable") as info:
        connect(load_settings(store=store), create=False)
    assert "despatch ingest" in str(info.value)
    assert info.value.__cause__ is not None  # chromadb's error is kept as the cause


def test_an_unreachable_server_is_a_store_error_naming_it(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(StoreError, match="Cannot reach the Chroma server") as info:
        connect(load_settings(chroma_url=url, store=tmp_path / "local"), create=True)
    assert url in str(info.value) and "chroma run" in str(info.value)
    assert not (tmp_path / "local").exists()  # server mode never writes a local store


def test_where_clause_of_no_or_empty_filters_is_none() -> None:
    assert where_clause(None) is None
    assert where_clause(Filters()) is None


def test_speaker_and_party_are_left_to_the_retriever() -> None:
    """Chroma cannot match names loosely, so a person-only scope adds no where clause."""
    assert where_clause(Filters(speaker="Hartley", party="Labour")) is None
    assert where_clause(Filters(speaker="Hartley", source="Hansard")) == {"source": "Hansard"}


def test_where_clause_shapes() -> None:
    """Chroma refuses ``$and``/``$or`` with one operand: a single clause stands alone."""
    assert where_clause(Filters(date_from="2010-01-06")) == {"date_ord": {"$gte": 20100106}}
    assert where_clause(Filters(tags=("asylum",))) == {"tag:asylum": 1}
    assert where_clause(Filters(tags=("asylum", "visas"))) == {"$or": [{"tag:asylum": 1}, {"tag:visas": 1}]}
    both = where_clause(Filters(date_from="2010-01-01", date_to="2010-01-31", doc_ids=("d1",)))
    assert both == {
        "$and": [
            {"date_ord": {"$gte": 20100101}},
            {"date_ord": {"$lte": 20100131}},
            {"doc_id": {"$in": ["d1"]}},
        ]
    }


SCOPES = [
    Filters(date_from="2010-01-06"),
    Filters(date_to="2010-01-06"),
    Filters(date_from="2010-01-01", date_to="2010-01-31"),
    Filters(date_from="2009-12-31", date_to="2009-12-31"),
    Filters(source="BBC"),
    Filters(source="bbc"),
    Filters(doc_ids=("d1", "d4")),
    Filters(doc_ids=("nope",)),
    Filters(tags=("asylum",)),
    Filters(tags=("visas", "wales")),
    Filters(tags=("none-such",)),
    Filters(date_from="2010-01-01", source="BBC", tags=("visas",)),
    Filters(
        date_from="2009-01-01", date_to="2012-01-01", doc_ids=("d1", "d2", "d5"), tags=("asylum", "wales")
    ),
]


@pytest.mark.parametrize("filters", SCOPES)
def test_chroma_with_the_where_clause_keeps_exactly_what_filters_allow(
    collection: Any, filters: Filters
) -> None:
    """The store's query and the retriever's own check must agree on every non-person scope."""
    got = collection.get(where=where_clause(filters), include=[])
    expected = {cid for cid, m in CHUNKS.items() if filters.allows(m)}
    assert set(got["ids"]) == expected


def test_a_vector_query_honours_the_where_clause(collection: Any) -> None:
    filters = Filters(source="BBC")
    got = collection.query(query_embeddings=[[1.0, 0.0, 0.5]], n_results=2, where=where_clause(filters))
    assert set(got["ids"][0]) == {"c", "d"}


def test_a_person_scope_on_chroma_then_allows_gives_the_speaker(collection: Any) -> None:
    filters = Filters(source="Hansard", speaker="hartley")
    got = collection.get(where=where_clause(filters), include=["metadatas"])
    kept = [
        cid
        for cid, m in zip(got["ids"], got["metadatas"], strict=True)
        if filters.allows(ChunkMeta.from_metadata(m))
    ]
    assert kept == ["a"]


def _started(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_gate_lets_shared_operations_run_together() -> None:
    gate = Gate()
    both_in = threading.Barrier(2, timeout=5)

    def op() -> None:
        with gate.shared():
            both_in.wait()  # breaks (and raises) unless the other is inside at the same time

    threads = [_started(op), _started(op)]
    for t in threads:
        t.join(5)
    assert not both_in.broken and not any(t.is_alive() for t in threads)


def test_gate_exclusive_waits_for_operations_in_flight() -> None:
    gate = Gate()
    inside, release, reconnected = threading.Event(), threading.Event(), threading.Event()

    def op() -> None:
        with gate.shared():
            inside.set()
            release.wait(5)

    def reconnect() -> None:
        with gate.exclusive():
            reconnected.set()

    worker = _started(op)
    assert inside.wait(5)
    _started(reconnect)
    assert not reconnected.wait(0.2)  # held back while the operation runs
    release.set()
    assert reconnected.wait(5)
    worker.join(5)


def test_gate_holds_new_operations_back_during_a_reconnect() -> None:
    gate = Gate()
    order: list[str] = []
    holding, release, ran = threading.Event(), threading.Event(), threading.Event()

    def reconnect() -> None:
        with gate.exclusive():
            holding.set()
            release.wait(5)
            order.append("reconnect done")

    def op() -> None:
        with gate.shared():
            order.append("op")
            ran.set()

    _started(reconnect)
    assert holding.wait(5)
    _started(op)
    assert not ran.wait(0.2)
    release.set()
    assert ran.wait(5)
    assert order == ["reconnect done", "op"]


def test_gate_is_released_when_the_body_raises() -> None:
    gate = Gate()
    with pytest.raises(RuntimeError), gate.exclusive():
        raise RuntimeError("reconnect failed")
    with pytest.raises(ValueError), gate.shared():
        raise ValueError("query failed")
    done = threading.Event()

    def reconnect() -> None:
        with gate.exclusive():
            done.set()

    _started(reconnect)
    assert done.wait(5)  # neither failure left the gate held
