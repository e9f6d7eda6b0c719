"""Reading source files into cleaned ``Document`` records.

Supported: ``.txt``/``.md`` articles (optionally opening with ``date YYYY-MM-DD``),
Hansard-style debate transcripts (``.txt`` with ``Date:``/``Agenda:`` headers and
``[speech N] Name (Party):`` turns), ``.html``/``.htm`` pages, ``.json``/``.jsonl`` records
(``index.json_records``) and TheyWorkForYou/parlparse debates ``.xml`` (``index.parlparse``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from despatch.errors import InputError
from index.cleaning import clean_text, decode, looks_binary
from index.dates import first_date
from index.documents import canonical, html_main_text, make_document, title_from_name
from index.members import Members
from index.records import Document, Section, SourceFields

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".xml"}

_DATE_HEADER = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})[ \t]*\n?[ \t]*", re.IGNORECASE)
_TURN = re.compile(r"^\[speech (\d+)\]\s+(.+?)(?:\s+\(([^)]*)\))?:[ \t]*$", re.MULTILINE)
_HEADER_LINE = re.compile(r"^(Date|Agenda|Source|Note):\s*(.*)$", re.MULTILINE)


def source_name(path: Path) -> str:
    """The path as the store records it: relative to the working directory when inside it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def discover(paths: Iterable[Path]) -> Iterator[Path | InputError]:
    """Files under the given paths in a stable order; problems come back as errors."""
    for path in paths:
        if not path.exists():
            yield InputError(path, "no such file or folder; check the path")
        elif path.is_dir():
            try:
                found = sorted(p for p in path.rglob("*") if p.is_file())
            except OSError as exc:
                yield InputError(path, f"cannot list folder ({exc.strerror})")
                continue
            for file in found:
                if file.name.startswith(".") or file.name.upper() in {"SOURCES.MD", "README.MD"}:
                    continue
                yield file
        else:
            yield path


def read_file(
    path: Path,
    max_bytes: int,
    problems: list[InputError] | None = None,
    members: Members | None = None,
) -> list[Document]:
    """Read one file into documents; raise ``InputError`` with the reason when it is bad.

    In JSON and JSONL files each record is its own document: a bad record is appended to
    ``problems`` (with its line or record number) and skipped, and the good ones are returned;
    without ``problems`` the first bad record raises. A file with no good record raises. In a
    parlparse XML file each debate and each division is a document; ``members`` gives their
    speakers and voters a party.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise InputError(
            path, f"unsupported file type {suffix or '(none)'}; use one of {', '.join(sorted(SUPPORTED))}"
        )
    try:
        if path.is_symlink() and not path.exists():
            raise InputError(path, "a symbolic link to a file that does not exist")
        if not path.exists():
            raise InputError(path, "no longer exists (deleted or moved while the ingest ran)")
        if not path.is_file():
            raise InputError(path, "not a regular file; pass text files or folders")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                path,
                f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit "
                "(raise DESPATCH_MAX_FILE_MB to accept it)",
            )
        if not os.access(path, os.R_OK):
            raise InputError(path, "permission denied; make the file readable")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from exc
    if not data.strip():
        raise InputError(path, "file is empty")
    if looks_binary(data) and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(path, "file looks binary, not text")
    try:
        text = clean_text(decode(data))
    except UnicodeDecodeError as exc:
        raise InputError(
            path,
            f"not UTF-8, UTF-16 or Windows-1252 text (a byte at offset {exc.start} cannot be "
            "decoded); save the file as UTF-8",
        ) from exc
    if not text.strip():
        raise InputError(path, "file holds no text after cleaning")
    source = source_name(path)
    if suffix in {".json", ".jsonl"}:
        # imported here, not at the top: index.json_records imports this module
        from index.json_records import read_records

        return read_records(path, source, text, suffix, problems)
    if suffix in {".html", ".htm"}:
        return [_read_html(path, source, text)]
    if suffix == ".xml":
        from index.parlparse import read_debates

        def make(*, fields: SourceFields, **rest: Any) -> Document:
            return make_document(origin=canonical(path), fields=replace(fields, source=source), **rest)

        return read_debates(path, text, make, members)
    if _TURN.search(text) and _HEADER_LINE.search(text):
        return [_read_transcript(path, source, text)]
    return [_read_article(path, source, text)]


def _file_document(
    path: Path, text: str, fields: SourceFields, kind: str = "article", sections: tuple[Section, ...] = ()
) -> Document:
    """A document that is a whole file: its identity is the file's canonical path (earlier
    versions keyed it by ``fields.source``, the path relative to the working directory)."""
    where = canonical(path)
    return make_document(
        key=where,
        legacy_keys=(fields.source,),
        origin=where,
        text=text,
        fields=fields,
        kind=kind,
        sections=sections,
    )


def _read_article(path: Path, source: str, text: str) -> Document:
    date = None
    title = None
    header = _DATE_HEADER.match(text)
    if header:
        date = header.group(1)
        text = text[header.end() :]
    text = text.strip()
    first, _, rest = text.partition("\n")
    heading = first.strip()
    if heading.startswith("#"):
        title = heading.lstrip("#").strip()
        text = rest.strip()
    elif (
        rest.strip()
        and 0 < len(heading) <= 150
        and not heading.endswith((".", "”", '"', ":", ";", ","))
        and not header
    ):
        # The news-dump form: a headline alone on the first line.
        title = heading
        text = rest.strip()
    if not text:
        raise InputError(path, "file has a header but no body text")
    return _file_document(
        path, text, SourceFields(title=title or title_from_name(path), source=source, date=date)
    )


def _read_transcript(path: Path, source: str, text: str) -> Document:
    headers = {m.group(1).lower(): m.group(2).strip() for m in _HEADER_LINE.finditer(text)}
    turns = list(_TURN.finditer(text))
    sections = []
    for i, turn in enumerate(turns):
        start = turn.end()
        end = turns[i + 1].start() if i + 1 < len(turns) else len(text)
        body = text[start:end]
        lead = len(body) - len(body.lstrip())
        start, end = start + lead, start + len(body.rstrip())
        if end > start:
            sections.append(
                Section(
                    start,
                    end,
                    speaker=turn.group(2).strip(),
                    party=(turn.group(3) or "").strip() or None,
                    speech=int(turn.group(1)),
                )
            )
    if not sections:
        raise InputError(path, "transcript has speech headers but no speech text")
    agenda = headers.get("agenda", "")
    title = re.sub(r"\s*\[.*\]\s*$", "", agenda) or title_from_name(path)
    fields = SourceFields(title=title, source=source, date=first_date(headers.get("date")))
    return _file_document(path, text, fields, kind="transcript", sections=tuple(sections))


def _read_html(path: Path, source: str, text: str) -> Document:
    title, date, body = html_main_text(text)
    if not body:
        raise InputError(path, "HTML page has no main text")
    return _file_document(
        path, body, SourceFields(title=title or title_from_name(path), source=source, date=date)
    )
