"""The speaker or party a question is about, as retrieval filters.

"What did Alice Hartley say about the cap?" is about her words only, and "What did Labour
members say about asylum support?" about Labour speakers' words: when the name is a speaker or
party the index knows, retrieval is restricted to it, so the answer cites their own words. A
filter the caller gave (CLI, API, chat) is never replaced.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from index.filters import Filters, party_key, speaker_matches

_SAID = re.compile(
    r"\bwhat (?:did|does|do|has|have) (?:the )?(?P<who>[^?,]+?)\s+"
    r"(?:say|said|tell|argue|claim|think|want|propose|warn|ask|told|argued|claimed)\b",
    re.IGNORECASE,
)
_GROUP = re.compile(
    r"\s+(?:members?|mps?|ministers?|front ?bench(?:es|ers?)?|back ?bench(?:es|ers?)?|peers?|lords?|"
    r"politicians?|spokesm[ae]n|spokespeople|side|party|benches)$",
    re.IGNORECASE,
)


def person_in(question: str) -> str | None:
    """The speaker or party a "what did X say" question names, as written."""
    found = _SAID.search(question)
    if found is None:
        return None
    who = _GROUP.sub("", found.group("who").strip())
    return who or None


People = Callable[[], tuple[frozenset[str], frozenset[str]]]


def scoped(question: str, filters: Filters | None, people: People) -> Filters | None:
    """``filters`` with the speaker or party the question names, when the index knows it.

    ``people`` gives the index's speakers and parties (``IndexView.people``); it is only
    called for a question that names someone.
    """
    if filters is not None and filters.by_person:
        return filters
    who = person_in(question)
    if who is None:
        return filters
    speakers, parties = people()
    base = filters or Filters()
    if party_key(who) in {party_key(p) for p in parties}:
        return replace(base, party=who)
    if any(speaker_matches(who, s) for s in speakers):
        return replace(base, speaker=who)
    return filters
