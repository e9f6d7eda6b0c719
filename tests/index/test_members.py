"""Members' parties by date, read from parlparse's ``people.json`` (the shipped sample and
hand-written files in a temp dir), and every kind of bad members file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from despatch.errors import ConfigError
from index.members import Members, Membership, load_members
from tests.conftest import DATA

SAMPLE = DATA / "members" / "people.json"
P = "uk.org.publicwhip/person/"
M = "uk.org.publicwhip/member/"


def write(tmp_path: Path, raw: Any, name: str = "people.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def popolo(memberships: list[Any], organizations: list[Any] | None = None) -> dict[str, Any]:
    return {
        "persons": [],
        "organizations": [{"id": "labour", "name": "Labour"}, {"id": "conservative", "name": "Conservative"}]
        if organizations is None
        else organizations,
        "memberships": memberships,
    }


def test_shipped_sample_gives_parties_by_person_and_member_id() -> None:
    members = load_members(SAMPLE)
    raw = json.loads(SAMPLE.read_text(encoding="utf-8"))
    names = {o["id"]: o["name"] for o in raw["organizations"]}
    first = raw["memberships"][0]
    assert len(members) == len({m["person_id"] for m in raw["memberships"]})
    assert members.party(first["person_id"], "2010-01-06") == names[first["on_behalf_of_id"]]
    assert members.person(first["id"]) == first["person_id"]  # the older member id
    assert members.party(first["id"], "2010-01-06") == names[first["on_behalf_of_id"]]


def test_party_is_the_organisation_name_by_date(tmp_path: Path) -> None:
    """A member who crossed the floor sat for one party before, another after (dates inclusive)."""
    path = write(
        tmp_path,
        popolo(
            [
                {
                    "id": M + "1",
                    "person_id": P + "1",
                    "on_behalf_of_id": "labour",
                    "start_date": "2005-05-05",
                    "end_date": "2010-04-12",
                },
                {
                    "id": M + "2",
                    "person_id": P + "1",
                    "on_behalf_of_id": "conservative",
                    "start_date": "2010-05-06",
                },
            ]
        ),
    )
    members = load_members(path)
    assert members.party(P + "1", "2005-05-05") == "Labour"
    assert members.party(P + "1", "2010-04-12") == "Labour"
    assert members.party(P + "1", "2010-04-20") is None  # between the two: sat for nobody
    assert members.party(P + "1", "2010-05-06") == "Conservative"
    assert members.party(P + "1", "2020-01-01") == "Conservative"  # open-ended
    assert members.party(P + "1", "2000-01-01") is None  # before the first
    assert members.party(M + "1", "2015-01-01") == "Conservative"  # a member id names the person
    assert len(members) == 1


def test_undated_party_is_the_latest_membership(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        popolo(
            [
                {"person_id": P + "1", "on_behalf_of_id": "conservative", "start_date": "2010-05-06"},
                {"person_id": P + "1", "on_behalf_of_id": "labour", "start_date": "2005-05-05"},
            ]
        ),
    )
    members = load_members(path)
    assert members.party(P + "1", None) == "Conservative"
    assert members.party(P + "1", "") == "Conservative"


def test_overlapping_memberships_give_the_one_that_started_last(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        popolo(
            [
                {"person_id": P + "1", "on_behalf_of_id": "labour", "start_date": "2001-01-01"},
                {
                    "person_id": P + "1",
                    "on_behalf_of_id": "conservative",
                    "start_date": "2009-01-01",
                    "end_date": "2009-12-31",
                },
            ]
        ),
    )
    members = load_members(path)
    assert members.party(P + "1", "2009-06-01") == "Conservative"
    assert members.party(P + "1", "2010-06-01") == "Labour"


def test_unknown_party_id_is_kept_and_no_party_is_none(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        popolo(
            [
                {"person_id": P + "1", "on_behalf_of_id": "speaker", "start_date": "2009-06-22"},
                {"person_id": P + "2", "start_date": "2005-05-05"},
            ]
        ),
    )
    members = load_members(path)
    assert members.party(P + "1", "2010-01-06") == "speaker"  # not in organizations: the id itself
    assert members.party(P + "2", "2010-01-06") is None
    assert members.person(P + "2") == P + "2"  # still a known person


def test_unknown_and_missing_ids() -> None:
    members = load_members(SAMPLE)
    assert members.person(None) is None
    assert members.person("") is None
    assert members.person(P + "does-not-exist") is None
    assert members.party(P + "does-not-exist", "2010-01-06") is None
    assert members.party(None, None) is None


def test_malformed_entries_are_skipped_not_fatal(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        popolo(
            [
                "not an object",
                {"on_behalf_of_id": "labour"},  # no person
                {"person_id": "", "on_behalf_of_id": "labour"},
                {"person_id": 7, "on_behalf_of_id": "labour"},
                {"id": 12, "person_id": P + "1", "on_behalf_of_id": "labour"},  # id not text: not a member id
            ],
            organizations=[{"id": "labour", "name": "Labour"}, {"id": "nameless"}, "junk", {"name": "No id"}],
        ),
    )
    members = load_members(path)
    assert len(members) == 1
    assert members.party(P + "1", "2010-01-06") == "Labour"
    assert members.person("12") is None


def test_reads_a_file_with_a_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "people.json"
    raw = popolo([{"person_id": P + "1", "on_behalf_of_id": "labour"}])
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(raw).encode())
    assert load_members(path).party(P + "1", None) == "Labour"


def test_missing_file_says_where_to_point(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match="Cannot read the members file") as info:
        load_members(missing)
    assert str(missing) in str(info.value) and "people.json" in str(info.value)


def test_a_folder_is_not_a_members_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read the members file"):
        load_members(tmp_path)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b""])
def test_not_json_is_a_config_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "people.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="is not JSON"):
        load_members(path)


@pytest.mark.parametrize(
    "raw", [[], {"persons": []}, {"memberships": {"a": 1}}, {"memberships": None}, "people", 3]
)
def test_json_without_a_memberships_list_is_a_config_error(tmp_path: Path, raw: Any) -> None:
    with pytest.raises(ConfigError, match='no "memberships" list'):
        load_members(write(tmp_path, raw))


def test_membership_covers_open_and_closed_spans() -> None:
    closed = Membership("p", "Labour", "2005-05-05", "2010-04-12")
    assert closed.covers("2005-05-05") and closed.covers("2010-04-12") and closed.covers(None)
    assert not closed.covers("2005-05-04") and not closed.covers("2010-04-13")
    assert Membership("p", "Labour").covers("1900-01-01")
    assert Membership("p", "Labour", end="2010-04-12").covers("1900-01-01")
    assert not Membership("p", "Labour", start="2010-05-06").covers("2010-05-05")


def test_members_built_directly() -> None:
    members = Members([Membership(P + "1", "Labour", "2005-05-05")], {M + "1": P + "1"})
    assert members.party(M + "1", "2010-01-06") == "Labour"
    assert members.person(M + "9") is None
    assert len(Members([], {})) == 0
