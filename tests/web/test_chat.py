"""The chat handler's limits, with the real bot (no server needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from web.chat import ChatService, RateLimiter, chat, vote
from web.feedback import Feedback


def _service(founding_bot: Any, tmp_path: Path, per_minute: int) -> ChatService:
    settings = founding_bot.settings.model_copy(update={"max_history_turns": 2})
    return ChatService(founding_bot, settings, RateLimiter(per_minute), Feedback(tmp_path / "f.sqlite3"))


def test_empty_submissions_count_against_the_rate_limit(founding_bot: Any, tmp_path: Path) -> None:
    service = _service(founding_bot, tmp_path, 3)
    replies = [list(chat(service, "", [], [], "10.0.0.1"))[-1][0][-1]["content"] for _ in range(4)]
    assert replies[:3] == ["Please type a question."] * 3
    assert "the limit is 3 a minute" in replies[3]


def test_the_browser_history_is_cut_to_what_the_page_needs(founding_bot: Any, tmp_path: Path) -> None:
    service = _service(founding_bot, tmp_path, 100)
    history = [{"role": "user", "content": "x" * 1000}] * 450
    final = list(chat(service, "Who assured Rudd of total support?", history, [None] * 450, "c"))[-1]
    chat_history, answers, _ = final
    assert len(chat_history) == 2 * 2 + 2 and len(answers) == 2 * 2 + 2
    assert "Soames" in chat_history[-1]["content"]


def test_votes_share_the_rate_limit_and_can_be_taken_back(founding_bot: Any, tmp_path: Path) -> None:
    service = _service(founding_bot, tmp_path, 3)
    answers: list[Any] = [None, {"question": "q", "answer": "a [1]", "citations": []}]
    assert vote(service, answers, 1, True, "s", "c")
    assert vote(service, answers, 1, None, "s", "c")  # clicked the same thumb again
    assert list(service.feedback.rows()) == []
    assert vote(service, answers, 1, False, "s", "c")
    assert not vote(service, answers, 1, True, "s", "c")  # fourth action this minute: dropped
    assert [r["vote"] for r in service.feedback.rows()] == ["down"]


def test_a_follow_up_in_the_chat_reads_the_answer_the_chat_holds(founding_bot: Any, tmp_path: Path) -> None:
    """The chat passes its earlier answers along: "he" after a "who" question is the person the
    last answer named, resolved from the record the chat holds, not from a second answer."""
    service = _service(founding_bot, tmp_path, 100)
    first = list(chat(service, "Who assured Rudd of total support?", [], [], "c"))[-1]
    history, answers, _ = first
    assert answers[-1] is not None
    named = answers[-1]["short_answer"]["text"] if answers[-1]["short_answer"] else ""
    assert "Soames" in named or "Soames" in answers[-1]["answer"]
    _, later, _ = list(chat(service, "Which constituency does he represent?", history, answers, "c"))[-1]
    assert later[-1] is not None and "Soames" in later[-1]["resolved_question"]


def test_the_indexed_line_names_the_serving_views_documents(founding_bot: Any, tmp_path: Path) -> None:
    """The line drawn at every page load is read from the view answers come from (its count and
    latest titles), not from a read of every document record in the store."""
    service = _service(founding_bot, tmp_path, 100)
    titles = founding_bot.retriever.current().titles
    line = service.indexed_line()
    assert line.startswith(f"Answers come only from the {len(titles)} indexed document(s): ")
    assert all(t in line for t, _ in titles.values()) and not line.endswith("…")
    assert len(titles) == len(founding_bot.store.documents())
