"""JSON records as documents (``index.json_records``): safe ids and addresses, each field's
checks and defaults, the ids records get, and a file's bad records reported or raised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from despatch.errors import InputError
from index.documents import canonical, stable_id
from index.json_records import read_records, record_document, safe_id, safe_url
from index.records import Document


def _record(record: dict[str, Any], **kwargs: Any) -> Document:
    defaults: dict[str, Any] = {
        "default_key": "key#1",
        "default_title": "Feed 1",
        "default_source": "feed.jsonl",
    }
    return record_document(record, **{**defaults, **kwargs})


def _jsonl(*lines: object) -> str:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a1", "a1"), ("2018-04-26:rudd_v2.1", "2018-04-26:rudd_v2.1"), (42, "42"), ("x" * 128, "x" * 128)],
)
def test_safe_id_accepts_slugs_and_whole_numbers(value: object, expected: str) -> None:
    assert safe_id(value) == expected


@pytest.mark.parametrize(
    "value", ["", "-leading", ".hidden", "has space", "a/b", "x" * 129, "caf\u00e9", True, 1.5, None, ["a"]]
)
def test_safe_id_refuses_anything_else(value: object) -> None:
    with pytest.raises(ValueError, match=r'"id" must be 1 to 128 letters, digits'):
        safe_id(value)


def test_safe_url_keeps_absolute_http_addresses_trimmed() -> None:
    assert safe_url("  https://example.org/story?id=1#top ") == "https://example.org/story?id=1#top"
    assert safe_url("HTTP://EXAMPLE.ORG/") == "HTTP://EXAMPLE.ORG/"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("javascript:alert(1)", "must be an absolute http:// or https:// address"),
        ("ftp://example.org/file", "must be an absolute http:// or https:// address"),
        ("/relative/path", "must be an absolute http:// or https:// address"),
        ("https://", "must be an absolute http:// or https:// address"),
        ("https://example.org/a b", "must be an absolute http:// or https:// address"),
        ("http://[::1", "is not a valid address"),
    ],
)
def test_safe_url_refuses_other_addresses(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=f'"url" {message}'):
        safe_url(value)


def test_record_fields_reach_the_document_cleaned_and_normalised() -> None:
    doc = _record(
        {
            "id": "a1",
            "text": "  The target was 12,000.\x00 It was missed.\r\n",
            "title": " Removal targets ",
            "source": "Wire",
            "url": "https://example.org/t",
            "date": "2018-04-26T10:00:00Z",
            "byline": "B" * 300,
            "section": "S" * 150,
            "tags": ["Home Office", "home-office", "Windrush!"],
        }
    )
    assert doc.id == "a1"
    assert doc.text == "The target was 12,000. It was missed."
    assert (doc.title, doc.source, doc.url, doc.date) == (
        "Removal targets",
        "Wire",
        "https://example.org/t",
        "2018-04-26",
    )
    assert doc.byline == "B" * 200 and doc.section == "S" * 100
    assert doc.tags == ("home-office", "windrush")


def test_record_without_id_is_keyed_by_url_else_default_key() -> None:
    with_url = _record({"text": "Body.", "url": "https://example.org/2"})
    assert with_url.id == stable_id("url:https://example.org/2")
    assert _record({"text": "Body."}).id == stable_id("key#1")
    assert _record({"text": "Body."}, default_key="other#7").id == stable_id("other#7")
    # Defaults fill what the record leaves out; optional fields stay unset.
    doc = _record({"text": "Body."})
    assert (doc.title, doc.source, doc.date, doc.url, doc.byline, doc.tags) == (
        "Feed 1",
        "feed.jsonl",
        None,
        None,
        None,
        (),
    )


def test_html_record_gives_title_date_and_main_text_unless_the_record_says() -> None:
    html = (
        '<html><head><meta property="article:published_time" content="2020-05-06"></head>'
        "<body><nav>Home</nav><article><h1>Visa fees rise</h1><p>Fees rose.</p></article></body></html>"
    )
    doc = _record({"html": html})
    assert (doc.title, doc.date, doc.text) == ("Visa fees rise", "2020-05-06", "Fees rose.")
    own = _record({"html": html, "title": "Own title", "date": "2021-01-01"})
    assert (own.title, own.date) == ("Own title", "2021-01-01")
    # Text wins over html when a record has both.
    assert _record({"html": html, "text": "Plain text."}).text == "Plain text."


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": 5}, r'^"text" must be text$'),
        ({"text": "x", "title": ["a"]}, r'^"title" must be text$'),
        ({"text": "x", "url": 1}, r'^"url" must be text$'),
        ({"text": "  \n "}, r'missing or empty "text" \(or "html" with no main text\)'),
        ({"html": "<script>var x;</script>"}, r'missing or empty "text"'),
        ({"text": "x", "date": "26/04/2018"}, r"\"date\" '26/04/2018' is not a real date written YYYY-MM-DD"),
        ({"text": "x", "date": "2018-02-30"}, r"\"date\" '2018-02-30' is not a real date"),
        ({"text": "x", "url": "javascript:alert(1)"}, r'"url" must be an absolute http'),
        ({"text": "x", "tags": "windrush"}, r'"tags" must be a list of at most 50 strings'),
        ({"text": "x", "tags": ["t"] * 51}, r'"tags" must be a list of at most 50 strings'),
        ({"text": "x", "tags": ["t" * 61]}, r"of at most 60 characters"),
        ({"text": "x", "id": "bad id"}, r'"id" must be 1 to 128'),
        ({"text": "x", "id": True}, r'"id" must be 1 to 128'),
    ],
)
def test_a_bad_field_is_a_value_error_naming_it(record: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _record(record)


def test_file_records_get_stable_ids_origin_titles_and_legacy_ids(tmp_path: Path) -> None:
    path = tmp_path / "2021-01-01-feed.jsonl"
    text = _jsonl({"id": "a1", "text": "First."}, "", {"text": "Third line."})
    first = read_records(path, "feeds/feed.jsonl", text, ".jsonl", None)
    again = read_records(path, "feeds/feed.jsonl", text, ".jsonl", None)
    assert [d.id for d in first] == [d.id for d in again] == ["a1", stable_id(f"{canonical(path)}#3")]
    assert [d.version for d in first] == [d.version for d in again]
    assert [d.title for d in first] == ["Feed 1", "Feed 3"]  # blank lines still count
    assert {d.origin for d in first} == {canonical(path)}
    assert {d.source for d in first} == {"feeds/feed.jsonl"}
    assert first[0].replaces == (stable_id("feeds/feed.jsonl#a1"), stable_id("id:a1"))
    assert first[1].replaces == (stable_id("feeds/feed.jsonl#3"),)


def test_bad_jsonl_records_are_reported_and_the_good_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    text = _jsonl(
        {"text": "Good."}, "{broken", ["not", "an", "object"], {"title": "no text"}, {"text": "Also."}
    )
    problems: list[InputError] = []
    docs = read_records(path, "feed.jsonl", text, ".jsonl", problems)
    assert [d.text for d in docs] == ["Good.", "Also."]
    assert [p.reason for p in problems] == [
        "line 2: malformed JSON (Expecting property name enclosed in double quotes); record skipped",
        'line 3: expected an object with a "text" field; record skipped',
        'line 4: missing or empty "text" (or "html" with no main text); record skipped',
    ]
    assert all(p.path == str(path) for p in problems)
    # Without a list to report into, the first bad record raises.
    with pytest.raises(InputError, match=r"feed\.jsonl: line 2: malformed JSON"):
        read_records(path, "feed.jsonl", text, ".jsonl", None)


def test_json_file_shapes(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    one = read_records(path, "feed.json", json.dumps({"text": "Solo."}), ".json", None)
    wrapped = read_records(
        path, "feed.json", json.dumps({"records": [{"text": "A."}, {"text": "B."}]}), ".json", None
    )
    documents = read_records(path, "feed.json", json.dumps({"documents": [{"text": "C."}]}), ".json", None)
    assert [d.text for d in one] == ["Solo."]
    assert [d.text for d in wrapped] == ["A.", "B."]
    assert [d.text for d in documents] == ["C."]
    problems: list[InputError] = []
    read_records(path, "feed.json", json.dumps([{"text": "A."}, 7]), ".json", problems)
    assert [p.reason for p in problems] == [
        'record 2: expected an object with a "text" field; record skipped'
    ]


@pytest.mark.parametrize(
    ("suffix", "text", "message"),
    [
        (".jsonl", "\n\n", "no records found"),
        (".json", '{"records": []}', "no records found"),
        (".json", "5", r'JSON must be a record, a list of records or \{"records": \[\.\.\.\]\}'),
        (".json", '{"records": {"text": "x"}}', "JSON must be a record"),
        (".json", '[{"text": "a"},\n{"text": }]', r"line 2: malformed JSON \(Expecting value\)"),
        (
            ".jsonl",
            _jsonl({"text": ""}, {"title": "no text"}),
            r'no good records \(2 bad; first: line 1: missing or empty "text"',
        ),
    ],
)
def test_a_file_without_good_records_raises(tmp_path: Path, suffix: str, text: str, message: str) -> None:
    path = tmp_path / f"feed{suffix}"
    with pytest.raises(InputError, match=message) as raised:
        read_records(path, path.name, text, suffix, [])
    assert raised.value.path == str(path)
