"""A scripted OpenAI-compatible chat server on loopback, for the LLM path's tests and gate.

A real HTTP server that streams pre-written completions as server-sent events, so LangChain's
real ``ChatOpenAI`` client talks to it exactly as to a model server. Replies come from a queue
(text to stream, ``("status", code)`` or ``("sleep", seconds)``), and when the queue is empty from
an optional ``responder(prompt)``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# One numbered passage in prompts/answer_user.j2: `[n] Title...:` then the text in triple quotes.
_PASSAGE = re.compile(r'^\[(\d+)\] [^\n]*:\n"""(.*?)"""', re.M | re.S)
_NEEDLE = re.compile(r"\{n:([^}]+)\}")


def passage_numbers(prompt: str) -> dict[int, str]:
    """The numbered passages an answer prompt carries."""
    return {int(m.group(1)): m.group(2) for m in _PASSAGE.finditer(prompt)}


def fill_markers(template: str, prompt: str) -> str:
    """Replace each ``{n:needle}`` with the number of the first passage holding ``needle``
    (``0``, a marker no passage has, when none does), as a model that read the passages would."""
    passages = passage_numbers(prompt)

    def number(m: re.Match[str]) -> str:
        return str(next((n for n, text in sorted(passages.items()) if m.group(1) in text), 0))

    return _NEEDLE.sub(number, template)


class Script:
    """What the server replies, in order, and every prompt it was sent."""

    def __init__(self, responder: Callable[[str], str] | None = None) -> None:
        self.replies: list[Any] = []
        self.prompts: list[str] = []
        self.responder = responder
        self.lock = threading.Lock()

    def next(self, prompt: str) -> Any:
        with self.lock:
            self.prompts.append(prompt)
            if self.replies:
                return self.replies.pop(0)
        return self.responder(prompt) if self.responder else "No reply was scripted."


def _chunk(delta: dict[str, str], finish: str | None) -> bytes:
    body = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            prompt = "\n".join(str(m.get("content")) for m in body["messages"])
            reply = script.next(prompt)
            if isinstance(reply, tuple) and reply[0] == "status":
                self.send_response(reply[1])
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error": {"message": "scripted failure"}}')
                return
            if isinstance(reply, tuple) and reply[0] == "sleep":
                time.sleep(reply[1])
                reply = "Too late."
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for i, word in enumerate(str(reply).split(" ")):
                self.wfile.write(_chunk({"content": word if i == 0 else " " + word}, None))
            self.wfile.write(_chunk({}, "stop") + b"data: [DONE]\n\n")

    return Handler


@contextmanager
def serve(script: Script) -> Iterator[str]:
    """Run the server for ``script``; yields its OpenAI base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
