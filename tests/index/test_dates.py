"""Dates: only ``YYYY-MM-DD`` naming a real day passes, wherever a date enters (pages, records,
the CLI, the API and the chat all check them here)."""

from __future__ import annotations

import pytest

from index.dates import first_date, real_date, record_date
from index.records import date_ord


@pytest.mark.parametrize("text", ["2018-04-26", "2016-02-29", "2000-02-29", "0001-01-01", "9999-12-31"])
def test_real_date_accepts_existing_days(text: str) -> None:
    assert real_date(text)


@pytest.mark.parametrize(
    "text",
    [
        "2018-02-29",  # not a leap year
        "1900-02-29",  # a century that is not a leap year
        "2018-02-30",
        "2018-13-01",
        "2018-04-31",
        "2018-00-10",
        "0000-01-01",  # no year 0
        "2018-4-26",  # unpadded
        "20100106",  # compact form
        "2010-W01-3",  # ISO week date
        "2018/04/26",
        "26-04-2018",
        " 2018-04-26",  # surrounding white space is not trimmed here
        "2018-04-26\n",
        "2018-04-26T10:00",  # a time is not a day
        "٢٠١٨-٠٤-٢٦",  # Arabic-Indic digits: int() would read them, text comparison would not
        "",
    ],
)
def test_real_date_refuses_every_other_form(text: str) -> None:
    assert not real_date(text)


def test_accepted_dates_order_the_same_as_text_and_as_integers() -> None:
    """The reason for the strict form: text order, ``date_ord`` order and calendar order agree."""
    days = ["2009-12-31", "2010-01-06", "2010-01-10", "2010-10-01", "2011-02-28"]
    assert all(real_date(d) for d in days)
    assert sorted(days) == days
    ords = [date_ord(d) or 0 for d in days]
    assert ords == sorted(ords)
    assert ords[1] == 20100106


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-04-26", "2018-04-26"),
        ("2018-04-26T09:30:00+01:00", "2018-04-26"),  # <time datetime=...>
        ("Published 2018-04-26 at noon", "2018-04-26"),
        ("2018-02-30T09:30:00Z", None),  # not a day
        ("Thu, 26 Apr 2018", None),  # no ISO date at all
        ("20180426", None),
        ("", None),
        (None, None),
    ],
)
def test_first_date_reads_the_iso_date_in_a_page_value(value: object, expected: str | None) -> None:
    assert first_date(value) == expected


def test_first_date_accepts_values_that_are_not_text() -> None:
    """Attribute values reach it as whatever the HTML parser gave; they are read as text."""
    assert first_date(20180426) is None

    class Stamp:
        def __str__(self) -> str:
            return "2010-01-06T00:00:00"

    assert first_date(Stamp()) == "2010-01-06"


def test_first_date_skips_an_impossible_date_for_a_later_real_one() -> None:
    assert first_date("2018-02-30, updated 2018-03-01") == "2018-03-01"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-04-26", "2018-04-26"),
        ("  2018-04-26 \n", "2018-04-26"),  # white space around the value is trimmed
        ("2018-04-26T10:00:00Z", "2018-04-26"),
        ("2018-04-26T10:00:00.123+01:00", "2018-04-26"),
        ("2018-04-26 10:00", "2018-04-26"),
        ("2018-04-26T10:00:00-05:00", "2018-04-26"),
    ],
)
def test_record_date_takes_a_day_with_an_optional_iso_time(value: str, expected: str) -> None:
    assert record_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2018-02-30",
        "2018-02-30T10:00:00Z",  # a time does not rescue an impossible day
        "2018-04-26 and more",
        "2018-04-26T10:00:00Zjunk",
        "on 2018-04-26",  # the whole value must be the date
        "26/04/2018",
        "20180426",
        "2018-4-26",
        "",
        "   ",
    ],
)
def test_record_date_refuses_anything_else(value: str) -> None:
    assert record_date(value) is None
