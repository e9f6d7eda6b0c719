"""End to end in real headless Chromium: the chat page, escaping and feedback (the widget is in
test_widget.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.conftest import ARTIFACTS

SHOTS = ARTIFACTS / "screenshots"


def _ask(frame: Any, question: str) -> Any:
    box = frame.locator("#despatch-question textarea")
    box.wait_for(timeout=30_000)
    box.fill(question)
    box.press("Enter")
    frame.locator("#despatch-chat .despatch-source").first.wait_for(state="attached", timeout=60_000)
    return frame.locator("#despatch-chat")


def test_chat_page_answers_with_sources(web: Any, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    page.goto(f"{web.url}/", wait_until="load")
    assert "indexed document" in page.locator("#despatch-indexed").inner_text()
    chat = _ask(page, "What target did the Home Office set for voluntary departures in 2015/16?")
    text = chat.inner_text()
    assert "12,000" in text and "[1]" in text
    assert chat.locator(".despatch-short").first.inner_text() == "12,000"  # the answer first, in bold
    highlighted = chat.locator(".despatch-source mark").all_inner_texts()
    assert any("12,000" in quote for quote in highlighted)  # the cited quote, shown in its context
    assert "2018-04-26" in chat.locator(".despatch-meta").first.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "chat.png"), full_page=True)
    page.close()


def test_document_markup_renders_as_text_and_never_runs(web: Any, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{web.url}/", wait_until="load")
    chat = _ask(page, "What did the Zanzibar ferry committee chair say about ferry licences?")
    shown = chat.inner_text()
    assert "40 a year" in shown
    assert "<img src=x onerror" in shown or "<script>" in shown  # visible as text
    assert page.evaluate("window.__despatch_pwned") is None
    assert page.title() != "pwned"
    assert chat.locator("img[src='x']").count() == 0 and chat.locator("script").count() == 0
    page.close()


def test_question_markup_is_escaped(web: Any, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{web.url}/", wait_until="load")
    box = page.locator("#despatch-question textarea")
    box.fill('<img src=y onerror="window.__despatch_pwned=3"> Who is Soames?')
    box.press("Enter")
    page.locator("#despatch-chat .despatch-source").first.wait_for(timeout=60_000)
    assert page.evaluate("window.__despatch_pwned") is None
    assert page.locator("#despatch-chat img[src='y']").count() == 0
    page.close()


def test_thumbs_are_stored_beside_the_store_and_the_last_vote_counts(web: Any, browser: Any) -> None:
    from tests.web.conftest import wait_until
    from web.feedback import Feedback

    feedback = Feedback(Path(web.settings.store) / "feedback.sqlite3")
    before = len(list(feedback.rows()))
    page = browser.new_page()
    page.goto(f"{web.url}/", wait_until="load")
    _ask(page, "Who assured Rudd of total support?")
    page.get_by_label("Like").last.click()
    wait_until(lambda: len(list(feedback.rows())) == before + 1, 20)
    row = list(feedback.rows())[-1]
    assert row["vote"] == "up" and "Soames" in row["text"] and json.loads(row["citations"]) and row["time"]
    page.get_by_label("Dislike").last.click()
    wait_until(lambda: list(feedback.rows())[-1]["vote"] == "down", 20)
    assert len(list(feedback.rows())) == before + 1  # one vote per answer per session
    page.close()


def test_narrowing_the_sources_by_date_in_the_chat(web: Any, browser: Any) -> None:
    """The chat's "Narrow the sources" fields reach retrieval; a date that is no day is said."""
    page = browser.new_page()
    page.goto(f"{web.url}/", wait_until="load")
    page.locator("#despatch-scope").get_by_text("Narrow the sources").click()
    since = page.locator("#despatch-from input, #despatch-from textarea").first
    since.click()  # a click waits until the opening panel has stopped moving; fill does not
    since.fill("2018-02-30")
    expect(since).to_have_value("2018-02-30")  # the field holds the date before the question goes
    box = page.locator("#despatch-question textarea")
    box.fill("What target did the Home Office set for voluntary departures in 2015/16?")
    box.press("Enter")
    page.get_by_text("is not a real day").wait_for(timeout=60_000)
    since.fill("2019-01-01")  # after the founding article (2018-04-26)
    expect(since).to_have_value("2019-01-01")
    box.fill("What target did the Home Office set for voluntary departures in 2015/16?")
    box.press("Enter")
    note = page.locator("#despatch-chat .despatch-scope-note")
    note.first.wait_for(timeout=60_000)
    assert note.last.inner_text() == "Searched only: from 2019-01-01"
    chat = page.locator("#despatch-chat").inner_text()
    assert "doesn't answer this question" in chat and "12,000" not in chat
    page.close()
