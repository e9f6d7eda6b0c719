"""Dates as Despatch takes them: exactly ``YYYY-MM-DD`` naming a day that exists. Dates are
compared as text and stored as ``YYYYMMDD`` integers (``index.records.date_ord``), which only
this form keeps right; every reader and front end checks dates here."""

from __future__ import annotations

import datetime
import re

_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_STRICT_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_RECORD_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ][0-9:.+\-Z]*)?")


def first_date(value: object) -> str | None:
    """The first real calendar date ``YYYY-MM-DD`` in ``value`` (a page's date meta), or None."""
    if value is None:
        return None
    return next((d for d in _ISO_DATE.findall(str(value)) if real_date(d)), None)


def real_date(text: str) -> bool:
    """Whether ``text`` is exactly ``YYYY-MM-DD`` and names a day that exists (2018-02-30 does
    not). ISO week dates (``2010-W01-3``) and compact dates (``20100106``) are refused too:
    dates are compared as text and as ``YYYYMMDD`` integers, which only this form keeps right."""
    if not _STRICT_DATE.fullmatch(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def record_date(value: str) -> str | None:
    """A record's date: ``YYYY-MM-DD`` (optionally with an ISO time after it) naming a real
    day, as ``YYYY-MM-DD``; None for anything else."""
    match = _RECORD_DATE.fullmatch(value.strip())
    return match.group(1) if match and real_date(match.group(1)) else None
