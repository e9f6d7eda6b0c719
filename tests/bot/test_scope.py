"""Questions that name a speaker or party ("what did X say") narrow retrieval to them, when the
index knows the name; a filter the caller gave is never replaced."""

from __future__ import annotations

import pytest

from bot.scope import person_in, scoped
from index.filters import Filters
from index.records import ChunkMeta

SPEAKERS = frozenset({"Alice Hartley", "Bernard Okafor", "Philip Hollobone", "Lorely Burt"})
PARTIES = frozenset({"Lab", "Con", "LibDem", "SNP"})


def turn(speaker: str, party: str) -> ChunkMeta:
    """A transcript turn's chunk metadata."""
    return ChunkMeta(
        doc_id="d",
        version="v",
        ordinal=0,
        start=0,
        end=1,
        tokens=1,
        title="t",
        source="Hansard",
        speaker=speaker,
        party=party,
    )


class People:
    """The index's speakers and parties, counting how often they were asked for."""

    def __init__(self, speakers: frozenset[str] = SPEAKERS, parties: frozenset[str] = PARTIES) -> None:
        self.people = (speakers, parties)
        self.calls = 0

    def __call__(self) -> tuple[frozenset[str], frozenset[str]]:
        self.calls += 1
        return self.people


@pytest.mark.parametrize(
    ("question", "who"),
    [
        ("What did Alice Hartley say about the cap?", "Alice Hartley"),
        ("what did alice hartley say about the cap?", "alice hartley"),  # as written
        ("What does Hollobone think about immigration?", "Hollobone"),
        ("What has the Minister argued on visas?", "Minister"),
        ("What did Labour members say about asylum support?", "Labour"),
        ("What did Conservative MPs warn about?", "Conservative"),
        ("What did the Labour front bench propose?", "Labour"),
        ("What have SNP politicians claimed?", "SNP"),
        ("So what did Okafor tell the House?", "Okafor"),
        ("What did the Lib Dem spokesman ask?", "Lib Dem"),
    ],
)
def test_person_in_a_what_did_x_say_question(question: str, who: str) -> None:
    assert person_in(question) == who


@pytest.mark.parametrize(
    "question",
    [
        "Who said that refused asylum seekers live on vouchers?",
        "How many people were removed in 2015/16?",
        "What was said about the cap?",
        "What did Hartley, the minister, say?",  # a comma ends the name: not read as one
        "",
    ],
)
def test_no_person_in_other_questions(question: str) -> None:
    assert person_in(question) is None


def test_a_group_word_alone_is_kept() -> None:
    """ "members" is only dropped after a name; on its own it is the name as written."""
    assert person_in("What did members say?") == "members"


def test_a_question_naming_a_known_speaker_is_scoped_to_them() -> None:
    people = People()
    got = scoped("What did Hartley say about the cap?", None, people)
    assert got == Filters(speaker="Hartley")
    assert people.calls == 1


def test_a_question_naming_a_known_party_is_scoped_to_it() -> None:
    got = scoped("What did Labour members say about asylum support?", None, People())
    assert got == Filters(party="Labour")
    assert got is not None
    assert got.allows(turn("Alice Hartley", "Lab"))  # "Labour" as asked matches the index's "Lab"
    assert not got.allows(turn("Bernard Okafor", "Con"))


def test_a_party_wins_over_a_speaker_of_the_same_name() -> None:
    people = People(speakers=frozenset({"Tom Labour"}), parties=frozenset({"Lab"}))
    assert scoped("What did Labour say?", None, people) == Filters(party="Labour")


def test_the_callers_other_filters_are_kept() -> None:
    given = Filters(date_from="2010-01-01", date_to="2010-12-31", source="Hansard", tags=("asylum",))
    got = scoped("What did Okafor say about visas?", given, People())
    assert got == Filters(
        date_from="2010-01-01", date_to="2010-12-31", source="Hansard", tags=("asylum",), speaker="Okafor"
    )


@pytest.mark.parametrize("given", [Filters(speaker="Hollobone"), Filters(party="Con")])
def test_a_callers_person_filter_is_never_replaced(given: Filters) -> None:
    people = People()
    assert scoped("What did Alice Hartley say about the cap?", given, people) is given
    assert people.calls == 0


def test_the_index_is_not_asked_when_no_one_is_named() -> None:
    people = People()
    given = Filters(source="Hansard")
    assert scoped("How many people were removed?", given, people) is given
    assert scoped("How many people were removed?", None, people) is None
    assert people.calls == 0


@pytest.mark.parametrize("given", [None, Filters(source="Hansard")])
def test_an_unknown_name_leaves_the_filters_as_they_were(given: Filters | None) -> None:
    """ "What did the Home Secretary say" names no speaker the index holds: no restriction."""
    people = People()
    assert scoped("What did the Home Secretary say about targets?", given, people) is given
    assert people.calls == 1


def test_a_partial_word_is_not_a_speaker() -> None:
    assert scoped("What did Hart say?", None, People()) is None


def test_a_scoped_filter_keeps_only_that_speakers_turns() -> None:
    """The product's point: the scoped filter lets through her turns and nobody else's."""
    got = scoped("What did Alice Hartley say about the cap?", None, People())
    assert got is not None
    assert got.allows(turn("Alice Hartley", "Lab"))
    assert not got.allows(turn("Bernard Okafor", "Con"))


def test_the_conservatives_plural_is_scoped_to_the_party() -> None:
    assert scoped("What did the Conservatives say about immigration?", None, People()) == Filters(
        party="Conservatives"
    )


def test_liberal_democrats_are_scoped_to_the_transcripts_libdem_party() -> None:
    assert scoped("What did Liberal Democrat members say about detention?", None, People()) == Filters(
        party="Liberal Democrat"
    )
