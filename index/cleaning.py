"""Decoding bytes to text and repairing mojibake."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MOJIBAKE_HINT = re.compile(
    "[\u00c2\u00c3\u00e2]"
    "[\u0080-\u00bf\u2018-\u203a\u20ac\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc]"
)


def looks_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KB, or mostly non-text bytes, means binary."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    if not head:
        return False
    odd = sum(1 for b in head if b < 9 or (13 < b < 32))
    return odd / len(head) > 0.05


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM); UTF-16 when it starts with a byte-order mark; else
    Windows-1252. Raises ``UnicodeDecodeError`` (naming the first byte that Windows-1252 leaves
    undefined) when none of them decodes the bytes: nothing is guessed further."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def clean_text(text: str) -> str:
    """Repair mojibake (``â€œ`` -> ``“``), normalise newlines and drop control characters."""
    if _MOJIBAKE_HINT.search(text):
        import ftfy  # imported lazily: only needed for damaged text

        text = ftfy.fix_text(text, uncurl_quotes=False, fix_line_breaks=False)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = text.replace("\u00a0", " ")
    return text
