"""Decoding bytes, spotting binary files, repairing mojibake and scrubbing control characters."""

from __future__ import annotations

import pytest

from index.cleaning import clean_text, decode, looks_binary, scrub


def test_scrub_drops_control_characters_and_lone_surrogates() -> None:
    text = "a\x00b\x07c\x1bd\x7fe\x85f\x9fg\ud800h\udfffi"
    assert scrub(text) == "abcdefghi"


def test_scrub_keeps_tabs_newlines_and_ordinary_unicode() -> None:
    text = "Mr Speaker,\tI beg\r\nto move “that” £5 — café 日本 \u200b"
    assert scrub(text) == text


def test_scrub_of_only_control_characters_is_blank() -> None:
    """The chat refuses a question that is blank once scrubbed."""
    assert scrub("\x00\x01\x02\x7f") == ""


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", False),
        (b"Plain ASCII text.\n" * 50, False),
        ("Caf\u00e9 “quoted” — £5\n".encode() * 50, False),
        (b"a\tb\nc\rd" * 100, False),  # tabs, newlines and carriage returns are text
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), True),
        (bytes(range(256)), True),
        ("hello".encode("utf-16-le") * 20, True),  # UTF-16 without a BOM looks binary
    ],
)
def test_looks_binary(data: bytes, expected: bool) -> None:
    assert looks_binary(data) is expected


def test_looks_binary_nul_threshold_is_more_than_one_percent() -> None:
    """A stray NUL in a text file is cleaned, not refused: exactly 1% is still text."""
    assert not looks_binary(b"\x00" * 2 + b"a" * 198)
    assert looks_binary(b"\x00" * 3 + b"a" * 197)


def test_looks_binary_other_control_threshold_is_five_percent() -> None:
    assert not looks_binary(b"\x1b" * 5 + b"a" * 95)
    assert looks_binary(b"\x1b" * 6 + b"a" * 94)


def test_looks_binary_reads_only_the_first_8_kb() -> None:
    assert not looks_binary(b"a" * 8192 + bytes(8192))
    assert looks_binary(bytes(8192) + b"a" * 8192)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Home Secretary — “removals”".encode(), "Home Secretary — “removals”"),
        (b"\xef\xbb\xbfWith a BOM", "With a BOM"),  # the UTF-8 BOM is not part of the text
        ("UTF-16 — é".encode("utf-16"), "UTF-16 — é"),  # Python writes a BOM
        (b"\xff\xfeh\x00i\x00", "hi"),  # little-endian BOM
        (b"\xfe\xff\x00h\x00i", "hi"),  # big-endian BOM
        (b"caf\xe9 \x93quoted\x94 \x96 \xa35", "café “quoted” – £5"),  # Windows-1252
        (b"", ""),
    ],
)
def test_decode(data: bytes, expected: str) -> None:
    assert decode(data) == expected


def test_decode_prefers_utf8_over_windows_1252() -> None:
    """Bytes that are valid UTF-8 are read as UTF-8 even though cp1252 could read them too."""
    assert decode("é".encode()) == "é"  # cp1252 would give "Ã©"


def test_decode_raises_on_bytes_no_encoding_reads() -> None:
    """0x81 is undefined in Windows-1252 and not UTF-8: nothing is guessed further."""
    with pytest.raises(UnicodeDecodeError) as info:
        decode(b"abc\x81def")
    assert info.value.start == 3


def test_decode_raises_on_truncated_utf16() -> None:
    with pytest.raises(UnicodeDecodeError):
        decode(b"\xff\xfeh\x00i")


@pytest.mark.parametrize(
    ("damaged", "repaired"),
    [
        ("â€œRemovalsâ€\x9d, she said", "“Removals”, she said"),
        ("Ms Ruddâ€™s office", "Ms Rudd’s office"),
        ("the Â£5 charge", "the £5 charge"),
        ("a cafÃ© in the constituency", "a café in the constituency"),
        ("targets â€” or goals", "targets — or goals"),
    ],
)
def test_clean_text_repairs_mojibake(damaged: str, repaired: str) -> None:
    assert clean_text(damaged) == repaired


def test_clean_text_keeps_curly_quotes_and_correct_text() -> None:
    text = "“Nobody,” she said, “is above the law” — not even the £5 café."
    assert clean_text(text) == text


def test_clean_text_normalises_newlines() -> None:
    assert clean_text("one\r\ntwo\rthree\nfour") == "one\ntwo\nthree\nfour"


def test_clean_text_composes_to_nfc() -> None:
    assert clean_text("cafe\u0301") == "caf\u00e9"


def test_clean_text_drops_controls_and_turns_no_break_spaces_into_spaces() -> None:
    assert clean_text("a\x00b\x0cc\u00a0d\te") == "abc d\te"


def test_clean_text_leaves_clean_text_alone_and_is_idempotent() -> None:
    """Chunk offsets refer to cleaned text: cleaning twice changes nothing more."""
    text = "Mr Speaker, I beg to move that the Bill be now read a Second time.\n\nIt was read."
    assert clean_text(text) == text
    assert clean_text(clean_text("â€œxâ€\x9d\r\n")) == clean_text("â€œxâ€\x9d\r\n")
