"""The documents API against a real server: a CMS pushes, corrects, re-sends and unpublishes a
story, and readers' answers follow at once; auth, size and validation failures; scopes."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import FOUNDING
from tests.web.conftest import TOKEN

AUTH = {"authorization": f"Bearer {TOKEN}"}
STORY = "rudd-removal-targets-2018"
URL = "https://courier.example/politics/rudd-removal-targets"
QUESTION = "What target did the Home Office set for voluntary departures in 2015/16?"


def _body(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Rudd told she has total support over removal targets",
        "text": text,
        "url": URL,
        "date": "2018-04-26",
        "byline": "Political staff",
        "section": "Politics",
        "tags": ["Home Office", "Windrush"],
        **extra,
    }


def _ask(base: str, question: str, scope: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question}
    if scope is not None:
        body["scope"] = scope
    r = httpx.post(f"{base}/api/ask", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _generation(base: str) -> int:
    return int(httpx.get(f"{base}/healthz").json()["generation"])


def test_push_ask_correct_resend_unpublish(cms: Any) -> None:
    base = cms.url
    text = FOUNDING.read_text(encoding="utf-8")
    r = httpx.put(f"{base}/api/documents/{STORY}", json=_body(text), headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == STORY and r.json()["status"] in ("added", "updated") and r.json()["chunks"] > 0

    answer = _ask(base, QUESTION, {"doc_ids": [STORY]})
    assert "12,000" in answer["answer"]
    cite = answer["citations"][0]
    assert cite["doc_id"] == STORY and cite["url"] == URL  # the story's own id and URL
    assert cite["byline"] == "Political staff" and cite["section"] == "Politics"

    corrected = text.replace("raised to 12,000", "raised to 14,500")
    r = httpx.put(f"{base}/api/documents/{STORY}", json=_body(corrected), headers=AUTH, timeout=60)
    assert r.json()["status"] == "updated"
    answer = _ask(base, QUESTION, {"doc_ids": [STORY]})
    assert "14,500" in answer["answer"] and "12,000" not in answer["answer"]

    before = _generation(base)
    r = httpx.put(f"{base}/api/documents/{STORY}", json=_body(corrected), headers=AUTH, timeout=60)
    assert r.json() == {"id": STORY, "status": "unchanged", "chunks": r.json()["chunks"]}
    assert _generation(base) == before  # the same body twice writes nothing

    got = httpx.get(f"{base}/api/documents/{STORY}", headers=AUTH).json()
    assert got["url"] == URL and got["tags"] == ["home-office", "windrush"] and "14,500" in got["text"]

    assert httpx.delete(f"{base}/api/documents/{STORY}", headers=AUTH).json()["status"] == "deleted"
    assert httpx.get(f"{base}/api/documents/{STORY}", headers=AUTH).status_code == 404
    assert httpx.delete(f"{base}/api/documents/{STORY}", headers=AUTH).status_code == 404
    for scope in ({"doc_ids": [STORY]}, None):
        answer = _ask(base, QUESTION, scope)
        assert all(c["doc_id"] != STORY for c in answer["citations"] + answer["related"])
        assert "14,500" not in answer["answer"]


def test_auth_size_and_validation(cms: Any) -> None:
    base = cms.url
    url = f"{base}/api/documents/some-story"
    body = _body("The committee met on Tuesday and agreed a cap of 40 licences a year.")
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        r = httpx.put(url, json=body, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in r.json()["detail"]
    assert httpx.get(f"{base}/api/documents", headers={"authorization": "Bearer x"}).status_code == 401

    # The token is checked before the body is read: a stranger's malformed body is still a 401.
    junk = httpx.put(url, content=b"{not json", headers={"content-type": "application/json"})
    assert junk.status_code == 401

    huge = _body("A sentence about targets. " * 4000)  # about 100 KB, over the 60 KB limit
    r = httpx.put(url, json=huge, headers=AUTH)
    assert r.status_code == 413 and "0.06 MB limit (DESPATCH_MAX_FILE_MB)" in r.json()["detail"]

    def field(r: httpx.Response) -> str:
        assert r.status_code == 422, r.text
        return str(r.json()["detail"][0]["loc"][-1])

    assert field(httpx.put(url, json={**body, "url": "javascript:alert(1)"}, headers=AUTH)) == "url"
    for bad_date in ("26/04/2018", "2018-02-30", "2018-13-45", "2018-04-26 garbage"):
        assert field(httpx.put(url, json={**body, "date": bad_date}, headers=AUTH)) == "date"
    no_title = {k: v for k, v in body.items() if k != "title"}
    assert field(httpx.put(url, json=no_title, headers=AUTH)) == "title"
    assert field(httpx.put(url, json={**body, "colour": "red"}, headers=AUTH)) == "colour"
    assert field(httpx.put(url, json={**body, "html": "<p>x</p>"}, headers=AUTH)) == "text"  # both
    bad_id = httpx.put(f"{base}/api/documents/bad%20id", json=body, headers=AUTH)
    assert field(bad_id) == "doc_id" and "1 to 128 letters, digits" in bad_id.json()["detail"][0]["msg"]
    assert field(httpx.put(url, json={**body, "tags": "politics"}, headers=AUTH)) == "tags"
    assert httpx.get(f"{base}/api/documents/some-story", headers=AUTH).status_code == 404  # none landed


def test_html_stories_scopes_and_paging(cms: Any) -> None:
    base = cms.url
    ferry = {
        "title": "Ferry licences capped",
        "html": "<html><body><nav>Menu</nav><article><h1>Ferry licences capped</h1>"
        "<p>The Zanzibar ferry committee met on Tuesday.</p><p>Its chair said ferry licences would "
        "be capped at 40 a year.</p></article><footer>Cookies</footer></body></html>",
        "url": "https://courier.example/world/ferries",
        "date": "2018-05-02",
        "tags": ["World"],
    }
    put = httpx.put(f"{base}/api/documents/ferry-cap", json=ferry, headers=AUTH, timeout=60)
    assert put.json()["status"] in ("added", "updated")
    text = FOUNDING.read_text(encoding="utf-8")
    httpx.put(f"{base}/api/documents/rudd-copy", json=_body(text), headers=AUTH, timeout=60)
    stored = httpx.get(f"{base}/api/documents/ferry-cap", headers=AUTH).json()
    assert "capped at 40 a year" in stored["text"] and "Cookies" not in stored["text"]

    # Scoped to the ferry story, the Home Office figure is not there to find.
    scoped = _ask(base, QUESTION, {"doc_ids": ["ferry-cap"]})
    assert all(c["doc_id"] == "ferry-cap" for c in scoped["citations"] + scoped["related"])
    assert "12,000" not in scoped["answer"]
    assert "12,000" in _ask(base, QUESTION)["answer"]  # unscoped, it is
    by_tag = _ask(base, "How many ferry licences a year?", {"tags": ["world"]})
    assert "40 a year" in by_tag["answer"] and {c["doc_id"] for c in by_tag["citations"]} == {"ferry-cap"}
    dated = _ask(base, QUESTION, {"date_from": "2018-05-01"})
    assert "12,000" not in dated["answer"]

    first = httpx.get(f"{base}/api/documents?limit=1", headers=AUTH).json()
    assert len(first["documents"]) == 1 and first["next_cursor"]
    rest = httpx.get(f"{base}/api/documents?limit=50&cursor={first['next_cursor']}", headers=AUTH).json()
    ids = [d["id"] for d in first["documents"] + rest["documents"]]
    assert ids == sorted(ids) and {"ferry-cap", "rudd-copy"} <= set(ids) and rest["next_cursor"] is None
    for bad in ("May", "2018-02-30"):
        bad_scope = httpx.post(f"{base}/api/ask", json={"question": "x?", "scope": {"date_from": bad}})
        assert bad_scope.status_code == 422


def test_a_story_sent_with_respond_async_is_queued_and_polled_until_answered(cms: Any) -> None:
    """``Prefer: respond-async``: 202 at once with the job's URL; the job goes from queued or
    preparing to added, and from then the story is answered; unknown jobs are 404, and the job
    route wants the token like the rest."""
    import time

    base = cms.url
    body = _body("The Quillon harbour board capped the night ferry at 212 berths on Monday.")
    prefer = {**AUTH, "prefer": "respond-async"}
    r = httpx.put(f"{base}/api/documents/quillon-async", json=body, headers=prefer, timeout=60)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["id"] == "quillon-async" and job["status"] in ("queued", "preparing") and job["chunks"] is None
    assert r.headers["location"] == f"/api/documents/jobs/{job['job']}"
    assert r.headers["preference-applied"] == "respond-async"
    deadline = time.monotonic() + 120
    while (state := httpx.get(base + r.headers["location"], headers=AUTH).json())["status"] in (
        "queued",
        "preparing",
    ):
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state == {**job, "status": "added", "chunks": 1, "detail": None}
    answer = _ask(base, "How many berths may the Quillon night ferry carry?", {"doc_ids": ["quillon-async"]})
    assert "212 berths" in answer["answer"]
    # The same story again, queued: nothing to write.
    again = httpx.put(f"{base}/api/documents/quillon-async", json=body, headers=prefer, timeout=60).json()
    while (state := httpx.get(f"{base}/api/documents/jobs/{again['job']}", headers=AUTH).json())[
        "status"
    ] in (
        "queued",
        "preparing",
    ):
        time.sleep(0.2)
    assert state["status"] == "unchanged"
    missing = httpx.get(f"{base}/api/documents/jobs/nope", headers=AUTH)
    assert missing.status_code == 404 and "send the story again" in missing.json()["detail"]
    assert httpx.get(base + r.headers["location"]).status_code == 401
    bad = httpx.put(f"{base}/api/documents/quillon-async", json={**body, "date": "May"}, headers=prefer)
    assert bad.status_code == 422  # checked before it is queued


def test_writes_to_one_story_land_in_the_order_they_arrived(cms: Any) -> None:
    """A queued story still being prepared is not written once a newer version or its
    unpublishing has arrived (it ends "superseded"), so an older version never lands last."""
    import time

    base = cms.url
    prefer = {**AUTH, "prefer": "respond-async"}
    url = f"{base}/api/documents/quillon-order"
    long = " ".join(f"Item {n}: the harbour board met about berth {n}." for n in range(600))  # ~30 KB

    def settled(job: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + 120
        while (state := httpx.get(f"{base}/api/documents/jobs/{job['job']}", headers=AUTH).json())[
            "status"
        ] in ("queued", "preparing"):
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        return dict(state)

    older = httpx.put(url, json=_body("Version one. " + long), headers=prefer, timeout=60).json()
    newer = httpx.put(
        url, json=_body("Version two: the night ferry carries 91 berths."), headers=AUTH, timeout=120
    )
    assert newer.status_code == 200 and newer.json()["status"] == "added"
    state = settled(older)
    assert state["status"] == "superseded" and "was not written" in state["detail"]
    assert httpx.get(url, headers=AUTH).json()["text"].startswith("Version two")

    queued = httpx.put(url, json=_body("Version three. " + long), headers=prefer, timeout=60).json()
    assert httpx.delete(url, headers=AUTH).json()["status"] == "deleted"  # unpublished meanwhile
    assert settled(queued)["status"] == "superseded"
    assert httpx.get(url, headers=AUTH).status_code == 404  # and stays unpublished


def test_the_docs_webhook_relay_publishes_and_unpublishes(cms: Any, monkeypatch: Any) -> None:
    """The relay recipe in docs/embedding.md, run as written against the real server."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "embedding.md").read_text(encoding="utf-8")
    code = next(b.split("\n", 1)[1] for b in doc.split("```python")[1:] if "# relay.py" in b).split("```")[0]
    monkeypatch.setenv("DESPATCH_URL", cms.url)
    monkeypatch.setenv("DESPATCH_ADMIN_TOKEN", TOKEN)
    relay: dict[str, Any] = {}
    exec(compile(code, "docs/embedding.md#relay", "exec"), relay)
    story = {
        "id": "relay-ferry",
        "title": "Ferry cap",
        "html": "<p>The Quillon relay committee capped ferry licences at 77 a year.</p>",
        "date": "2018-05-03",
    }
    state = relay["hook"]({"event": "publish", "story": story})
    assert state["status"] == "added" and state["chunks"] == 1
    answer = _ask(cms.url, "How many ferry licences a year?", {"doc_ids": ["relay-ferry"]})
    assert "77 a year" in answer["answer"]
    assert relay["hook"]({"event": "unpublish", "story": story}) == {"status": "deleted"}
    assert httpx.get(f"{cms.url}/api/documents/relay-ferry", headers=AUTH).status_code == 404


def test_queued_jobs_report_failures_keep_a_bound_and_refuse_past_the_limit() -> None:
    """The job book around the real write path, with a write that fails or waits on cue."""
    import threading
    import time

    from despatch.errors import IndexingError, RequestError
    from index.records import Document, Section
    from web.cms import Jobs, PutResult, Turns

    release = threading.Event()

    def write(doc: Document, turn: int) -> PutResult:
        if doc.id.startswith("old"):
            raise RequestError(409, "a newer version came first")
        if doc.id.startswith("bad"):
            raise IndexingError("the worker died; send it again")
        if doc.id.startswith("slow"):
            release.wait(30)
        if doc.id.startswith("bug"):
            raise KeyError("x")
        return PutResult(id=doc.id, status="added", chunks=2)

    def doc(doc_id: str) -> Document:
        return Document(id=doc_id, source="cms", title="t", text="Text.", sections=(Section(0, 5),))

    def settled(jobs: Jobs, key: str) -> Any:
        deadline = time.monotonic() + 30
        while (state := jobs.get(key)) is not None and state.status in ("queued", "preparing"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        return state

    turns = Turns()
    first, second = turns.take("x"), turns.take("x")
    assert second > first and turns.latest("x", second) and not turns.latest("x", first)
    turns.done("x", first)  # not the latest: remembered still
    assert turns.latest("x", second)
    turns.done("x", second)
    assert not turns.latest("x", second) and turns.take("x") > second

    jobs = Jobs(write, limit=4, keep=4)
    old = jobs.submit(doc("old-1"), 1)
    assert old and settled(jobs, old.job).model_dump() == {
        "job": old.job,
        "id": "old-1",
        "status": "superseded",
        "chunks": None,
        "detail": "a newer version came first",
    }
    jobs = Jobs(write, limit=2, keep=3)
    bad, bug, good = (jobs.submit(doc(i), 1) for i in ("bad-1", "bug-1", "good-1"))
    assert bad and bug and good
    assert settled(jobs, bad.job).model_dump() == {
        "job": bad.job,
        "id": "bad-1",
        "status": "failed",
        "chunks": None,
        "detail": "the worker died; send it again",
    }
    assert settled(jobs, bug.job).detail == "internal error: KeyError; see the server log"
    assert settled(jobs, good.job).status == "added" and settled(jobs, good.job).chunks == 2
    slow = [jobs.submit(doc(f"slow-{i}"), 1) for i in range(3)]
    assert slow[0] and slow[1] and slow[2] is None  # two unfinished at most
    assert jobs.get(bad.job) is None and jobs.get(bug.job) is None  # the oldest finished are forgotten
    release.set()
    assert all(settled(jobs, j.job).status == "added" for j in slow[:2] if j)
    assert jobs.submit(doc("good-2"), 1) is not None


def test_documents_api_is_absent_without_a_token(web: Any) -> None:
    r = httpx.put(f"{web.url}/api/documents/x", json={"title": "t", "text": "x"}, headers=AUTH)
    assert r.status_code == 404
    assert httpx.get(f"{web.url}/api/documents", headers=AUTH).status_code == 404


def test_an_empty_admin_token_leaves_the_api_off_and_a_short_one_is_refused() -> None:
    import pytest

    from despatch.errors import ConfigError
    from despatch.settings import load_settings

    assert load_settings(admin_token="").admin_token is None
    assert load_settings(admin_token="   ").admin_token is None
    with pytest.raises(ConfigError, match="at least 16 characters"):
        load_settings(admin_token="short")


def test_a_long_story_does_not_hold_other_pushes_behind_it(cms: Any) -> None:
    """A long story is chunked and embedded outside the write lock: a short PUT sent while it
    is being embedded is committed, and answered, first; then both are in the index."""
    import threading

    base = cms.url
    para = FOUNDING.read_text(encoding="utf-8").split("\n\n")
    long_text = "\n\n".join(f"{p} (Part {i}.)" for i in range(12) for p in para if p.strip())
    finished: list[str] = []
    # The small stories' worker process is started by the first push after a start (it loads
    # the models: seconds); start it first, so the race below is between the two stories.
    warm = {"title": "Warm-up", "text": "The harbour board met on Monday."}
    assert httpx.put(f"{base}/api/documents/warm-up", json=warm, headers=AUTH, timeout=600).status_code == 200

    def long_put() -> None:
        r = httpx.put(
            f"{base}/api/documents/long-archive-story", json=_body(long_text), headers=AUTH, timeout=600
        )
        assert r.status_code == 200, r.text
        finished.append("long")

    worker = threading.Thread(target=long_put)
    worker.start()
    short = {
        "title": "Ferry licences capped",
        "text": "The Zanzibar committee capped ferry licences at 40 a year.",
    }
    r = httpx.put(f"{base}/api/documents/short-story", json=short, headers=AUTH, timeout=600)
    finished.append("short")
    assert r.status_code == 200 and r.json()["status"] == "added"
    answer = _ask(
        base, "How many ferry licences does the Zanzibar committee allow?", {"doc_ids": ["short-story"]}
    )
    assert "40 a year" in answer["answer"]
    worker.join(600)
    assert finished == ["short", "long"]
    got = httpx.get(f"{base}/api/documents/long-archive-story", headers=AUTH).json()
    assert got["chunks"] > 50
    for doc_id in ("long-archive-story", "short-story"):
        assert httpx.delete(f"{base}/api/documents/{doc_id}", headers=AUTH).status_code == 200
