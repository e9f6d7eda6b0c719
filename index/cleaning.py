"""Decoding bytes to text and repairing mojibake."""

from __future__ import annotations

import re
import unicodedata

# Control characters (C0 but tab, newline, carriage return; DEL; C1) and lone surrogates, which
# JSON can carry ("\ud800") but no encoder, tokenizer or database accepts.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def scrub(text: str) -> str:
    """``text`` without control characters or lone surrogates (tabs and newlines stay)."""
    return _CONTROL.sub("", text)


_MOJIBAKE_HINT = re.compile(
    "[\u00c2\u00c3\u00e2]"
    "[\u0080-\u00bf\u2018-\u203a\u20ac\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc]"
)


def looks_binary(data: bytes) -> bool:
    """More than 1% NUL bytes, or over 5% other control bytes, in the first 8 KB means binary
    (a stray NUL in a text file is removed by ``clean_text`` instead)."""
    head = data[:8192]
    if not head:
        return False
    odd = sum(1 for b in head if b < 9 or (13 < b < 32))
    return head.count(0) > len(head) // 100 or odd / len(head) > 0.05


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
