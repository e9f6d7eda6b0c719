"""Questions about parlparse debates: divisions answered from their records, speakers' own
words, speaker and party filters (CLI, API scope, questions), citations linking to Hansard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.assembly import assemble
from bot.core import Bot
from bot.records import Answer
from entry.cli import main
from index.filters import Filters
from tests.conftest import HANSARD, assert_citations_valid, build_store, make_settings
from tests.index.test_parlparse import MEMBERS, SITTING

DIVISION_41 = "http://www.publications.parliament.uk/pa/cm200910/cmhansrd/cm100106/debtext/100106-0004.htm#10010646000007"


@pytest.fixture(scope="module")
def sitting(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> tuple[Bot, Any]:
    """The sample sitting ingested with its members file, through the CLI."""
    store = tmp_path_factory.mktemp("parlparse") / "store"
    assert main(["ingest", "--members", str(MEMBERS), str(SITTING), "--store", str(store)]) == 0
    settings = make_settings(store)
    from bot.assembly import assemble

    parts = assemble(settings, embedder=embedder)
    return parts.bot(), parts.store


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> tuple[Bot, Any]:
    """The same sitting without a members file: nobody has a party."""
    settings, store = build_store(tmp_path_factory.mktemp("parlparse-bare") / "store", embedder, SITTING)
    return assemble(settings, store=store, embedder=embedder).bot(), store


def _ask(sitting: tuple[Bot, Any], question: str, filters: Filters | None = None) -> Answer:
    bot, store = sitting
    answer = bot.ask(question, filters=filters)
    assert_citations_valid(answer, store)
    return answer


@pytest.mark.parametrize(
    ("question", "count", "summary"),
    [
        ("How many MPs voted aye in division 41?", "4", "Division 41 (2010-01-06): Ayes 4, Noes 3."),
        ("How many members voted against in division 41?", "3", "Division 41 (2010-01-06): Ayes 4, Noes 3."),
        ("How many MPs voted no in division 42?", "2", "Division 42 (2010-01-06): Ayes 3, Noes 2."),
    ],
)
def test_counts_come_from_the_division_record(sitting: Any, question: str, count: str, summary: str) -> None:
    answer = _ask(sitting, question)
    assert not answer.refused and answer.answerer == "division"
    assert answer.short_answer is not None and answer.short_answer.text == count
    assert answer.citations[0].quote == summary
    assert answer.answer == f"{summary} [1]"


def test_a_members_vote_is_quoted_from_the_lists_with_its_link(sitting: Any) -> None:
    answer = _ask(sitting, "How did Alice Hartley vote in division 41?")
    assert not answer.refused
    assert answer.short_answer is not None and answer.short_answer.text == "no"
    assert [c.quote for c in answer.citations] == [
        "Division 41 (2010-01-06): Ayes 4, Noes 3.",
        "Alice Hartley (Labour) voted no.",
    ]
    assert {(c.url, c.column) for c in answer.citations} == {(DIVISION_41, "168")}


@pytest.mark.parametrize(
    ("question", "verdict", "line"),
    [
        (
            "Did Eleanor Voss vote for the motion in division 41?",
            "Yes.",
            "Eleanor Voss (Conservative) voted aye.",
        ),
        ("Did Alice Hartley vote for the motion in division 41?", "No.", "Alice Hartley (Labour) voted no."),
        (
            "Did Catherine Pryce vote against the motion in division 41?",
            "Yes.",
            "Catherine Pryce (Liberal Democrat) voted no.",
        ),
        (
            "Did Grace Whitlow vote for the regulations in division 41?",
            "No.",
            "Grace Whitlow (Labour) voted no (teller).",
        ),
    ],
)
def test_did_x_vote_for_the_motion(sitting: Any, question: str, verdict: str, line: str) -> None:
    answer = _ask(sitting, question)
    assert not answer.refused
    assert answer.answer.startswith(verdict)
    assert answer.citations[1].quote == line


def test_the_only_division_in_scope_needs_no_number(sitting: Any) -> None:
    day = Filters(date_from="2010-01-06", date_to="2010-01-06")
    answer = _ask(sitting, "Did David Muir vote for the motion on asylum support regulations?", day)
    assert not answer.refused
    assert answer.citations[0].quote.startswith("Division 42 ")
    assert answer.answer.startswith("Yes.")


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("How did Isobel Kerr vote in division 41?", "Isobel Kerr is not on the lists of division 41"),
        (
            "Did Jonathan Smith vote for the motion in division 42?",
            "Jonathan Smith is not on the lists of division 42",
        ),
        ("How many MPs voted aye in division 97?", "no record of division 97"),
    ],
)
def test_a_member_absent_from_the_lists_is_refused(sitting: Any, question: str, reason: str) -> None:
    answer = _ask(sitting, question)
    assert answer.refused and not answer.citations
    assert reason in answer.meta["reason"]


def test_what_did_x_say_cites_their_own_words(sitting: Any) -> None:
    answer = _ask(sitting, "What did Alice Hartley say about a cap on migration?")
    assert not answer.refused
    assert answer.meta["filters"] == {"speaker": "Alice Hartley"}
    assert answer.citations and {c.speaker for c in answer.citations} == {"Alice Hartley"}
    assert "fixed cap" in answer.citations[0].quote
    assert answer.citations[0].url and answer.citations[0].url.endswith("#10010646000004")
    assert answer.citations[0].column == "166"


def test_party_filters_with_a_members_file(sitting: Any) -> None:
    bot, _ = sitting
    found = bot.search("immigration and migrants", 10, Filters(party="Labour"))
    assert found and {p.party for p in found} == {"Labour"}
    assert {p.speaker for p in bot.search("migration", 10, Filters(party="Lab"))} <= {
        "Alice Hartley",
        "Isobel Kerr",
        "David Muir",
    }
    answer = _ask(sitting, "What did Labour members say about asylum support?")
    assert answer.meta["filters"] == {"party": "Labour"}
    # The boosted scorer refuses this one (issue 25); answered or not, only Labour speakers are shown.
    assert {c.speaker for c in answer.citations + answer.related} <= {
        "Alice Hartley",
        "Isobel Kerr",
        "David Muir",
    }
    assert answer.refused or "Labour" in answer.answer
    conservative = _ask(sitting, "What did the minister say about a cap?", Filters(party="Conservative"))
    assert all(
        c.speaker in {"Bernard Okafor", "Eleanor Voss"} for c in conservative.citations + conservative.related
    )


def test_party_filters_without_a_members_file(bare: Any) -> None:
    bot, _ = bare
    assert bot.search("immigration", 10, Filters(party="Labour")) == []
    answer = _ask(bare, "What did the minister say about a cap?", Filters(party="Labour"))
    assert answer.refused and not answer.related
    # "Labour" is no party the index knows: the question is not scoped by it
    assert "party" not in _ask(bare, "What did Labour members say about asylum support?").meta["filters"]
    # speakers still filter
    found = bot.search("migration", 10, Filters(speaker="Hartley"))
    assert found and {p.speaker for p in found} == {"Alice Hartley"}
    assert all(p.party is None for p in bot.search("migration", 10))


def test_speaker_and_party_filters_without_exact_search(sitting: Any, embedder: Any) -> None:
    """Over Chroma's HNSW index (large stores), loose name filters still hold."""
    bot, store = sitting
    hnsw = assemble(
        make_settings(bot.settings.store, exact_search_max_chunks=0, save_views=False),
        store=store,
        embedder=embedder,
    ).bot()
    found = hnsw.search("a cap on migration", 5, Filters(speaker="alice hartley"))
    assert found and {p.speaker for p in found} == {"Alice Hartley"}
    assert {p.party for p in hnsw.search("migration", 5, Filters(party="Labour"))} == {"Labour"}


def test_transcript_parties_match_by_name(hansard_bot: Any) -> None:
    found = hansard_bot.search("immigration cap", 8, Filters(party="Labour"))
    assert found and {p.party for p in found} == {"Lab"}
    green = hansard_bot.search("immigration", 5, Filters(speaker="Damian Green"))
    assert green and {p.speaker for p in green} == {"Damian Green"}


def test_cli_speaker_and_party_filters(sitting: Any, capsys: pytest.CaptureFixture[str]) -> None:
    bot, _ = sitting
    store = str(bot.settings.store)
    assert (
        main(
            [
                "ask",
                "What was said about migration?",
                "--party",
                "Liberal Democrat",
                "--json",
                "--store",
                store,
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert {c["speaker"] for c in data["citations"] + data["related"]} == {"Catherine Pryce"}
    assert main(["ask", "How did Bernard Okafor vote in division 41?", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "Bernard Okafor (Conservative) voted aye. [2]" in out
    assert DIVISION_41 in out and "col. 168" in out


def test_api_scope_filters(sitting: Any) -> None:
    from tests.web.conftest import start_server

    bot, _ = sitting
    live = start_server(bot, bot.settings)
    try:
        resp = httpx.post(
            f"{live.url}/api/ask",
            json={"question": "What was said about universities?", "scope": {"speaker": "Isobel Kerr"}},
            timeout=60,
        )
        assert resp.status_code == 200
        data = resp.json()
        assert {c["speaker"] for c in data["citations"] + data["related"]} == {"Isobel Kerr"}
        assert data["meta"]["filters"] == {"speaker": "Isobel Kerr"}
        bad = httpx.post(f"{live.url}/api/ask", json={"question": "Who?", "scope": {"date_from": "6 Jan"}})
        assert bad.status_code == 422
        for odd in ("2010-W01-3", "20100106"):
            week = httpx.post(f"{live.url}/api/ask", json={"question": "Who?", "scope": {"date_to": odd}})
            assert week.status_code == 422, odd
        # a range that ends before it starts is refused, as in the chat and the CLI
        backwards = {"date_from": "2010-02-01", "date_to": "2010-01-01"}
        reversed_range = httpx.post(f"{live.url}/api/ask", json={"question": "Who?", "scope": backwards})
        assert reversed_range.status_code == 422
        assert "start date 2010-02-01 is after the end date 2010-01-01); swap them" in reversed_range.text
        # a blank speaker is no filter, not a filter that matches nothing
        blank = httpx.post(
            f"{live.url}/api/ask",
            json={"question": "What was said about universities?", "scope": {"speaker": "   "}},
            timeout=60,
        ).json()
        shown = blank["citations"] + blank["related"]  # answered or refused, from every speaker
        assert shown and "speaker" not in blank["meta"].get("filters", {})
    finally:
        live.stop()


def test_source_links_in_html(sitting: Any) -> None:
    from web.render import message_html

    bot, _ = sitting
    answer = bot.ask("How did David Muir vote in division 42?")
    html = message_html(answer, bot.document_text)
    assert (
        'href="http://www.publications.parliament.uk/pa/cm200910/cmhansrd/cm100106/debtext/100106-0005.htm#10010646000013"'
        in html
    )
    assert "col. 171" in html


def test_transcripts_still_read(tmp_path: Path) -> None:
    from index.reading import read_file

    doc = read_file(HANSARD / "2010-01-06_Immigration_Control.txt", 10_000_000)[0]
    assert doc.kind == "transcript" and doc.sections[0].speaker == "Philip Hollobone"


@pytest.mark.parametrize(
    ("question", "who"),
    [
        ("What did Labour members say about asylum support?", "Labour"),
        ("What did Alice Hartley say about a cap?", "Alice Hartley"),
        ("what has the Conservative frontbench argued on visas?", "Conservative"),
        ("Who said that refused asylum seekers live on vouchers?", None),
    ],
)
def test_the_person_a_question_names(question: str, who: str | None) -> None:
    from bot.scope import person_in

    assert person_in(question) == who


def test_chat_filters_narrow_the_sources(sitting: Any, tmp_path: Path) -> None:
    """The chat's "Narrow the sources" fields reach retrieval, and a bad date is said plainly."""
    from despatch.errors import RequestError
    from web.chat import ChatService, RateLimiter, chat, chat_filters
    from web.feedback import Feedback

    bot, _ = sitting
    service = ChatService(bot, bot.settings, RateLimiter(100), Feedback(tmp_path / "f.sqlite3"))

    def reply(**narrow: str) -> tuple[str, dict[str, Any] | None]:
        *_, (history, answers, _box) = chat(service, "What was said about migration?", [], [], "c", narrow)
        return history[-1]["content"], answers[-1]

    def final(**narrow: str) -> dict[str, Any]:
        content, answer = reply(**narrow)
        assert answer is not None, content
        return answer

    conservative = final(party="Conservative")
    assert conservative["meta"]["filters"] == {"party": "Conservative"}
    # cited, or listed as related when the scorer finds no answer to so vague a question
    shown = conservative["citations"] + conservative["related"]
    assert shown and {c["speaker"] for c in shown} <= {"Bernard Okafor", "Eleanor Voss"}
    hartley = final(speaker=" Hartley\n ")  # white space, new lines included, is collapsed
    assert hartley["meta"]["filters"] == {"speaker": "Hartley"}
    shown = hartley["citations"] + hartley["related"]
    assert shown and {c["speaker"] for c in shown} == {"Alice Hartley"}
    # the sitting is dated 2010-01-06: a range that excludes it leaves nothing to cite, and the
    # reader is told that the filters, not the question, found nothing
    content, later = reply(date_from="2010-02-01", date_to="2010-12-31")
    assert later is not None and later["refused"] and not later["citations"]
    assert "No sources match these filters; widen them." in content
    content, _ = reply(party="Green")
    assert "widen them" in content and "--members" in content
    assert "widen them" not in reply(party="Conservative")[0]
    that_day = final(date_from="2010-01-06", date_to="2010-01-06")
    assert that_day["citations"] + that_day["related"]
    assert chat_filters("", "", "", "") is None
    with pytest.raises(RequestError, match="not a real day"):
        chat_filters(date_from="2010-02-30")
    with pytest.raises(RequestError, match=r"From date is after the To date .* swap them"):
        chat_filters(date_from="2010-03-01", date_to="2010-01-01")
    # only YYYY-MM-DD: an ISO week date or a compact date would compare wrongly as text
    for odd in ("2010-W01-3", "20100106", "2010-1-6"):
        with pytest.raises(RequestError, match="not a real day"):
            chat_filters(date_to=odd)
    with pytest.raises(RequestError, match="Speaker filter is 201 characters; the limit is 200"):
        chat_filters(speaker="x" * 201)
    # invisible format characters do not count, nor make a blank field a filter
    assert chat_filters(speaker="\u200b" * 300) is None
    assert chat_filters(date_from="2010-01-06\u200b") == Filters(date_from="2010-01-06")
    # a bad field is answered in the chat, and counts against the reader's rate limit
    content, answer = reply(date_from="2010-W01-3")
    assert answer is None and "not a real day" in content


def test_a_bad_filter_counts_against_the_rate_limit(sitting: Any, tmp_path: Path) -> None:
    """Bad filter fields do not get round the rate limit or the question checks."""
    from web.chat import ChatService, RateLimiter, chat
    from web.feedback import Feedback

    bot, _ = sitting
    service = ChatService(bot, bot.settings, RateLimiter(2), Feedback(tmp_path / "f.sqlite3"))
    replies = [
        list(chat(service, "Who spoke?", [], [], "10.0.0.9", {"date_from": "nope"}))[-1][0][-1]["content"]
        for _ in range(3)
    ]
    assert "not a real day" in replies[0] and "not a real day" in replies[1]
    assert "not a real day" not in replies[2] and "Too many questions" in replies[2], replies[2]
    too_long = "x" * (bot.settings.max_question_chars + 1)
    other = ChatService(bot, bot.settings, RateLimiter(100), Feedback(tmp_path / "g.sqlite3"))
    content = list(chat(other, too_long, [], [], "c", {"date_from": "nope"}))[-1][0][-1]["content"]
    assert "not a real day" not in content and "limit" in content
