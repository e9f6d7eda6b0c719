"""Building documents (``index.documents``): stable ids, a file's identity and title, versions
that follow content and metadata only, legacy ids, and an HTML page's title, date and main text."""

from __future__ import annotations

import hashlib
import re
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

import pytest

from index.documents import canonical, html_main_text, make_document, stable_id, title_from_name
from index.records import Document, Section, SourceFields

TEXT = "The Home Office set a target of 7,200 voluntary departures. It was missed."


def _doc(**overrides: Any) -> Document:
    """A document of TEXT; a source field among ``overrides`` goes into its SourceFields."""
    given: dict[str, Any] = {"key": "story", "text": TEXT, "title": "Targets", "source": "Wire", **overrides}
    names = {f.name for f in dataclass_fields(SourceFields)}
    source = SourceFields(**{k: v for k, v in given.items() if k in names})
    return make_document(fields=source, **{k: v for k, v in given.items() if k not in names})


def test_stable_id_is_a_short_deterministic_hash_of_its_parts() -> None:
    assert stable_id("a", "b") == hashlib.sha256(b"a\x1fb").hexdigest()[:16]
    assert stable_id("a", "b") == stable_id("a", "b")
    assert re.fullmatch(r"[0-9a-f]{16}", stable_id("anything"))
    # Parts are separated, so moving a boundary gives another id.
    assert stable_id("ab", "c") != stable_id("a", "bc")
    assert stable_id("a") != stable_id("a", "")
    # A lone surrogate (JSON can carry one) still hashes instead of raising.
    assert stable_id("\ud800") == stable_id("\ud800") != stable_id("")


def test_canonical_resolves_relative_paths_and_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "real" / "story.txt"
    target.parent.mkdir()
    target.write_text("x", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    monkeypatch.chdir(tmp_path)
    expected = target.resolve().as_posix()
    assert canonical(Path("real/story.txt")) == expected
    assert canonical(Path("real/../real/story.txt")) == expected
    assert canonical(link) == expected
    assert canonical(Path("link.txt")) == expected


def test_id_comes_from_the_key_or_the_callers_own_id() -> None:
    assert _doc().id == stable_id("story")
    assert _doc().id == _doc().id
    assert _doc(key="other").id == stable_id("other")
    assert _doc(doc_id="caller-42").id == "caller-42"
    # The id does not depend on the content: an edited story keeps its id.
    assert _doc(text=TEXT + " Again.").id == _doc().id


def test_version_is_stable_and_ignores_where_the_file_was_ingested_from() -> None:
    base = _doc()
    assert base.version == _doc().version
    # The displayed source, the origin, the key and the id are not content.
    assert _doc(source="elsewhere/story.txt").version == base.version
    assert _doc(origin="/some/where/story.txt").version == base.version
    assert _doc(key="another-key", doc_id="x1").version == base.version
    # Without byline, section, tags or linked sections the version is that of text and fields.
    assert base.version == stable_id(TEXT, "Targets", "", "", "article")
    # A story's fields join it as they always have, so stored stories keep their versions.
    story = _doc(byline="A. Reporter", tags=("windrush",))
    assert story.version == stable_id(TEXT, "Targets", "", "", "article", "A. Reporter", "", "windrush")


@pytest.mark.parametrize(
    "change",
    [
        {"text": TEXT.replace("7,200", "12,000")},
        {"title": "Removal targets"},
        {"date": "2018-04-26"},
        {"url": "https://example.org/targets"},
        {"kind": "transcript"},
        {"byline": "A. Reporter"},
        {"section": "politics"},
        {"tags": ("windrush",)},
        # any other source field joins the version only when set
        {"speaker": "Nicholas Soames"},
        {"party": "Con"},
        {"column": "123"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_version_changes_with_content_and_each_metadata_field(change: dict[str, object]) -> None:
    changed = _doc(**change)
    assert changed.version != _doc().version
    assert changed.version == _doc(**change).version
    assert changed.id == _doc().id


def test_linked_sections_join_the_version_and_plain_ones_do_not() -> None:
    body = Section(0, len(TEXT))
    assert _doc(sections=(body,)).version == _doc().version  # the default section, given explicitly
    with_column = _doc(sections=(Section(0, len(TEXT), column="123"),))
    with_person = _doc(sections=(Section(0, len(TEXT), person_id="uk.org.publicwhip/person/1"),))
    other_column = _doc(sections=(Section(0, len(TEXT), column="124"),))
    versions = {_doc().version, with_column.version, with_person.version, other_column.version}
    assert len(versions) == 4


def test_default_section_is_the_body_without_surrounding_whitespace() -> None:
    text = "\n\n  " + TEXT + "  \n"
    doc = _doc(text=text)
    assert doc.sections == (Section(4, 4 + len(TEXT)),)
    assert text[doc.sections[0].start : doc.sections[0].end] == TEXT
    given = (Section(0, 10, speaker="Amber Rudd"),)
    assert _doc(sections=given).sections == given


def test_legacy_keys_become_replaced_ids_without_duplicates_or_the_own_id() -> None:
    doc = _doc(legacy_keys=("story.txt", "old#1", "story.txt", "story"))
    assert doc.replaces == (stable_id("story.txt"), stable_id("old#1"))
    assert _doc().replaces == ()
    # A caller's own id is never listed as a replaced one, even when a legacy key hashes to it.
    assert _doc(doc_id=stable_id("old#1"), legacy_keys=("old#1",)).replaces == ()


def test_fields_reach_the_document_unchanged() -> None:
    doc = _doc(
        date="2018-04-26",
        url="https://example.org/t",
        byline="A. Reporter",
        section="politics",
        tags=("home-office", "windrush"),
        kind="article",
        origin="/data/story.txt",
    )
    assert (doc.text, doc.title, doc.source, doc.date, doc.url) == (
        TEXT,
        "Targets",
        "Wire",
        "2018-04-26",
        "https://example.org/t",
    )
    assert (doc.byline, doc.section, doc.tags, doc.kind, doc.origin) == (
        "A. Reporter",
        "politics",
        ("home-office", "windrush"),
        "article",
        "/data/story.txt",
    )


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("2018-04-26-rudd-removal-targets.txt", "Rudd removal targets"),
        ("2010-09-06_Immigration_Cap.txt", "Immigration Cap"),
        ("2010-09-06 budget debate.md", "Budget debate"),
        ("windrush__scandal--notes.txt", "Windrush scandal notes"),
        ("2018-04-26.txt", "2018-04-26.txt"),  # nothing left after the date: the file's name
    ],
)
def test_title_from_name(tmp_path: Path, name: str, title: str) -> None:
    assert title_from_name(tmp_path / name) == title


def test_title_from_name_follows_a_link_to_its_target(tmp_path: Path) -> None:
    target = tmp_path / "2019-01-02-visa-fees.txt"
    target.write_text("x", encoding="utf-8")
    link = tmp_path / "latest.txt"
    link.symlink_to(target)
    assert title_from_name(link) == "Visa fees"


def test_html_main_text_from_main_with_meta_date_and_page_title() -> None:
    page = """<html><head><title>Visa fees rise</title><meta name="date" content="2019-03-04"></head>
    <body><header>Site name</header><main><p>First   para\tspaced.</p>
    <form><input>Sign up</form><button>Share</button><p>Second.</p></main>
    <aside>Related</aside></body></html>"""
    assert html_main_text(page) == ("Visa fees rise", "2019-03-04", "First para spaced.\n\nSecond.")


def test_html_impossible_time_falls_back_to_meta_date() -> None:
    page = (
        '<body><time datetime="2018-02-30">30 Feb</time>'
        '<meta itemprop="datePublished" content="2017-01-02T09:00:00Z"><p>Body.</p></body>'
    )
    title, date, text = html_main_text(page)
    assert (title, date) == ("", "2017-01-02")
    assert text == "30 Feb\n\nBody."


def test_html_h1_is_the_title_and_leaves_the_body() -> None:
    page = (
        "<body><header>Top</header><h1>Head <em>line</em></h1>"
        "<script>var x = 1;</script><p>One.</p><p>Two.</p><footer>f</footer></body>"
    )
    assert html_main_text(page) == ("Head line", None, "One.\n\nTwo.")


def test_html_fragment_without_title_or_date() -> None:
    assert html_main_text("<p>Just text.</p>") == ("", None, "Just text.")
