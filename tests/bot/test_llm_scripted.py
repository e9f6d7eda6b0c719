"""The LLM answerer at its boundary: a scripted OpenAI-compatible server on loopback
(``tests.scripted_llm``: a real HTTP server that streams pre-written completions as server-sent
events) drives every branch of ``LLMAnswerer`` through LangChain's real ``ChatOpenAI`` client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.answering import REFUSAL
from bot.assembly import assemble
from bot.core import Bot
from tests.conftest import assert_citations_valid, make_settings
from tests.scripted_llm import Script, serve

QUESTION = "What target did the Home Office set for voluntary departures in 2015/16?"


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script()
    with serve(script) as url:
        yield url, script


@pytest.fixture()
def llm_bot(scripted: tuple[str, Script], founding_store: Any, embedder: Any) -> Iterator[tuple[Bot, Script]]:
    url, script = scripted
    settings, store = founding_store
    settings = make_settings(settings.store, llm_base_url=url, llm_model="scripted", llm_timeout_s=2)
    script.replies.clear()
    yield assemble(settings, store=store, embedder=embedder).bot("llm"), script


def _n(bot: Bot, needle: str, question: str = QUESTION) -> int:
    passages = bot.search(question, bot.settings.top_k)
    return next(i for i, p in enumerate(passages, 1) if needle in p.text)


def test_a_correct_cited_sentence_is_verified_and_shown(llm_bot: tuple[Bot, Script]) -> None:
    bot, script = llm_bot
    n = _n(bot, "12,000")
    script.replies.append(f"For 2015/16 the Home Office raised the annual target to 12,000 [{n}].")
    answer = bot.ask(QUESTION)
    assert "fallback" not in answer.meta and answer.answerer == "llm" and not answer.refused
    assert answer.answer == "For 2015/16 the Home Office raised the annual target to 12,000. [1]"
    assert "12,000" in answer.citations[0].quote
    # The prompt carried the passages and the publication's name (Settings.publication).
    assert bot.settings.publication in script.prompts[-1] and "12,000" in script.prompts[-1]
    assert_citations_valid(answer, bot.store)


def test_a_wrong_number_is_dropped(llm_bot: tuple[Bot, Script]) -> None:
    bot, script = llm_bot
    n = _n(bot, "12,000")
    script.replies.append(
        f"For 2015/16 the annual target was raised to 12,000 [{n}]. The target was later cut to 3,000 [{n}]."
    )
    answer = bot.ask(QUESTION)
    assert "fallback" not in answer.meta and answer.meta["dropped_sentences"] == 1
    assert "3,000" not in answer.answer and "12,000" in answer.answer


def test_an_out_of_range_marker_is_removed_and_an_uncited_sentence_dropped(
    llm_bot: tuple[Bot, Script],
) -> None:
    bot, script = llm_bot
    n = _n(bot, "12,000")
    script.replies.append(f"For 2015/16 the annual target was raised to 12,000 [{n}][42]. It was a big rise.")
    answer = bot.ask(QUESTION)
    assert answer.meta["removed_markers"] == 1 and answer.meta["dropped_sentences"] == 1
    assert "[42]" not in answer.answer and "big rise" not in answer.answer


def test_nothing_supported_falls_back_to_the_extractive_answer(llm_bot: tuple[Bot, Script]) -> None:
    bot, script = llm_bot
    script.replies.append("The target was 15,000 [1][2].")
    answer = bot.ask(QUESTION)
    assert answer.meta["fallback"] == "llm_unsupported" and "12,000" in answer.answer


def test_the_refusal_sentence_becomes_a_refusal(llm_bot: tuple[Bot, Script]) -> None:
    bot, script = llm_bot
    script.replies.append(REFUSAL)
    answer = bot.ask(QUESTION)
    assert answer.refused and answer.answerer == "llm" and not answer.citations and answer.related
    assert "fallback" not in answer.meta


@pytest.mark.parametrize(("reply", "reason"), [(("status", 500), "llm_error"), (("sleep", 4.0), "llm_error")])
def test_endpoint_failures_fall_back_with_the_reason(
    llm_bot: tuple[Bot, Script], reply: Any, reason: str
) -> None:
    bot, script = llm_bot
    script.replies += [reply, reply, reply]  # the client retries once
    answer = bot.ask(QUESTION)
    assert answer.meta["fallback"].startswith(reason) and "12,000" in answer.answer


def test_condense_accepted_and_rejected(llm_bot: tuple[Bot, Script]) -> None:
    bot, script = llm_bot
    history = ["What was the voluntary departures target for 2014/15?"]
    n = _n(bot, "12,000")
    script.replies += [
        "What was the voluntary departures target for 2015/16?",
        f"For 2015/16 the annual target was raised to 12,000 [{n}].",
    ]
    answer = bot.ask("And for 2015/16?", history)
    assert answer.meta["resolved_by"] == "llm"
    assert answer.resolved_question == "What was the voluntary departures target for 2015/16?"
    # A rewrite that wanders off (new names the conversation never had) is rejected: rules resolve.
    script.replies += [
        "Who is the Prime Minister of France?",
        f"For 2015/16 the annual target was raised to 12,000 [{n}].",
    ]
    answer = bot.ask("And for 2015/16?", history)
    assert answer.meta["resolved_by"] == "rules" and "France" not in answer.resolved_question
