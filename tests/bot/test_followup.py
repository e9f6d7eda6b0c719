"""Rule-based follow-up resolution, on its own (no index needed)."""

from __future__ import annotations

from typing import Any

from bot.followup import normalise_history, resolve
from bot.records import Question


def searched(question: str, history: list[Any] | None) -> str:
    """What retrieval searches for ``question`` after ``history`` (``Question.search_text``)."""
    return resolve(question, history).search_text


def test_no_history_leaves_the_question() -> None:
    assert searched("  Who is the Home Secretary? ", None) == "Who is the Home Secretary?"


def test_person_pronoun_takes_the_last_named_person() -> None:
    assert searched("When did she resign?", ["What did Amber Rudd tell the committee?"]) == (
        "When did Amber Rudd resign?"
    )


def test_possessive_pronoun() -> None:
    resolved = searched("What was her department accused of?", ["Who is Amber Rudd?"])
    assert resolved.startswith("What was Amber Rudd’s department")


def test_following_year_moves_a_financial_year_on() -> None:
    resolved = searched(
        "And what was it raised to the following year?",
        ["What was the voluntary departures target for 2014/15?"],
    )
    assert resolved.startswith("What was it raised to in 2015/16?")
    assert "target for 2015/16" in resolved and "2014/15" not in resolved


def test_previous_year_and_that_year() -> None:
    assert searched("Who was Home Secretary the year before?", ["Who was Home Secretary in 2016?"]) == (
        "Who was Home Secretary in 2015?"  # names its own topic: nothing carried along
    )
    assert searched("What happened that year?", ["When was the 2015 report published?"]).startswith(
        "What happened in 2015?"
    )


def test_same_period_carries_the_topic() -> None:
    resolved = searched("How many were there in the same period?", ["How many removals were there in 2010?"])
    assert resolved.startswith("How many were there in 2010?")
    assert "removals" in resolved


def test_elliptical_swap() -> None:
    assert (
        searched("And for 2015/16?", ["What target was set for 2014/15?"])
        == "What target was set for 2015/16?"
    )


def test_history_forms() -> None:
    turns = normalise_history(
        [
            "a?",
            {"question": "b?", "answer": "B"},
            {"role": "user", "content": "c?"},
            {"role": "assistant", "content": "C"},
        ]
    )
    assert [(t.question, t.answer) for t in turns] == [("a?", ""), ("b?", "B"), ("c?", "C")]


def test_a_self_contained_question_is_left_unchanged() -> None:
    q = "What did Damian Green say about the immigration cap?"
    assert searched(q, ["Who is the Home Secretary?", "When did she take over?"]) == q


def test_she_after_a_who_question_is_the_person_who_answered() -> None:
    """The answer the conversation already holds names the person; nothing is asked again."""
    turns = [{"question": "Who is the Home Secretary?", "answer": "Sajid Javid took over."}]
    assert searched("When did he take over?", turns) == "When did Sajid Javid take over?"
    # An answer's own JSON in the history: its short answer stands for it.
    answer = {"question": "Who is the Home Secretary?", "answer": "Ms Rudd [1] ...", "refused": False}
    answer["short_answer"] = {"text": "Amber Rudd", "n": 1, "start": 0, "end": 10}
    assert resolve("When did she take over?", [answer]) == Question(
        "When did Amber Rudd take over?", antecedent="Amber Rudd"
    )


def test_she_after_a_bare_who_question_is_the_role_it_asked_about() -> None:
    """A history of strings holds no answer: "she" after "Who is the Home Secretary?" is the
    Home Secretary, and no second answer is computed to find a name."""
    assert searched("When did she take over?", ["Who is the Home Secretary?"]) == (
        "When did the Home Secretary take over?"
    )
    assert searched("What is her department?", ["Who was the Minister for Immigration?"]) == (
        "What is the Minister for Immigration’s department?"
    )


def test_a_refused_answer_names_nobody() -> None:
    refused = {"question": "Who is the Home Secretary?", "answer": "The sources don't say.", "refused": True}
    assert searched("When did she take over?", [refused]) == "When did the Home Secretary take over?"


def test_a_question_leaning_on_the_last_one_carries_it_as_context() -> None:
    got = resolve("What was it raised to?", ["What was the cap on skilled workers?"])
    assert got.text == "What was it raised to?" and got.context == "What was the cap on skilled workers?"
    assert got.search_text == "What was it raised to? (following: What was the cap on skilled workers?)"


def test_the_antecedent_can_be_in_an_older_turn() -> None:
    history = ["What did Nicholas Soames tell Amber Rudd?", "How were the targets split?"]
    assert searched("What did he say next?", history) == "What did Nicholas Soames say next?"


def test_what_about_swaps_the_like_for_like_token() -> None:
    assert searched("What about 2016?", ["How many removals were there in 2010?"]) == (
        "How many removals were there in 2016?"
    )


def test_it_carries_the_previous_question_along() -> None:
    resolved = searched("When was it published?", ["What did the Wendy Williams review find?"])
    assert resolved == "When was it published? (following: What did the Wendy Williams review find?)"


def test_history_as_tuples_and_with_blank_turns() -> None:
    turns = normalise_history([("a?", "A"), ["b?"], "   ", {"role": "assistant", "content": "orphan"}])
    assert [(t.question, t.answer) for t in turns] == [("a?", "A"), ("b?", "")]


def test_lone_surrogates_and_controls_are_scrubbed_from_every_history_form() -> None:
    turns = normalise_history(
        ["Who is \ud800Rudd?\x00", {"question": "b\udfff?", "answer": "B\x07"}, ("c?", "C")]
    )
    assert [(t.question, t.answer) for t in turns] == [("Who is Rudd?", ""), ("b?", "B"), ("c?", "C")]
