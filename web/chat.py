"""The Gradio chat UI, built by a function of its dependencies; the handlers are plain functions."""

# No `from __future__ import annotations` here: Gradio reads the handlers' type hints
# (gr.Request, gr.LikeData) at run time to decide what to inject.
import threading
import time
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from bot.core import Bot
from bot.layered import last_keys
from bot.records import Answer
from despatch.errors import DespatchError, RequestError
from despatch.settings import Settings
from index.cleaning import scrub
from index.dates import real_date
from index.filters import Filters
from web.feedback import Feedback
from web.render import message_html

EXAMPLES = [
    "What target did the Home Office set for voluntary departures in 2015/16?",
    "Who assured Amber Rudd of total support?",
    "How were the targets split?",
    "When did Amber Rudd take over as Home Secretary?",
]


class RateLimiter:
    """A sliding one-minute window per client; thread-safe."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """0 when ``client`` may ask now (and counts the question), else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > 10_000:  # forget clients idle for a minute
                self._hits = {c: h for c, h in self._hits.items() if h and now - h[-1] < 60.0}
            hits = [t for t in self._hits.get(client, []) if now - t < 60.0]
            if len(hits) >= self.per_minute:
                self._hits[client] = hits
                return max(1, int(60.0 - (now - hits[0])) + 1)
            hits.append(now)
            self._hits[client] = hits
            return 0

    def message(self, wait: int) -> str:
        return f"Too many questions: the limit is {self.per_minute} a minute. Please try again in {wait} s."


@dataclass
class ChatService:
    """What the UI needs: the bot, the limits, the feedback log, document texts for context."""

    bot: Bot
    settings: Settings
    limiter: RateLimiter
    feedback: Feedback

    def document_text(self, doc_id: str) -> str | None:
        """The document's current text (never cached: documents change while the server runs)."""
        return self.bot.document_text(doc_id)

    def check_question(self, question: str) -> str | None:
        """A reader-facing message when the question cannot be taken, else None."""
        if not scrub(question).strip():
            return "Please type a question."
        limit = self.settings.max_question_chars
        if len(question) > limit:
            return (
                f"Your question is {len(question)} characters long; the limit is {limit}. Please shorten it."
            )
        return None

    def check_request(self, question: str, history: list[Any]) -> tuple[str, list[Any]]:
        """The question and history cleaned of control characters, or ``RequestError`` (413 when
        something is over a limit, 422 when malformed); messages never repeat the input."""
        problem = self.check_question(question)
        if problem is not None:
            raise RequestError(413 if scrub(question).strip() else 422, problem)
        s = self.settings
        if len(history) > s.max_history_turns:
            raise RequestError(
                413, f"The history has {len(history)} turns; the limit is {s.max_history_turns}."
            )
        cleaned: list[Any] = []
        for i, item in enumerate(history, start=1):
            if isinstance(item, str):
                texts = {"question": item}
            elif isinstance(item, dict):
                texts = {k: v for k, v in item.items() if k in ("question", "answer", "content")}
                short = item.get("short_answer")  # an earlier answer's own JSON carries one
                said = short.get("text", "") if isinstance(short, dict) else None
                if short is not None and not (
                    isinstance(said, str) and len(said) <= s.max_history_answer_chars
                ):
                    raise RequestError(
                        422, f"History turn {i}: short_answer must be an answer's short answer."
                    )
                if not all(isinstance(v, str) for v in texts.values()):
                    raise RequestError(422, f"History turn {i}: question, answer and content must be text.")
            else:
                raise RequestError(422, f"History turn {i} must be text or an object.")
            for key, value in texts.items():
                is_answer = key == "answer" or (key == "content" and item.get("role") == "assistant")
                limit = s.max_history_answer_chars if is_answer else s.max_question_chars
                if len(value) > limit:
                    raise RequestError(
                        413, f"History turn {i}: {key} is {len(value)} characters; the limit is {limit}."
                    )
            if isinstance(item, str):
                cleaned.append(scrub(item))
            else:
                cleaned.append({k: scrub(v) if isinstance(v, str) else v for k, v in item.items()})
        return scrub(question), cleaned

    def indexed_line(self) -> str:
        """The chat's line naming what answers come from: the serving view's document count and
        its five latest titles (read from the view in memory, not from the store: it is drawn at
        every page load)."""
        titles = self.bot.retriever.current().titles
        names = ", ".join(escape(titles[d][0]) for d in last_keys(titles, 5))
        return f"Answers come only from the {len(titles)} indexed document(s): {names}" + (
            " …" if len(titles) > 5 else ""
        )


_FILTER_LIMIT = 200


def chat_filters(
    speaker: str = "", party: str = "", date_from: str = "", date_to: str = ""
) -> Filters | None:
    """The chat's "Narrow the sources" fields as retrieval filters (``None`` when all are empty).
    Runs of white space (new lines included) become one space.

    Raises ``RequestError`` (422) for a date that is not a real ``YYYY-MM-DD`` day, a range that
    ends before it starts, or a field longer than 200 characters."""
    labels = {"speaker": "Speaker", "party": "Party", "date_from": "From", "date_to": "To"}
    raw = {"speaker": speaker, "party": party, "date_from": date_from, "date_to": date_to}
    # invisible format characters (zero-width spaces, joiners) would make a blank-looking field
    values = {k: " ".join(_visible(scrub(v or "")).split()) for k, v in raw.items()}
    for key, value in values.items():
        if len(value) > _FILTER_LIMIT:
            raise RequestError(
                422, f"The {labels[key]} filter is {len(value)} characters; the limit is {_FILTER_LIMIT}."
            )
    for key in ("date_from", "date_to"):
        if values[key] and not real_date(values[key]):
            raise RequestError(
                422,
                f"{labels[key]} date {values[key]!r} is not a real day; "
                "write it as YYYY-MM-DD, e.g. 2010-01-06.",
            )
    filters = Filters(
        date_from=values["date_from"] or None,
        date_to=values["date_to"] or None,
        speaker=values["speaker"] or None,
        party=values["party"] or None,
    )
    if (problem := filters.range_error()) is not None:
        raise RequestError(422, f"The From date is after the To date ({problem}); swap them.")
    return None if filters.empty else filters


def _visible(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _no_match_note(filters: Filters) -> str:
    """What to tell a reader whose filters left nothing to search."""
    note = "No sources match these filters; widen them."
    if filters.party:
        note += (
            " A party filter matches only speakers whose party the index knows (parlparse"
            " transcripts get theirs from despatch ingest --members people.json)."
        )
    return note


def scope_line(filters: Filters) -> str:
    """The chat's filters as the reader set them, e.g. "Searched only: party Labour, from 2010-01-06"."""
    parts = [
        f"speaker {filters.speaker}" if filters.speaker else "",
        f"party {filters.party}" if filters.party else "",
        f"from {filters.date_from}" if filters.date_from else "",
        f"to {filters.date_to}" if filters.date_to else "",
    ]
    return "Searched only: " + ", ".join(p for p in parts if p)


def chat(
    service: ChatService,
    message: str,
    history: list[dict[str, Any]],
    answers: list[dict[str, Any] | None],
    client: str,
    narrow: Mapping[str, str] | None = None,
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any] | None], str]]:
    """Answer ``message``, within the "Narrow the sources" fields ``narrow`` (keyword arguments of
    ``chat_filters``) when given; yields (chat history, answer records by message index, textbox).
    The rate limit and the question checks come before the fields are read, so a bad field
    costs a submission like any other."""
    # The chat history comes back from the browser: keep only the turns the page needs.
    keep = 2 * max(service.settings.max_history_turns, 1)
    history, answers = history[-keep:], answers[-keep:]
    history = [*history, {"role": "user", "content": escape(scrub(message))}]
    answers = [*answers, None]
    wait = service.limiter.retry_after(client)  # every submission counts, empty ones too
    problem = service.limiter.message(wait) if wait else service.check_question(message)
    filters: Filters | None = None
    if problem is None and narrow:
        try:
            filters = chat_filters(**narrow)
        except RequestError as exc:
            problem = exc.detail
    if problem is not None:
        yield [*history, {"role": "assistant", "content": escape(problem)}], [*answers, None], message
        return
    message = scrub(message)
    limit = service.settings.max_history_turns
    # The answers the chat already holds go along: "she" after a "who" question is the person
    # the last answer named, with no second answer worked out to find them.
    earlier = [a for a in answers if a][-limit:] if limit else []
    final: Answer | None = None
    try:
        shown = ""
        for event in service.bot.stream(message, earlier, filters):
            if isinstance(event, Answer):
                final = event
            else:
                shown = f"{shown} {event}".strip()
                yield [*history, {"role": "assistant", "content": escape(shown)}], [*answers, None], ""
    except DespatchError as exc:
        yield [*history, {"role": "assistant", "content": escape(str(exc))}], [*answers, None], ""
        return
    assert final is not None
    content = message_html(final, service.document_text)
    if filters is not None:
        if final.nothing_matched:
            content += f'<p class="despatch-scope-note">{escape(_no_match_note(filters))}</p>'
        content += f'<p class="despatch-scope-note">{escape(scope_line(filters))}</p>'
    yield [*history, {"role": "assistant", "content": content}], [*answers, final.to_json()], ""


def vote(
    service: ChatService,
    answers: list[dict[str, Any] | None],
    index: int,
    liked: bool | None,
    session: str,
    client: str,
) -> bool:
    """Store a thumbs up/down for the answer at chat position ``index`` of ``session`` (``None``:
    the reader took the vote back); the last vote on an answer counts. Votes share the client's
    rate limit with its questions; a vote over the limit is dropped (False)."""
    if not (0 <= index < len(answers)) or answers[index] is None:
        return False
    if service.limiter.retry_after(client):
        return False
    if liked is None:
        service.feedback.retract(session, index, answers[index] or {})
    else:
        service.feedback.record(session, index, answers[index] or {}, "up" if liked else "down")
    return True


def build_app(service: ChatService) -> Any:
    """The chat page as Gradio Blocks (the embeddable widget is web/widget/, on the JSON API)."""
    import gradio as gr

    title = f"Ask {service.settings.publication}"
    with gr.Blocks(title="Despatch", analytics_enabled=False) as app:
        gr.Markdown(
            f"## {escape(title)}\nEvery sentence of an answer cites the passage it comes from; "
            "if the coverage doesn't say, Despatch says so."
        )
        chatbot = gr.Chatbot(
            label="Despatch",
            height=520,
            sanitize_html=True,
            feedback_options=("Like", "Dislike"),
            buttons=["copy"],
            elem_id="despatch-chat",
        )
        answers = gr.State([])
        box = gr.Textbox(
            placeholder="Ask a question about the coverage…",
            show_label=False,
            max_lines=3,
            elem_id="despatch-question",
            submit_btn=True,
        )
        with gr.Accordion("Narrow the sources", open=False, elem_id="despatch-scope"), gr.Row():
            speaker = gr.Textbox(
                value="",
                label="Speaker",
                placeholder="e.g. Alice Hartley",
                max_lines=1,
                elem_id="despatch-speaker",
            )
            party = gr.Textbox(
                value="", label="Party", placeholder="e.g. Labour", max_lines=1, elem_id="despatch-party"
            )
            date_from = gr.Textbox(
                value="", label="From", placeholder="YYYY-MM-DD", max_lines=1, elem_id="despatch-from"
            )
            date_to = gr.Textbox(
                value="", label="To", placeholder="YYYY-MM-DD", max_lines=1, elem_id="despatch-to"
            )
        with gr.Row():
            clear = gr.ClearButton([box, chatbot], value="Clear", size="sm")
        gr.Examples(EXAMPLES, inputs=box, label="Try")
        gr.Markdown(service.indexed_line, elem_id="despatch-indexed")  # re-read at each page load

        def respond(
            message: str,
            history: list[dict[str, Any]],
            state: list[Any],
            speaker: str,
            party: str,
            date_from: str,
            date_to: str,
            request: gr.Request,
        ) -> Any:
            client = request.client.host if request and request.client else "unknown"
            narrow = {"speaker": speaker, "party": party, "date_from": date_from, "date_to": date_to}
            yield from chat(service, message, history or [], state or [], client, narrow)

        def on_like(state: list[Any], data: gr.LikeData, request: gr.Request) -> None:
            index = data.index[0] if isinstance(data.index, list | tuple) else data.index
            client = request.client.host if request and request.client else "unknown"
            session = (request.session_hash if request else None) or client
            # Gradio sends liked=True/False, or "" when the reader clicks the same thumb again.
            liked = data.liked if isinstance(data.liked, bool) else None
            vote(service, state or [], int(index), liked, session, client)

        box.submit(
            respond,
            [box, chatbot, answers, speaker, party, date_from, date_to],
            [chatbot, answers, box],
            api_name="ask",
        )
        chatbot.like(on_like, [answers], None)
        clear.click(lambda: [], None, answers)
    app.queue(default_concurrency_limit=service.settings.concurrency, max_size=service.settings.queue_size)
    return app
