"""Sentence and paragraph segmentation (``index.sentences``): offsets that slice out exactly the
sentence, abbreviations and initials, closing quotes, soft wraps, paragraphs and windows."""

from __future__ import annotations

import itertools

import pytest

from index.sentences import paragraphs, sentences


def _split(text: str, start: int = 0, end: int | None = None) -> list[str]:
    """The sentences as text, checking each span is trimmed and inside the window."""
    spans = list(sentences(text, start, end))
    limit = len(text) if end is None else end
    for s, e in spans:
        assert start <= s < e <= limit
        assert text[s:e] == text[s:e].strip()
    return [text[s:e] for s, e in spans]


def test_offsets_slice_out_each_sentence() -> None:
    text = "  The Home Office set a target.   Ministers missed it!  Was anyone told?  "
    spans = list(sentences(text))
    assert spans == [(2, 31), (34, 54), (56, 72)]
    assert [text[s:e] for s, e in spans] == [
        "The Home Office set a target.",
        "Ministers missed it!",
        "Was anyone told?",
    ]


def test_titles_initials_and_abbreviations_do_not_end_a_sentence() -> None:
    text = (
        "Dr. Smith met the U.K. Government. J. K. Rowling wrote it. "
        "Talks e.g. about tax. They met at No. 10 Downing Street. Sir. Keir arrived."
    )
    assert _split(text) == [
        "Dr. Smith met the U.K. Government.",
        "J. K. Rowling wrote it.",
        "Talks e.g. about tax.",
        "They met at No. 10 Downing Street.",
        "Sir. Keir arrived.",
    ]


def test_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    text = 'He said "Never." Then he left. She said \u201cGo.\u201d (Perhaps so.) Was it fair?! Yes.'
    assert _split(text) == [
        'He said "Never."',
        "Then he left.",
        "She said \u201cGo.\u201d",
        "(Perhaps so.)",
        "Was it fair?!",
        "Yes.",
    ]


def test_a_sentence_may_start_with_a_number_or_currency_but_not_lower_case() -> None:
    assert _split("Costs rose by 5. 2010 was worse. Fees were \u00a35. \u00a36 next year.") == [
        "Costs rose by 5.",
        "2010 was worse.",
        "Fees were \u00a35.",
        "\u00a36 next year.",
    ]
    # A decimal point, or a full stop before a lower-case word, ends nothing.
    assert _split("Costs rose to 5.5 per cent. the rest is lower case.") == [
        "Costs rose to 5.5 per cent. the rest is lower case."
    ]


def test_text_without_a_final_stop_is_still_a_sentence() -> None:
    assert _split("The vote passed. The House rose") == ["The vote passed.", "The House rose"]


def test_sentences_never_cross_a_paragraph() -> None:
    text = "First paragraph without a stop\n\n  \nSecond paragraph. It has two sentences."
    assert _split(text) == ["First paragraph without a stop", "Second paragraph.", "It has two sentences."]


def test_a_long_wrapped_line_continues_the_sentence() -> None:
    wrapped = "This line is long enough to be a soft wrap in the middle of a sentence that goes"
    assert len(wrapped) >= 60
    text = wrapped + "\non to the next line. Second sentence."
    assert _split(text) == [wrapped + "\non to the next line.", "Second sentence."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Introduction\nThe minister spoke.", ["Introduction", "The minister spoke."]),
        ("Items:\n- one\n- two", ["Items:", "- one", "- two"]),
        (
            "A line that ends like a sentence, though it is long enough to wrap.\nNext one.",
            ["A line that ends like a sentence, though it is long enough to wrap.", "Next one."],
        ),
    ],
)
def test_a_short_line_or_one_ending_in_punctuation_ends_at_its_newline(
    text: str, expected: list[str]
) -> None:
    assert _split(text) == expected


def test_window_gives_absolute_offsets_inside_it_only() -> None:
    text = "Alpha one. Beta two. Gamma three."
    assert list(sentences(text, 11, 20)) == [(11, 20)]
    assert _split(text, 11) == ["Beta two.", "Gamma three."]
    assert _split(text, 0, 10) == ["Alpha one."]


def test_paragraphs_are_trimmed_and_split_on_blank_lines() -> None:
    text = "  One. Two.\n \t\n  Three.\nStill three.  \n\n\n"
    spans = list(paragraphs(text))
    assert [text[s:e] for s, e in spans] == ["One. Two.", "Three.\nStill three."]
    assert spans[0] == (2, 11)
    # A window restricts them, offsets staying absolute.
    start = text.index("Three")
    assert list(paragraphs(text, start)) == [spans[1]]


@pytest.mark.parametrize("text", ["", "   ", "\n\n \n", "\t"])
def test_blank_text_has_no_sentences_or_paragraphs(text: str) -> None:
    assert list(sentences(text)) == []
    assert list(paragraphs(text)) == []


def test_segmentation_covers_every_word_in_order() -> None:
    """No word is lost or repeated: the sentences, joined, are the text's words."""
    text = (
        'Mr. Green asked a question. The Minister replied:\n"We will act."\n\n'
        "Home Office figures, published on 26 Apr. 2018, showed 12,000 removals! Really?"
    )
    spans = list(sentences(text))
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert " ".join(text[s:e] for s, e in spans).split() == text.split()
