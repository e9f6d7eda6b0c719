"""Building ``Document`` records: stable ids, a file's identity and title, versions from
content, and an HTML page's main text. Shared by every reader (``index.reading``,
``index.json_records``), so that none of them imports another."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from index.dates import first_date
from index.records import Document, Section, SourceFields


def stable_id(*parts: str) -> str:
    """A short deterministic id from its parts."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def canonical(path: Path) -> str:
    """A file's identity: its absolute path with symbolic links resolved, whatever the working
    directory was when it was ingested."""
    return path.resolve().as_posix()


# The source fields every version has hashed, in this order; any other field joins the hash
# only when set, so documents without it keep the versions they had.
_VERSIONED = ("title", "date", "url")
_STORY_FIELDS = ("byline", "section")


def make_document(
    *,
    key: str,
    text: str,
    fields: SourceFields,
    doc_id: str | None = None,
    legacy_keys: tuple[str, ...] = (),
    origin: str = "",
    tags: tuple[str, ...] = (),
    kind: str = "article",
    sections: tuple[Section, ...] = (),
) -> Document:
    """Build a document of ``fields``'s source whose version comes from its content and whose
    id is ``doc_id`` (a caller's own id) or else derived from ``key``.

    ``legacy_keys`` are what earlier versions of Despatch derived the id from (the path relative
    to the working directory, a hash of the caller's id); documents under those ids are replaced
    when this one is written.
    """
    if not sections:
        body_start = len(text) - len(text.lstrip())
        sections = (Section(body_start, len(text.rstrip())),)
    # The displayed source (a path relative to where the ingest ran) is left out: ingesting an
    # unchanged file from another directory or through a link writes nothing. Sections' links,
    # columns and person ids (parlparse), and a story's byline, section and tags, are not in
    # the text, so they join the version; documents without them keep the versions they had.
    given = fields.source_fields()
    parts = [text, *(given[name] or "" for name in _VERSIONED), kind]
    linked = [s for s in sections if s.person_id or s.column or s.url or s.division is not None]
    if linked:
        parts.append(repr([(s.start, s.party, s.person_id, s.column, s.url, s.division) for s in linked]))
    if tags or any(given[name] for name in _STORY_FIELDS):
        parts += [*(given[name] or "" for name in _STORY_FIELDS), "|".join(tags)]
    unversioned = ("source", *_VERSIONED, *_STORY_FIELDS)
    parts += [f"{name}={value}" for name, value in given.items() if name not in unversioned and value]
    version = stable_id(*parts)
    doc_id = doc_id or stable_id(key)
    legacy = tuple(dict.fromkeys(stable_id(k) for k in legacy_keys if stable_id(k) != doc_id))
    return Document(
        **given,
        id=doc_id,
        replaces=legacy,
        origin=origin,
        text=text,
        tags=tags,
        kind=kind,
        sections=sections,
        version=version,
    )


def title_from_name(path: Path) -> str:
    path = path.resolve()  # a symbolic link's target names the document, not the link
    stem = re.sub(r"^\d{4}-\d{2}-\d{2}[-_ ]*", "", path.stem)
    words = re.sub(r"[-_]+", " ", stem).strip()
    return (words[:1].upper() + words[1:]) if words else path.name


def html_main_text(text: str) -> tuple[str, str | None, str]:
    """An HTML page's title, publication date and main text (paragraphs separated by blank
    lines); navigation, scripts, forms and the like are left out."""
    from bs4 import BeautifulSoup  # lazily: only HTML needs it

    soup = BeautifulSoup(text, "html.parser")
    date = None
    time_tag = soup.find("time", attrs={"datetime": True})
    if time_tag is not None:
        date = first_date(time_tag.get("datetime"))
    if date is None:
        meta_attrs: tuple[dict[str, Any], ...] = (
            {"property": "article:published_time"},
            {"name": "date"},
            {"itemprop": "datePublished"},
            {"name": "pubdate"},
        )
        for attrs in meta_attrs:
            meta = soup.find("meta", attrs=attrs)
            if meta is not None and meta.get("content"):
                date = first_date(meta.get("content"))
                if date:
                    break
    h1 = soup.find("h1")
    title = h1.get_text(" ", strip=True) if h1 else ""
    if not title and soup.title is not None:
        title = soup.title.get_text(" ", strip=True)
    for tag in soup(
        [
            "script",
            "style",
            "nav",
            "header",
            "footer",
            "aside",
            "noscript",
            "form",
            "iframe",
            "svg",
            "template",
            "head",
            "button",
        ]
    ):
        tag.decompose()
    if h1 is not None and h1.parent is not None:
        h1.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    blocks = []
    for line in root.get_text("\n").split("\n"):
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line:
            blocks.append(line)
    return title, date, "\n\n".join(blocks)
