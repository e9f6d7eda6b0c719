"""TheyWorkForYou / parlparse debates XML (``debates*.xml``, root ``<publicwhip>``).

Each ``major-heading`` starts a debate: one ``Document`` (kind ``debate``) titled by the
heading, dated by the file, with one ``Section`` per ``speech`` (speaker, person id, party
from the members file, column, URL). ``minor-heading`` and ``oral-heading`` become heading
lines of the text. Each ``division`` becomes a ``Document`` of its own (kind ``division``)
whose text this module renders and reads back (``read_division``)::

    Division 41 (2010-01-06): Ayes 290, Noes 230.
    Debate: Immigration Control.
    Alice Hartley (Labour) voted aye.
    Bernard Okafor (Conservative) voted no (teller).

Lords divisions count ``Contents`` and ``Not-contents``. The XML is parsed by the standard
library with DTDs and entity declarations refused before parsing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from despatch.errors import InputError
from index.members import Members
from index.records import Document, Section, SourceFields

ROOT = "publicwhip"
_FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_ID_DATE = re.compile(r"/(\d{4}-\d{2}-\d{2})[a-z]?\.")
_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
_UNSAFE = re.compile(r"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_SMALL = frozenset(["a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"])
_COUNT_NAMES = {"aye": "Ayes", "no": "Noes", "content": "Contents", "not-content": "Not-contents"}
# <divisioncount>'s attribute for each vote, as parlparse writes it (Commons: ayes="287"
# noes="231" tellerayes="2" tellernoes="2"; Lords: content="..." not-content="..."), then the
# singular some older files use.
_COUNT_ATTRS = {
    "aye": ("ayes", "aye"),
    "no": ("noes", "no"),
    "content": ("content", "contents"),
    "not-content": ("not-content", "not-contents"),
}
_TELLER_ATTRS = {"aye": "tellerayes", "no": "tellernoes"}
_FOR = frozenset({"aye", "content"})  # a vote for the motion; "no" and "not-content" against

# Built per file: a document from its identity key, text and SourceFields (the reader sets
# ``source``; ``documents.make_document`` takes the rest).
MakeDocument = Callable[..., Document]


@dataclass(frozen=True)
class Vote:
    """One member's line of a division text: ``text[start:end]`` is the whole line."""

    name: str
    party: str | None
    vote: str  # aye, no, content or not-content
    teller: bool
    start: int
    end: int

    @property
    def for_motion(self) -> bool:
        return self.vote in _FOR


@dataclass(frozen=True)
class DivisionText:
    """A division document's text read back: its summary line, counts and votes."""

    number: int
    date: str | None
    summary: tuple[int, int]  # the "Division N (date): Ayes a, Noes b." line
    counts: dict[str, tuple[int, int, int]]  # vote -> (count, start, end of the number)
    votes: tuple[Vote, ...]


_SUMMARY = re.compile(r"^Division (\d+) \((\d{4}-\d{2}-\d{2}|undated)\): [^\n]*\.$", re.MULTILINE)
_COUNT = re.compile(r"\b(Ayes|Noes|Contents|Not-contents) (\d+)")
_VOTE = re.compile(
    r"^(?P<name>[^\n]+?)(?: \((?P<party>[^()\n]*)\))? voted (?P<vote>aye|no|content|not-content)"
    r"(?P<teller> \(teller\))?\.$",
    re.MULTILINE,
)


def read_division(text: str) -> DivisionText | None:
    """The division a ``division`` document's text renders (None: not one)."""
    head = _SUMMARY.search(text)
    if head is None:
        return None
    counts: dict[str, tuple[int, int, int]] = {}
    for m in _COUNT.finditer(text, head.start(), head.end()):
        vote = {v: k for k, v in _COUNT_NAMES.items()}[m.group(1)]
        counts[vote] = (int(m.group(2)), m.start(2), m.end(2))
    votes = tuple(
        Vote(m["name"], m["party"], m["vote"], bool(m["teller"]), m.start(), m.end())
        for m in _VOTE.finditer(text, head.end())
    )
    date = head.group(2) if head.group(2) != "undated" else None
    return DivisionText(int(head.group(1)), date, (head.start(), head.end()), counts, votes)


@dataclass
class _Debate:
    key: str
    title: str
    url: str | None
    parts: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    length: int = 0
    speeches: int = 0

    def add(self, text: str) -> tuple[int, int]:
        """Append a block of text (blocks are separated by a blank line); its offsets."""
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        return start, self.length

    @property
    def text(self) -> str:
        return "".join(self.parts)


def read_debates(path: Path, text: str, make: MakeDocument, members: Members | None = None) -> list[Document]:
    """The debates and divisions of one parlparse file; ``InputError`` when it is not one."""
    if _UNSAFE.search(text):
        raise InputError(path, "XML with a DTD or entity declarations is refused; parlparse files have none")
    try:
        root = ET.fromstring(_DECLARATION.sub("", text, count=1))
    except ET.ParseError as exc:
        line, column = exc.position
        raise InputError(
            path, f"malformed XML at line {line}, column {column + 1}; fix or re-download the file"
        ) from exc
    if root.tag != ROOT:
        raise InputError(path, f"XML root is <{root.tag}>, not <{ROOT}>; only parlparse debates XML is read")
    date = _file_date(path, root)
    docs: list[Document] = []
    debate: _Debate | None = None
    pending: list[str] = []  # oral headings waiting for the debate they introduce
    count = 0

    def finish() -> None:
        nonlocal debate
        if debate is not None and debate.sections:
            docs.append(
                make(
                    key=debate.key,
                    text=debate.text,
                    fields=SourceFields(title=debate.title, date=date, url=debate.url),
                    kind="debate",
                    sections=tuple(debate.sections),
                )
            )
        debate = None

    def start(el: ET.Element, title: str) -> _Debate:
        nonlocal count
        count += 1
        key = f"parlparse:{el.get('id')}" if el.get("id") else f"{path.resolve().as_posix()}#debate-{count}"
        new = _Debate(key=key, title=title, url=el.get("url") or None)
        for heading in pending:
            new.add(heading)
        pending.clear()
        return new

    for el in root:
        tag = el.tag
        if tag == "oral-heading":
            finish()
            heading = _title(_text(el))
            if heading:
                pending.append(heading)
        elif tag == "major-heading":
            finish()
            debate = start(el, _title(_text(el)) or f"Debates {date or path.stem}")
        elif tag == "minor-heading":
            heading = _title(_text(el))
            if debate is None:
                debate = start(el, heading or f"Debates {date or path.stem}")
            elif heading:
                debate.add(heading)
        elif tag == "speech":
            if debate is None:
                debate = start(el, f"Debates {date or path.stem}")
            _speech(debate, el, date, members)
        elif tag == "division":
            title = debate.title if debate is not None else f"Debates {date or path.stem}"
            url = el.get("url") or _last_url(debate)
            division = _division(path, el, title, url, date, members, make)
            if division is not None:
                docs.append(division)
    finish()
    if not docs:
        raise InputError(path, "parlparse XML with no speeches or divisions")
    return docs


def _speech(debate: _Debate, el: ET.Element, date: str | None, members: Members | None) -> None:
    paragraphs: list[str] = []
    for child in el:
        if child.tag == "table":
            rows = [" ".join(_text(cell) for cell in row) for row in child.iter("tr")]
            paragraphs.extend(r for r in rows if r)
        else:
            para = _text(child)
            if para:
                paragraphs.append(para)
    if not paragraphs and el.text and el.text.strip():
        paragraphs.append(" ".join(el.text.split()))
    if not paragraphs:
        return
    speaker = " ".join((el.get("speakername") or "").split()) or None
    if el.get("nospeaker") == "true":
        speaker = None
    person = el.get("person_id") or el.get("speakerid") or None
    if members is not None and person:
        person = members.person(person) or person
    party = members.party(person, date) if members is not None and speaker else None
    header = ""
    if speaker:
        header = f"{speaker} ({party}):\n" if party else f"{speaker}:\n"
    block, end = debate.add(header + "\n".join(paragraphs))
    start = block + len(header)
    debate.speeches += 1
    debate.sections.append(
        Section(
            start,
            end,
            speaker=speaker,
            party=party,
            speech=debate.speeches,
            person_id=person if speaker else None,
            column=el.get("colnum") or None,
            url=el.get("url") or None,
        )
    )


def _division(
    path: Path,
    el: ET.Element,
    debate_title: str,
    url: str | None,
    file_date: str | None,
    members: Members | None,
    make: MakeDocument,
) -> Document | None:
    number_text = (el.get("divnumber") or "").strip()
    if not number_text.isdigit():
        return None  # a division without a number cannot be asked about; its debate keeps its text
    number = int(number_text)
    date = _normal(el.get("divdate")) or file_date
    count_el = el.find("divisioncount")
    lists = [child for child in el if child.tag in ("mplist", "lordlist")]
    lords = any(lst.tag == "lordlist" for lst in lists) or (
        count_el is not None and count_el.get("content") is not None
    )
    order = ("content", "not-content") if lords else ("aye", "no")
    counts: dict[str, int | None] = {}
    tellers: dict[str, int] = {}
    for vote in order:
        given = [count_el.get(a) or "" for a in _COUNT_ATTRS[vote]] if count_el is not None else []
        raw = next((g for g in given if g), "")
        counts[vote] = int(raw) if raw.strip().isdigit() else None
        told = (count_el.get(_TELLER_ATTRS.get(vote, "")) if count_el is not None else None) or ""
        if told.strip().isdigit():
            tellers[vote] = int(told)
    lines: list[str] = []
    for lst in lists:
        for voter in lst:
            if voter.tag not in ("mpname", "lord"):
                continue
            vote = (voter.get("vote") or lst.get("vote") or "").strip().lower()
            if vote not in _COUNT_NAMES:
                continue
            name = _voter_name(_text(voter), voter.tag)
            if not name:
                continue
            person = voter.get("person_id") or voter.get("id") or None
            party = members.party(person, date) if members is not None else None
            who = f"{name} ({party})" if party else name
            teller = " (teller)" if voter.get("teller") == "yes" else ""
            lines.append(f"{who} voted {vote}{teller}.")
    for vote in order:
        if counts[vote] is None:  # no divisioncount: the lists are the count (tellers aside)
            counts[vote] = sum(1 for ln in lines if ln.endswith((f" voted {vote}.",)))
    summary = ", ".join(f"{_COUNT_NAMES[v]} {counts[v]}" for v in order)
    head = f"Division {number} ({date or 'undated'}): {summary}."
    intro = f"{head}\nDebate: {debate_title.rstrip('.')}."
    if tellers:
        intro += (
            "\nTellers: " + ", ".join(f"{_COUNT_NAMES[v]} {tellers[v]}" for v in order if v in tellers) + "."
        )
    text = intro + ("\n" + "\n".join(lines) if lines else "")
    sections = [Section(0, len(intro), url=url, column=el.get("colnum") or None, division=number)]
    if lines:
        sections.append(
            Section(len(intro) + 1, len(text), url=url, column=el.get("colnum") or None, division=number)
        )
    key = f"parlparse:{el.get('id')}" if el.get("id") else f"{path.resolve().as_posix()}#division-{number}"
    return make(
        key=key,
        text=text,
        fields=SourceFields(title=f"Division {number}: {debate_title}", date=date, url=url),
        kind="division",
        sections=tuple(sections),
    )


def _voter_name(name: str, tag: str) -> str:
    # Older Commons lists write "Abbott, Diane"; Lords' titles ("Adonis, L.") stay as written.
    if tag == "mpname" and name.count(",") == 1:
        last, first = (p.strip() for p in name.split(","))
        if first and last and not first.endswith("."):
            return f"{first} {last}"
    return name


def _last_url(debate: _Debate | None) -> str | None:
    if debate is None:
        return None
    return next((s.url for s in reversed(debate.sections) if s.url), debate.url)


def _text(el: ET.Element) -> str:
    return " ".join("".join(el.itertext()).split())


def _title(text: str) -> str:
    """Commons headings come in capitals ("IMMIGRATION CONTROL"): shown in title case."""
    text = text.strip(" -–—")
    if not text or not text.isupper():
        return text
    words = text.lower().split()
    return " ".join(w if i and w in _SMALL else _capital(w) for i, w in enumerate(words))


def _capital(word: str) -> str:
    at = next((i for i, ch in enumerate(word) if ch.isalpha()), 0)
    return word[:at] + word[at : at + 1].upper() + word[at + 1 :]


def _normal(value: str | None) -> str | None:
    match = _FILE_DATE.search(value or "")
    return match.group(1) if match else None


def _file_date(path: Path, root: ET.Element) -> str | None:
    """The sitting's date: from the file name (``debates2010-01-06a.xml``), else from the first
    division's ``divdate`` or the first element id that carries one."""
    found = _normal(path.name)
    if found:
        return found
    for el in root:
        found = _normal(el.get("divdate"))
        if found:
            return found
        match = _ID_DATE.search(el.get("id") or "")
        if match:
            return match.group(1)
    return None
