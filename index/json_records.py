"""JSON records as documents: a JSON/JSONL file's records, and the documents API's bodies.

A record has ``text`` or ``html``, and optional ``id``, ``title``, ``source``, ``url``, ``date``,
``byline``, ``section`` and ``tags``; ids and addresses are checked (``safe_id``, ``safe_url``)
before anything reaches readers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from despatch.errors import InputError
from index.cleaning import clean_text
from index.dates import record_date
from index.documents import canonical, html_main_text, make_document, title_from_name
from index.records import Document, SourceFields, normal_tags

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_TEXT_FIELDS = ("title", "source", "url", "date", "byline", "section", "html", "text")


def safe_id(value: object) -> str:
    """A caller's document id, if it is a safe slug: 1 to 128 letters, digits, ``.``, ``_``,
    ``:`` or ``-``, starting with a letter or digit (a whole number is taken as its digits).
    Raises ``ValueError`` otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not SAFE_ID.fullmatch(value):
        raise ValueError(
            '"id" must be 1 to 128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit'
        )
    return value


def safe_url(value: str) -> str:
    """An absolute http(s) address, or ``ValueError`` (no ``javascript:`` links reach readers)."""
    from urllib.parse import urlsplit

    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError('"url" is not a valid address') from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise ValueError('"url" must be an absolute http:// or https:// address')
    return url


def record_document(
    record: dict[str, Any],
    *,
    origin: str = "",
    default_key: str,
    legacy_keys: tuple[str, ...] = (),
    default_title: str,
    default_source: str,
) -> Document:
    """A document from a JSON record (a JSON/JSONL file's line, or the documents API's body):
    ``text`` or ``html``, and optional ``id``, ``title``, ``source``, ``url``, ``date``,
    ``byline``, ``section`` and ``tags``. The caller's ``id`` *is* the document id; without one,
    the ``url``, else ``default_key``, keys it. A bad field raises ``ValueError`` naming it."""
    wrong = [k for k in _TEXT_FIELDS if record.get(k) is not None and not isinstance(record[k], str)]
    if wrong:
        raise ValueError(f'"{wrong[0]}" must be text')
    title = clean_text(record.get("title") or "").strip()
    date = None
    if isinstance(record.get("html"), str) and not isinstance(record.get("text"), str):
        page_title, date, body = html_main_text(clean_text(record["html"]))
        title = title or page_title
    else:
        body = record.get("text") or ""
    body = clean_text(body).strip()
    if not body:
        raise ValueError('missing or empty "text" (or "html" with no main text)')
    if record.get("date"):
        date = record_date(record["date"])
        if date is None:
            raise ValueError(f'"date" {record["date"][:40]!r} is not a real date written YYYY-MM-DD')
    url = safe_url(clean_text(record["url"])) if record.get("url") else None
    tags = record.get("tags") or []
    if (
        not isinstance(tags, list)
        or not all(isinstance(t, str) and len(t) <= 60 for t in tags)
        or len(tags) > 50
    ):
        raise ValueError('"tags" must be a list of at most 50 strings of at most 60 characters')
    doc_id = safe_id(record["id"]) if record.get("id") is not None else None
    return make_document(
        key=f"url:{url}" if url else default_key,
        doc_id=doc_id,
        legacy_keys=legacy_keys,
        origin=origin,
        text=body,
        fields=SourceFields(
            title=title or default_title,
            source=clean_text(record.get("source") or "").strip() or default_source,
            date=date,
            url=url,
            byline=clean_text(record.get("byline") or "").strip()[:200] or None,
            section=clean_text(record.get("section") or "").strip()[:100] or None,
        ),
        tags=normal_tags(tags),
    )


def read_records(
    path: Path, source: str, text: str, suffix: str, problems: list[InputError] | None
) -> list[Document]:
    """The documents of a JSON or JSONL file's text: a bad record goes to ``problems`` (or
    raises, without it); a file with no good record raises ``InputError``."""
    bad: list[InputError] = []
    records: list[tuple[int, object]] = []
    if suffix == ".jsonl":
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append((lineno, json.loads(line)))
            except json.JSONDecodeError as exc:
                bad.append(InputError(path, f"line {lineno}: malformed JSON ({exc.msg}); record skipped"))
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"line {exc.lineno}: malformed JSON ({exc.msg})") from exc
        items = data.get("records", data.get("documents", [data])) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise InputError(path, 'JSON must be a record, a list of records or {"records": [...]}')
        records = [(i + 1, item) for i, item in enumerate(items)]
    docs = []
    for lineno, record in records:
        where = f"line {lineno}" if suffix == ".jsonl" else f"record {lineno}"
        if not isinstance(record, dict):
            bad.append(InputError(path, f'{where}: expected an object with a "text" field; record skipped'))
            continue
        try:
            docs.append(
                record_document(
                    record,
                    origin=canonical(path),
                    default_key=f"{canonical(path)}#{lineno}",
                    legacy_keys=(
                        f"{source}#{record.get('id') or record.get('url') or lineno}",
                        *([f"id:{record['id']}"] if record.get("id") else []),
                    ),
                    default_title=f"{title_from_name(path)} {lineno}",
                    default_source=source,
                )
            )
        except ValueError as exc:
            bad.append(InputError(path, f"{where}: {exc}; record skipped"))
    if not docs:
        if bad:
            raise InputError(path, f"no good records ({len(bad)} bad; first: {bad[0].reason})")
        raise InputError(path, "no records found")
    if bad and problems is None:
        raise bad[0]
    if problems is not None:
        problems.extend(bad)
    return docs
