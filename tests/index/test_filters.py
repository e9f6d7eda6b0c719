"""Scopes: which chunks a ``Filters`` lets through, and how readers' speaker and party names
match the names the transcripts hold."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from index.filters import Filters, party_key, speaker_matches
from index.records import ChunkMeta


def meta(**fields: Any) -> ChunkMeta:
    base: dict[str, Any] = {
        "doc_id": "d1",
        "version": "v1",
        "ordinal": 0,
        "start": 0,
        "end": 10,
        "tokens": 3,
        "title": "Immigration Control",
        "source": "Hansard",
        "date": "2010-01-06",
    }
    return ChunkMeta(**{**base, **fields})


def test_no_filters_is_empty_and_allows_everything() -> None:
    f = Filters()
    assert f.empty and not f.by_person
    assert f.allows(meta()) and f.allows(meta(date=None, source="", tags=("x",)))


def test_blank_names_are_no_filter_and_names_are_trimmed() -> None:
    """Whichever front end built it, a blank speaker is no filter rather than one matching nothing."""
    f = Filters(source="  ", speaker="\n ", party="")
    assert (f.source, f.speaker, f.party) == (None, None, None)
    assert f.empty and not f.by_person
    trimmed = Filters(source=" Hansard ", speaker="  Hartley ", party=" Lab\t")
    assert (trimmed.source, trimmed.speaker, trimmed.party) == ("Hansard", "Hartley", "Lab")
    assert trimmed.allows(meta(speaker="Alice Hartley", party="Labour"))


def test_filters_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        Filters().speaker = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "f",
    [
        Filters(date_from="2010-01-01"),
        Filters(date_to="2010-01-01"),
        Filters(source="Hansard"),
        Filters(speaker="Hartley"),
        Filters(party="Lab"),
        Filters(doc_ids=("d1",)),
        Filters(tags=("asylum",)),
    ],
)
def test_any_one_restriction_makes_filters_not_empty(f: Filters) -> None:
    assert not f.empty


def test_by_person_only_for_speaker_or_party() -> None:
    assert Filters(speaker="Hartley").by_person
    assert Filters(party="Labour").by_person
    assert not Filters(date_from="2010-01-01", source="Hansard", doc_ids=("d",), tags=("t",)).by_person


def test_date_range_is_inclusive_at_both_ends() -> None:
    f = Filters(date_from="2010-01-06", date_to="2010-01-06")
    assert f.allows(meta(date="2010-01-06"))
    assert not f.allows(meta(date="2010-01-05"))
    assert not f.allows(meta(date="2010-01-07"))


def test_date_filters_compare_days_across_months_and_years() -> None:
    f = Filters(date_from="2009-12-31", date_to="2010-02-01")
    assert [f.allows(meta(date=d)) for d in ("2009-12-30", "2009-12-31", "2010-01-31", "2010-02-02")] == [
        False,
        True,
        True,
        False,
    ]


def test_undated_chunks_fail_any_date_filter() -> None:
    assert not Filters(date_from="2000-01-01").allows(meta(date=None))
    assert not Filters(date_to="2099-01-01").allows(meta(date=None))
    assert Filters(source="Hansard").allows(meta(date=None))


def test_source_is_matched_exactly() -> None:
    f = Filters(source="Hansard")
    assert f.allows(meta(source="Hansard"))
    assert not f.allows(meta(source="hansard"))
    assert not f.allows(meta(source="Hansard (Commons)"))


def test_doc_ids_and_tags() -> None:
    by_doc = Filters(doc_ids=("d1", "d3"))
    assert by_doc.allows(meta(doc_id="d3")) and not by_doc.allows(meta(doc_id="d2"))
    by_tag = Filters(tags=("asylum", "visas"))
    assert by_tag.allows(meta(tags=("visas", "wales")))  # any one tag passes
    assert not by_tag.allows(meta(tags=("wales",)))
    assert not by_tag.allows(meta(tags=()))


def test_every_restriction_must_hold() -> None:
    f = Filters(date_from="2010-01-01", source="Hansard", speaker="Hartley", party="Labour")
    ok = meta(speaker="Alice Hartley", party="Lab")
    assert f.allows(ok)
    assert not f.allows(meta(speaker="Alice Hartley", party="Con"))
    assert not f.allows(meta(speaker="Bob Jones", party="Lab"))
    assert not f.allows(meta(speaker="Alice Hartley", party="Lab", source="BBC"))
    assert not f.allows(meta(speaker="Alice Hartley", party="Lab", date="2009-12-31"))


def test_speaker_and_party_filters_refuse_chunks_without_one() -> None:
    """An article chunk has no speaker: a speaker scope never cites it."""
    assert not Filters(speaker="Hartley").allows(meta(speaker=None))
    assert not Filters(party="Labour").allows(meta(party=None))


def test_range_error_names_a_backwards_range() -> None:
    problem = Filters(date_from="2010-02-01", date_to="2010-01-31").range_error()
    assert problem == "the start date 2010-02-01 is after the end date 2010-01-31"


@pytest.mark.parametrize(
    "f",
    [
        Filters(),
        Filters(date_from="2010-01-06"),
        Filters(date_to="2010-01-06"),
        Filters(date_from="2010-01-06", date_to="2010-01-06"),
        Filters(date_from="2009-12-31", date_to="2010-01-01"),
    ],
)
def test_range_error_is_none_for_a_usable_range(f: Filters) -> None:
    assert f.range_error() is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Labour", "Lab"),
        ("labour", "LAB"),
        ("  Labour  ", "Lab"),
        ("Lab/Co-op", "Labour"),
        ("Lab Co-op", "Labour"),
        ("Labour Co-operative", "Lab"),
        ("Conservative", "Con"),
        ("Tory", "Con"),
        ("Tories", "Conservative"),
        ("Liberal Democrat", "LD"),
        ("Liberal Democrats", "Lib Dem"),
        ("SNP", "Scottish National Party"),
        ("Plaid Cymru", "PC"),
        ("DUP", "Democratic Unionist Party"),
        ("Sinn Féin", "SF"),
        ("Green", "Green Party"),
        ("Independent", "Ind"),
        ("Crossbench", "XB"),
    ],
)
def test_party_names_and_abbreviations_share_a_key(a: str, b: str) -> None:
    assert party_key(a) == party_key(b)


@pytest.mark.parametrize(("a", "b"), [("Labour", "Conservative"), ("Lab", "LD"), ("SNP", "Plaid Cymru")])
def test_different_parties_have_different_keys(a: str, b: str) -> None:
    assert party_key(a) != party_key(b)


def test_party_key_of_nothing_is_blank() -> None:
    assert party_key(None) == party_key("") == party_key("   ") == ""
    assert party_key("Labour") != ""


def test_the_transcripts_libdem_abbreviation_is_the_liberal_democrats() -> None:
    assert Filters(party="Liberal Democrat").allows(meta(speaker="Lorely Burt", party="LibDem"))


@pytest.mark.parametrize(("a", "b"), [("Conservatives", "Con"), ("Lib Dems", "LD")])
def test_plural_party_names_share_a_key(a: str, b: str) -> None:
    assert party_key(a) == party_key(b)


@pytest.mark.parametrize(
    ("wanted", "speaker"),
    [
        ("Hartley", "Alice Hartley"),
        ("alice hartley", "Alice Hartley"),
        ("Hartley Alice", "Alice Hartley"),  # every word, in any order
        ("ALICE", "Alice Hartley"),
        ("Clifton-Brown", "Geoffrey Clifton-Brown"),
        ("Brown", "Geoffrey Clifton-Brown"),  # a hyphenated name's parts are words
        ("Geoffrey Clifton Brown", "Geoffrey Clifton-Brown"),
        ("O'Brien", "Stephen O'Brien"),
        ("Dr. Fox", "Dr Liam Fox"),  # surrounding punctuation is not part of a word
        ("(Hartley)", "Alice Hartley"),
    ],
)
def test_speaker_matches(wanted: str, speaker: str) -> None:
    assert speaker_matches(wanted, speaker)


@pytest.mark.parametrize(
    ("wanted", "speaker"),
    [
        ("Hart", "Alice Hartley"),  # a word, not a prefix
        ("Alice Jones", "Alice Hartley"),  # every word must be there
        ("Mr Hartley", "Alice Hartley"),
        ("Hartley", None),
        ("Hartley", ""),
        ("", "Alice Hartley"),  # no words wanted matches nothing (Filters turns it into no filter)
        ("...", "Alice Hartley"),
    ],
)
def test_speaker_does_not_match(wanted: str, speaker: str | None) -> None:
    assert not speaker_matches(wanted, speaker)


def test_speaker_matches_either_apostrophe() -> None:
    assert speaker_matches("O’Brien", "Stephen O'Brien")
    assert speaker_matches("O'Brien", "Stephen O’Brien")
