"""Readers: every supported form, cleaning, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from despatch.errors import InputError
from index.cleaning import clean_text, decode
from index.reading import read_file
from tests.conftest import FOUNDING, HANSARD

MB = 20_000_000


def test_founding_article_date_header_and_body() -> None:
    [doc] = read_file(FOUNDING, MB)
    assert doc.date == "2018-04-26"
    assert doc.text.startswith("Home Secretary Amber Rudd has been told")
    assert "date 2018" not in doc.text
    assert doc.title == "Rudd removal targets"  # no headline: falls back to the file name
    assert "Witht he Home Secretary" in doc.text  # kept exactly as received


def test_date_header_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "piece.txt"
    path.write_text("date 2019-01-02\nThe Commons met today. Members spoke.\n", encoding="utf-8")
    [doc] = read_file(path, MB)
    assert doc.date == "2019-01-02"
    assert doc.text == "The Commons met today. Members spoke."


def test_headline_first_line_gives_title(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_text("MPs back new asylum rules\n\nThe vote passed by 20 votes. It was close.\n")
    [doc] = read_file(path, MB)
    assert doc.title == "MPs back new asylum rules"
    assert doc.text.startswith("The vote passed")


def test_markdown_heading_gives_title(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("# Budget debate\n\nThe Chancellor spoke for an hour.\n")
    [doc] = read_file(path, MB)
    assert (doc.title, doc.text) == ("Budget debate", "The Chancellor spoke for an hour.")


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        """<html><head><title>Site | Story</title><style>p{color:red}</style>
        <meta property="article:published_time" content="2020-05-06T10:00:00Z"></head>
        <body><nav>Home News Sport</nav><script>alert(1)</script>
        <article><h1>Visa fees rise</h1><p>The Home Office raised visa fees.</p>
        <p>Critics objected.</p></article><footer>Copyright</footer></body></html>"""
    )
    [doc] = read_file(path, MB)
    assert doc.title == "Visa fees rise"
    assert doc.date == "2020-05-06"
    assert doc.text == "The Home Office raised visa fees.\n\nCritics objected."


def test_html_time_element_wins(tmp_path: Path) -> None:
    path = tmp_path / "t.htm"
    path.write_text('<title>T</title><body><time datetime="2011-02-03">3 Feb</time><p>Text here.</p></body>')
    [doc] = read_file(path, MB)
    assert doc.date == "2011-02-03"
    assert doc.title == "T"


def test_jsonl_records(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    rows = [
        {"id": "a1", "text": "First story text.", "title": "One", "date": "2021-01-01", "source": "Wire"},
        {"text": "Second story.", "url": "https://example.org/2"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    docs = read_file(path, MB)
    assert next(d.title for d in docs) == "One"
    assert docs[0].source == "Wire" and docs[0].date == "2021-01-01"
    assert docs[1].url == "https://example.org/2"
    assert len({d.id for d in docs}) == 2


def test_json_list(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps([{"text": "Alpha."}, {"text": "Beta.", "title": "B"}]))
    assert [d.text for d in read_file(path, MB)] == ["Alpha.", "Beta."]


def test_transcript_turns_keep_speaker_and_party() -> None:
    [doc] = read_file(HANSARD / "2010-09-06_Immigration_Cap.txt", MB)
    assert doc.kind == "transcript"
    assert doc.title == "Immigration Cap"
    assert doc.date == "2010-09-06"
    first = doc.sections[0]
    assert (first.speaker, first.party, first.speech) == ("Lorely Burt", "LibDem", 45)
    assert doc.text[first.start : first.end].startswith("What steps she plans")
    assert all("[speech" not in doc.text[s.start : s.end] for s in doc.sections)


def test_mojibake_is_repaired_in_hansard() -> None:
    [doc] = read_file(HANSARD / "2010-01-06_Immigration_Control.txt", MB)
    assert "â€" not in doc.text
    assert "“" in doc.text


def test_cp1252_file_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("Minister\u2019s reply cost \u00a35.\n".encode("cp1252"))
    [doc] = read_file(path, MB)
    assert doc.text == "Minister\u2019s reply cost £5."


def test_clean_text_repairs_common_mojibake() -> None:
    assert clean_text("â€œtotal supportâ€\x9d") == "“total support”"
    assert decode("caf\u00e9".encode()) == "café"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "file is empty"),
        ("blank.md", b"  \n\n ", "file is empty"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR" + bytes(range(256)), "looks binary"),
        ("sheet.xlsx", b"PK\x03\x04", "unsupported file type .xlsx"),
        ("bad.jsonl", b'{"text": "ok"}\n{"text": broken}\n', "line 2: malformed JSON"),
        ("bad.json", b'[{"text": "a"},\n{"text": }]', "line 2: malformed JSON"),
        ("notext.jsonl", b'{"title": "no text"}\n', 'line 1: missing or empty "text"'),
    ],
)
def test_bad_inputs_are_clear_errors(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_file(path, MB)
    assert reason in str(info.value)
    assert str(path) in str(info.value)


def test_file_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("Word. " * 2000)
    with pytest.raises(InputError, match=r"over the 0\.0 MB limit"):
        read_file(path, 1000)


def test_unreadable_path(tmp_path: Path) -> None:
    link = tmp_path / "dangling.txt"
    link.symlink_to(tmp_path / "gone.txt")
    with pytest.raises(InputError, match="symbolic link to a file that does not exist"):
        read_file(link, MB)
