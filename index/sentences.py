"""Sentence and paragraph segmentation with character offsets."""

from __future__ import annotations

import re
from collections.abc import Iterator

# Words after which a full stop does not end a sentence.
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "hon",
    "rt",
    "no",
    "nos",
    "vol",
    "gen",
    "col",
    "lt",
    "sgt",
    "prof",
    "sir",
    "rev",
    "e.g",
    "i.e",
    "etc",
    "vs",
    "cf",
    "approx",
    "inc",
    "ltd",
    "co",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.k",
    "u.s",
}
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"“‘'(\[]?[A-Z0-9£$€])")
_PARAGRAPH = re.compile(r"\n\s*\n")
_LINE = re.compile(r"\n")


def paragraphs(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) of each blank-line-separated paragraph, trimmed of whitespace."""
    end = len(text) if end is None else end
    pos = start
    for match in _PARAGRAPH.finditer(text, start, end):
        yield from _trimmed(text, pos, match.start())
        pos = match.end()
    yield from _trimmed(text, pos, end)


def sentences(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence inside ``text[start:end]``; never crosses a paragraph."""
    for p_start, p_end in paragraphs(text, start, end):
        for l_start, l_end in _lines(text, p_start, p_end):
            pos = l_start
            for match in _END.finditer(text, l_start, l_end):
                if _is_abbreviation(text, pos, match.start()):
                    continue
                yield from _trimmed(text, pos, match.end())
                pos = match.end()
            yield from _trimmed(text, pos, l_end)


def _lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    # A single newline inside a paragraph ends a sentence only when the line ends like one
    # or the next line looks like a heading or list item; otherwise it is a soft wrap.
    pos = start
    for match in _LINE.finditer(text, start, end):
        before = text[pos : match.start()].rstrip()
        if before.endswith((".", "!", "?", ":", "”", '"', "’")) or len(before) < 60:
            yield pos, match.start()
            pos = match.end()
    yield pos, end


def _is_abbreviation(text: str, start: int, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = re.search(r"([A-Za-z.]+)$", text[start:dot])
    if word is None:
        return False
    token = word.group(1).lower().rstrip(".")
    return token in _ABBREVIATIONS or len(token) == 1


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        yield start + lead, start + lead + len(stripped)
