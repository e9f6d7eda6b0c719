"""The embeddable widget in real headless Chromium, inside the example CMS page served from a
second origin: the story-scoped inline widget and the launcher, at 1200 px and 320 px."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS, FOUNDING
from tests.web.conftest import TOKEN

SHOTS = ARTIFACTS / "screenshots"
STORY = "rudd-removal-targets-2018"
URL = "https://courier.example/politics/rudd-removal-targets"
OTHER = "ferry-licences"


@pytest.fixture(scope="module")
def stories(cms: Any) -> Any:
    auth = {"authorization": f"Bearer {TOKEN}"}
    rudd = {"title": "Rudd told she has total support", "text": FOUNDING.read_text(), "url": URL}
    ferry = {
        "title": "Ferry licences capped",
        "text": "The Zanzibar ferry committee met on Tuesday. Its chair said ferry licences would be "
        "capped at 40 a year.",
        "url": "https://courier.example/world/ferries",
    }
    for doc_id, body in ((STORY, rudd), (OTHER, ferry)):
        assert (
            httpx.put(f"{cms.url}/api/documents/{doc_id}", json=body, headers=auth, timeout=60).status_code
            == 200
        )
    return cms


def _ask(frame: Any, question: str) -> Any:
    box = frame.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    turn = frame.locator(".dw-turn").last
    turn.locator(".dw-a, .dw-refused").first.wait_for(timeout=60_000)
    return turn


def _no_horizontal_scroll(frame: Any) -> bool:
    return bool(frame.locator("html").evaluate("e => e.scrollWidth <= e.clientWidth + 1"))


@pytest.mark.parametrize("width", [1200, 320])
def test_inline_widget_answers_from_the_story_with_linked_sources(
    stories: Any, browser: Any, host_origin: str, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{host_origin}/cms-article.html?server={stories.url}&doc={STORY}", wait_until="load")
    frame = page.frame_locator("#despatch-inline iframe.despatch-frame")
    # The widget's script fills the scope line after the frame loads: wait for it (a loaded
    # machine read it empty once).
    expect(frame.locator("#dw-scope-text")).to_have_text("Answers come only from this story.")
    turn = _ask(frame, "What target did the Home Office set for voluntary departures in 2015/16?")
    assert "12,000" in turn.inner_text() and turn.locator(".dw-short").inner_text() == "12,000"
    link = turn.locator(".dw-sources a").first
    assert link.get_attribute("href") == URL
    assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener"
    # The footer names the story, never a list of hundreds.
    assert frame.locator("#dw-coverage a").count() <= 3
    assert _no_horizontal_scroll(frame)
    # Scoped to the story, the ferry story cannot answer; widened to all coverage, it can.
    turn = _ask(frame, "How many ferry licences a year?")
    assert "40 a year" not in turn.locator(".dw-text").inner_text()
    frame.get_by_role("button", name="Ask about all coverage").click()
    expect(frame.locator("#dw-scope-text")).to_have_text("Answers come from all coverage.")
    turn = _ask(frame, "How many ferry licences a year?")
    assert "40 a year" in turn.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"widget-inline-{width}.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("width", [1200, 320])
def test_launcher_opens_closes_and_never_covers_the_story_when_closed(
    stories: Any, browser: Any, host_origin: str, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 740})
    page.goto(f"{host_origin}/cms-article.html?server={stories.url}&doc={STORY}", wait_until="load")
    launcher = page.locator("button.despatch-launcher")
    launcher.wait_for()
    box = launcher.bounding_box()
    assert box is not None and box["width"] <= 120 and box["height"] <= 60  # a small button
    assert launcher.get_attribute("aria-label") and launcher.get_attribute("aria-expanded") == "false"
    assert page.locator(".despatch-panel").count() == 0
    # Keyboard: the launcher is a real button, reachable and opened with Enter.
    launcher.focus()
    page.keyboard.press("Enter")
    panel = page.locator(".despatch-panel")
    panel.wait_for(state="visible")
    frame = page.frame_locator(".despatch-panel iframe")
    panel_box = panel.bounding_box()
    assert panel_box is not None
    if width < 600:
        assert panel_box["width"] >= width - 1 and panel_box["height"] >= 739  # full screen on phones
    else:
        assert panel_box["width"] <= 400
    assert _no_horizontal_scroll(frame)
    turn = _ask(frame, "Who assured Rudd of total support?")
    assert "Soames" in turn.inner_text()
    page.screenshot(path=str(SHOTS / f"widget-launcher-open-{width}.png"))
    # Tab through every control and past the last: on a phone the full-screen panel is modal and
    # focus stays inside it; beside the story (desktop) it may move on to the page.
    inside = []
    for _ in range(40):
        page.keyboard.press("Tab")
        inside.append(page.evaluate("() => !!document.activeElement.closest('.despatch-panel')"))
    if width < 600:
        assert panel.get_attribute("aria-modal") == "true" and all(inside)
        # Wrapping lands on a real control, never on the frame's page itself: through 40 Tabs
        # and 10 Shift+Tabs, focus settles on a control of the widget every time.
        frame_el = page.locator(".despatch-panel iframe").element_handle()
        widget = frame_el.content_frame() if frame_el else None
        assert widget is not None
        on_control = "() => document.hasFocus() && document.activeElement !== document.body"
        for key in ["Tab"] * 40 + ["Shift+Tab"] * 10:
            page.keyboard.press(key)
            widget.wait_for_function(on_control, timeout=5_000)
    else:
        assert panel.get_attribute("aria-modal") is None and not all(inside)
    # Resized while open: the panel and the launcher follow (full screen hides the launcher).
    other = 1200 if width < 600 else 320
    for size in (other, width):
        page.set_viewport_size({"width": size, "height": 740})
        modal = "true" if size < 600 else "false"  # the resize event is dispatched asynchronously
        is_modal = "document.querySelector('.despatch-panel').getAttribute('aria-modal') === 'true'"
        page.wait_for_function(f"() => ({is_modal}) === {modal}")
        assert launcher.is_visible() == (size >= 600)
    frame.get_by_role("button", name="Close the questions panel").click()
    panel.wait_for(state="hidden")
    assert launcher.is_visible() and launcher.get_attribute("aria-expanded") == "false"
    launcher.click()
    panel.wait_for(state="visible")
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    page.close()


def test_widget_page_both_paths_theming_and_csp(stories: Any, browser: Any) -> None:
    for path in ("/widget", "/widget/"):
        r = httpx.get(f"{stories.url}{path}")
        assert r.status_code == 200 and "dw-form" in r.text
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors" in csp and "unsafe-inline" not in csp
    page = browser.new_page(viewport={"width": 320, "height": 640})
    page.goto(f"{stories.url}/widget?accent=%23005a9c&pub=%3Cb%3EThe%20Courier%3C%2Fb%3E", wait_until="load")
    accent = page.locator("#dw-send").evaluate("e => getComputedStyle(e).backgroundColor")
    assert accent == "rgb(0, 90, 156)"
    assert page.locator("#dw-title").inner_text() == "Ask <b>The Courier</b>"  # text, not markup
    page.goto(f"{stories.url}/widget?accent=red;background:url(x)", wait_until="load")
    assert page.locator("#dw-send").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(138, 28, 28)"
    # Every control has a name a screen reader reads out.
    assert page.get_by_label("Your question").is_visible()
    assert page.get_by_role("button", name="Ask", exact=True).is_visible()
    page.close()


def test_a_reversed_publisher_date_range_is_taken_the_right_way_round(stories: Any, browser: Any) -> None:
    """data-from after data-to would make every question a 422; the widget swaps them (and says
    so in the console) and answers from the range the publisher meant."""
    auth = {"authorization": f"Bearer {TOKEN}"}
    story = {
        "title": "Harbour fees set",
        "date": "2018-04-20",
        "text": "The Quillon harbour board met on Friday. It set mooring fees at 75 pounds a night.",
    }
    url = f"{stories.url}/api/documents/harbour-fees"
    assert httpx.put(url, json=story, headers=auth, timeout=60).status_code == 200
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        warnings: list[str] = []
        page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
        page.goto(f"{stories.url}/widget?from=2018-05-01&to=2018-04-01", wait_until="load")
        turn = _ask(page, "What did the Quillon harbour board set mooring fees at?")
        assert "75 pounds" in turn.inner_text()
        assert any("is after data-to" in w and "swapped" in w for w in warnings)
        page.close()
    finally:
        assert httpx.delete(url, headers=auth, timeout=60).status_code == 200
