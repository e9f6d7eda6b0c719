"""parlparse debates XML: every element of the schema, members' parties, bad files, re-ingest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from despatch.errors import ConfigError, InputError
from despatch.settings import PROJECT_ROOT
from index.ingest import Indexer
from index.members import load_members
from index.parlparse import read_division
from index.reading import read_file
from index.records import Document
from index.store import Store
from tests.conftest import CountingEmbedder, make_settings

SITTING = PROJECT_ROOT / "data" / "corpora" / "parlparse-2010-01-06"
DEBATES = SITTING / "debates2010-01-06a.xml"
MEMBERS = PROJECT_ROOT / "data" / "members" / "people.json"
LIMIT = 10_000_000

LORDS = """<?xml version="1.0" encoding="ISO-8859-1"?>
<publicwhip>
<major-heading id="uk.org.publicwhip/lords/2010-01-07a.301.0" nospeaker="true" colnum="301" time="15:10:00"
  url="http://www.publications.parliament.uk/pa/ld200910/ldhansrd/text/100107-0002.htm#10010712000123">
Borders, Citizenship and Immigration Bill</major-heading>
<speech id="uk.org.publicwhip/lords/2010-01-07a.301.1" speakername="Baroness Amberley"
  person_id="uk.org.publicwhip/person/91001" colnum="301" time="15:10:00"
  url="http://www.publications.parliament.uk/pa/ld200910/ldhansrd/text/100107-0002.htm#10010712000124">
<p pid="b301.1/1">My Lords, the amendment would keep the probationary period at one year.</p>
</speech>
<division id="uk.org.publicwhip/lords/2010-01-07a.302.0" nospeaker="true" divdate="2010-01-07" divnumber="3"
  colnum="302" time="15:40:00">
<divisioncount content="2" not-content="1"/>
<lordlist vote="content">
<lord id="uk.org.publicwhip/lord/100001" vote="content">Amberley, B.</lord>
<lord id="uk.org.publicwhip/lord/100002" vote="content" teller="yes">Thurso of Caithness, L.</lord>
</lordlist>
<lordlist vote="not-content">
<lord id="uk.org.publicwhip/lord/100003" vote="not-content">Pennington, L.</lord>
</lordlist>
</division>
</publicwhip>
"""


def _docs(path: Path = DEBATES, members: Any = None) -> list[Document]:
    return read_file(path, LIMIT, members=members)


def _kind(docs: list[Document], kind: str) -> list[Document]:
    return [d for d in docs if d.kind == kind]


def test_each_major_heading_is_a_debate_titled_and_dated_by_the_file() -> None:
    debates = _kind(_docs(), "debate")
    assert [d.title for d in debates] == [
        "Home Department",
        "Immigration Control",
        "Asylum Support (Destitution)",
    ]
    assert {d.date for d in debates} == {"2010-01-06"}
    assert debates[1].url and debates[1].url.endswith("#10010646000001")
    # the oral heading and the minor heading are lines of the debate they open
    assert debates[0].text.startswith("Oral Answers to Questions\n\nStudent Visas\n\n")


def test_speeches_keep_speaker_person_column_url_and_motions() -> None:
    control = _kind(_docs(), "debate")[1]
    speeches = {s.speaker: s for s in control.sections if s.speaker}
    okafor = speeches["Bernard Okafor"]
    assert okafor.person_id == "uk.org.publicwhip/person/90002"
    assert okafor.column == "165"
    assert okafor.url and okafor.url.endswith("#10010646000003")
    assert control.text[okafor.start : okafor.end].startswith("Net migration has run at more than 150,000")
    assert control.text[okafor.start - len("Bernard Okafor:\n") : okafor.start] == "Bernard Okafor:\n"
    assert okafor.party is None  # no members file: no party
    # pwmotiontext paragraphs are kept, as a section without a speaker
    motion = control.sections[0]
    assert motion.speaker is None
    assert control.text[motion.start : motion.end].startswith("Motion made, and Question proposed")
    assert "The House divided:\nAyes 4, Noes 3." in control.text
    # a character reference in the XML becomes the character
    assert "£35 a week" in _kind(_docs(), "debate")[2].text


def test_divisions_are_documents_with_counts_and_lists() -> None:
    divisions = _kind(_docs(), "division")
    assert [d.title for d in divisions] == [
        "Division 41: Immigration Control",
        "Division 42: Asylum Support (Destitution)",
    ]
    d41 = divisions[0]
    assert d41.date == "2010-01-06"
    assert d41.url and d41.url.endswith("#10010646000007")  # the "House divided" speech's link
    assert {s.division for s in d41.sections} == {41}
    assert {s.column for s in d41.sections} == {"168"}
    assert d41.text.startswith("Division 41 (2010-01-06): Ayes 4, Noes 3.\nDebate: Immigration Control.\n")
    record = read_division(d41.text)
    assert record is not None
    assert (record.number, record.date) == (41, "2010-01-06")
    assert {k: v[0] for k, v in record.counts.items()} == {"aye": 4, "no": 3}
    votes = {v.name: v for v in record.votes}
    assert len(votes) == 9
    assert votes["Alice Hartley"].vote == "no" and not votes["Alice Hartley"].for_motion
    assert votes["Henry Caldwell"].teller and votes["Henry Caldwell"].vote == "aye"
    assert d41.text[votes["Fergus Lang"].start : votes["Fergus Lang"].end] == "Fergus Lang voted aye."


def test_members_file_gives_parties_by_date() -> None:
    members = load_members(MEMBERS)
    docs = _docs(members=members)
    control = _kind(docs, "debate")[1]
    parties = {s.speaker: s.party for s in control.sections if s.speaker}
    assert parties["Bernard Okafor"] == "Conservative"
    assert parties["Catherine Pryce"] == "Liberal Democrat"
    assert "Alice Hartley (Labour):\n" in control.text
    record = read_division(_kind(docs, "division")[0].text)
    assert record is not None
    parties = {v.name: v.party for v in record.votes}
    assert parties["Eleanor Voss"] == "Conservative"  # she changes party on 2010-03-01
    assert parties["Jonathan Reeve"] is None  # not in the members file
    assert members.party("uk.org.publicwhip/person/90005", "2010-03-02") == "Independent"
    assert members.party("uk.org.publicwhip/member/100001", "2010-01-06") == "Labour"  # an older member id


def test_lords_divisions_count_contents(tmp_path: Path) -> None:
    path = tmp_path / "lords2010-01-07a.xml"
    path.write_bytes(LORDS.encode("latin-1"))
    docs = _docs(path)
    debate, division = _kind(docs, "debate")[0], _kind(docs, "division")[0]
    assert debate.title == "Borders, Citizenship and Immigration Bill"
    assert debate.sections[0].speaker == "Baroness Amberley"
    assert division.text.startswith("Division 3 (2010-01-07): Contents 2, Not-contents 1.\n")
    record = read_division(division.text)
    assert record is not None
    assert {k: v[0] for k, v in record.counts.items()} == {"content": 2, "not-content": 1}
    assert [(v.name, v.vote, v.teller) for v in record.votes] == [
        ("Amberley, B.", "content", False),
        ("Thurso of Caithness, L.", "content", True),
        ("Pennington, L.", "not-content", False),
    ]


def test_older_lists_name_members_surname_first(tmp_path: Path) -> None:
    path = tmp_path / "debates2006-03-01a.xml"
    path.write_text(
        '<publicwhip><major-heading id="x.1">Prevention of Terrorism Bill</major-heading>'
        '<speech id="x.2" speakername="Alice Hartley" speakerid="uk.org.publicwhip/member/100001">'
        "<p>The Bill gives control orders a judge.</p></speech>"
        '<division id="x.3" divdate="2006-03-01" divnumber="87"><divisioncount ayes="1" noes="0"/>'
        '<mplist vote="aye"><mpname id="uk.org.publicwhip/member/100001" vote="aye">Hartley, Alice</mpname>'
        "</mplist></division></publicwhip>",
        encoding="utf-8",
    )
    docs = _docs(path, load_members(MEMBERS))
    assert _kind(docs, "debate")[0].sections[0].person_id == "uk.org.publicwhip/person/90001"
    assert _kind(docs, "debate")[0].sections[0].party == "Labour"
    assert "Alice Hartley (Labour) voted aye." in _kind(docs, "division")[0].text


def test_mojibake_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / "debates2010-01-08a.xml"
    text = (
        '<publicwhip><major-heading id="m.1">VISAS</major-heading>'
        '<speech id="m.2" speakername="Alice Hartley" person_id="uk.org.publicwhip/person/90001" '
        'colnum="12" url="http://example.org/m#2"><p>The Ministerâ€™s figures show a â€œsharpâ€\x9d fall.</p>'
        "</speech></publicwhip>"
    )
    path.write_bytes(text.encode("utf-8"))
    doc = _docs(path)[0]
    assert "The Minister’s figures show a “sharp” fall." in doc.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<publicwhip><speech id='a'><p>Unclosed</speech></publicwhip>", "malformed XML at line 1"),
        (
            '<!DOCTYPE publicwhip [<!ENTITY big "xxxx">]>'
            "<publicwhip><speech><p>&big;</p></speech></publicwhip>",
            "DTD or entity",
        ),
        ("<debates><speech><p>Text</p></speech></debates>", "not <publicwhip>"),
        ("<publicwhip><major-heading>EMPTY</major-heading></publicwhip>", "no speeches or divisions"),
    ],
)
def test_bad_xml_is_refused_with_the_reason(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "debates2010-01-09a.xml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=expected):
        _docs(path)


def test_a_bad_members_file_says_what_to_use(tmp_path: Path) -> None:
    path = tmp_path / "people.json"
    path.write_text(json.dumps({"persons": []}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"people\.json"):
        load_members(path)


def _indexer(
    store_path: Path, embedder: Any, members: Path | None
) -> tuple[Indexer, Store, CountingEmbedder]:
    settings = make_settings(store_path, members_file=members)
    store = Store.open(settings, create=True)
    counting = CountingEmbedder(embedder)
    return Indexer(settings, store, counting), store, counting


def test_ingest_reports_a_malformed_file_and_reingest_of_unchanged_xml_writes_nothing(
    tmp_path: Path, embedder: Any
) -> None:
    folder = tmp_path / "xml"
    folder.mkdir()
    shutil.copy(DEBATES, folder / DEBATES.name)
    (folder / "debates2010-01-07a.xml").write_text("<publicwhip><speech><p>cut off", encoding="utf-8")
    indexer, store, counting = _indexer(tmp_path / "s", embedder, None)
    first = indexer.ingest([folder])
    assert (first.added, first.failed) == (5, 1)
    assert "debates2010-01-07a.xml: malformed XML" in first.errors[0]
    chunks = sorted(c.id for c in store.iter_chunks())
    embedded = counting.embedded
    again = indexer.ingest([folder])
    assert (again.added, again.updated, again.unchanged, again.chunks_written) == (0, 0, 5, 0)
    assert counting.embedded == embedded
    assert sorted(c.id for c in store.iter_chunks()) == chunks
    # chunks keep the speech's link and column, and the division's number
    metas = [c.meta for c in store.iter_chunks()]
    okafor = next(m for m in metas if m.speaker == "Bernard Okafor")
    assert (okafor.column, okafor.person_id) == ("165", "uk.org.publicwhip/person/90002")
    assert okafor.url and okafor.url.endswith("#10010646000003")
    assert {m.division for m in metas if m.kind == "division"} == {41, 42}
    # a members file changes the debates' text (parties), so they are updated; then unchanged
    with_members, _, _ = _indexer(tmp_path / "s", embedder, MEMBERS)
    joined = with_members.ingest([folder])
    assert (joined.updated, joined.unchanged) == (5, 0)
    assert with_members.ingest([folder]).unchanged == 5


def test_commons_counts_come_from_divisioncount_not_from_partial_lists(tmp_path: Path) -> None:
    """parlparse writes <divisioncount ayes="287" noes="231" tellerayes=".." tellernoes="..">;
    a file whose lists are partial still reports the published totals, and the tellers."""
    path = tmp_path / "debates2010-01-12a.xml"
    path.write_text(
        '<publicwhip><major-heading id="y.1">Immigration Bill</major-heading>'
        '<division id="y.2" divdate="2010-01-12" divnumber="55">'
        '<divisioncount ayes="287" noes="231" tellerayes="2" tellernoes="2"/>'
        '<mplist vote="aye"><mpname id="uk.org.publicwhip/member/100001" vote="aye">Hartley, Alice</mpname>'
        '</mplist><mplist vote="no"><mpname id="uk.org.publicwhip/member/100002" vote="no">'
        "Okafor, Bernard</mpname></mplist></division></publicwhip>",
        encoding="utf-8",
    )
    division = _kind(_docs(path), "division")[0]
    assert division.text.startswith("Division 55 (2010-01-12): Ayes 287, Noes 231.\n")
    assert "\nTellers: Ayes 2, Noes 2.\n" in division.text
    record = read_division(division.text)
    assert record is not None
    assert {k: v[0] for k, v in record.counts.items()} == {"aye": 287, "no": 231}
