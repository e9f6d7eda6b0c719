"""Readers' thumbs up/down, kept for editors: one vote per answer per chat session.

Votes live in SQLite beside the store (``feedback.sqlite3`` in the store folder, or
``Settings.feedback_path``), one row per (session, answer); a later vote on the same answer
replaces the earlier one. Beyond ``Settings.feedback_max_rows`` the oldest tenth of the rows is
appended to ``feedback-archive.jsonl`` next to the database and deleted from it.

Row schema (also the columns of ``despatch feedback --format csv``):

    time       ISO 8601 UTC time of the (last) vote
    session    the chat session (Gradio's session hash); never a reader's IP address
    answer     position of the answer in that session's chat, and a hash of question and answer
    vote       "up" or "down"
    question   the question as asked
    text       the answer text shown
    refused    1 when Despatch said the sources don't answer, else 0
    answerer   "extractive" or "llm"
    citations  JSON list of the answer's citations (n, doc_id, title, quote, start, end, ...)
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

COLUMNS = ("time", "session", "answer", "vote", "question", "text", "refused", "answerer", "citations")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    time TEXT NOT NULL, session TEXT NOT NULL, answer TEXT NOT NULL, vote TEXT NOT NULL,
    question TEXT NOT NULL, text TEXT NOT NULL, refused INTEGER NOT NULL, answerer TEXT NOT NULL,
    citations TEXT NOT NULL, PRIMARY KEY (session, answer)
)
"""


class Feedback:
    """The vote database; thread-safe, and safe to share between server processes (SQLite)."""

    def __init__(self, path: Path, max_rows: int = 100_000) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute(_SCHEMA)
        return conn

    def record(self, session: str, position: int, answer: dict[str, Any], vote: str) -> None:
        """Store ``vote`` ("up"/"down") for the answer at ``position`` of ``session``'s chat."""
        if vote not in ("up", "down"):
            raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
        question = str(answer.get("question") or "")
        text = str(answer.get("answer") or "")
        row = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            session,
            _key(position, answer),
            vote,
            question,
            text,
            1 if answer.get("refused") else 0,
            str(answer.get("answerer") or ""),
            json.dumps(answer.get("citations") or [], ensure_ascii=False),
        )
        with self._lock, self._connect() as conn:
            conn.execute(
                "INSERT INTO votes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session, answer) "
                "DO UPDATE SET vote = excluded.vote, time = excluded.time",
                row,
            )
            (count,) = conn.execute("SELECT COUNT(*) FROM votes").fetchone()
            if count > self.max_rows:
                self._rotate(conn, count - self.max_rows + self.max_rows // 10)

    def retract(self, session: str, position: int, answer: dict[str, Any]) -> None:
        """Forget ``session``'s vote on the answer at ``position`` (the reader took it back)."""
        if not self.path.exists():
            return
        with self._lock, self._connect() as conn:
            conn.execute(
                "DELETE FROM votes WHERE session = ? AND answer = ?", (session, _key(position, answer))
            )

    def _rotate(self, conn: sqlite3.Connection, n: int) -> None:
        old = conn.execute(
            f"SELECT {', '.join(COLUMNS)}, rowid FROM votes ORDER BY time, rowid LIMIT ?", (n,)
        ).fetchall()
        archive = self.path.with_name(f"{self.path.stem}-archive.jsonl")
        with archive.open("a", encoding="utf-8") as fh:
            for row in old:
                fh.write(json.dumps(dict(zip(COLUMNS, row[:-1], strict=True)), ensure_ascii=False) + "\n")
        conn.executemany("DELETE FROM votes WHERE rowid = ?", [(row[-1],) for row in old])

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every kept vote, oldest first."""
        if not self.path.exists():
            return
        with self._lock, self._connect() as conn:
            found = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM votes ORDER BY time, rowid").fetchall()
        for row in found:
            yield dict(zip(COLUMNS, row, strict=True))

    def export(self, fmt: str) -> str:
        """All kept votes as JSONL (``refused`` a boolean, ``citations`` a list) or CSV (with a
        header; a cell a spreadsheet would run as a formula starts with an apostrophe)."""
        rows = list(self.rows())
        if fmt == "jsonl":
            typed = [
                {**r, "refused": bool(r["refused"]), "citations": json.loads(r["citations"])} for r in rows
            ]
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in typed)
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
            return out.getvalue()
        raise ValueError(f"format must be csv or jsonl, not {fmt!r}")


def _key(position: int, answer: dict[str, Any]) -> str:
    text = f"{answer.get('question') or ''}\x1f{answer.get('answer') or ''}"
    return f"{position}:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def _cell(value: Any) -> Any:
    """Defuse spreadsheet formulas (CSV injection): ``=``, ``+``, ``-``, ``@`` lead nothing."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def feedback_path(settings: Any) -> Path:
    """``Settings.feedback_path``, or ``feedback.sqlite3`` in the store folder."""
    return Path(settings.feedback_path or Path(settings.store) / "feedback.sqlite3")
