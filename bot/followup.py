"""Rule-based resolution of follow-up questions against the conversation so far."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.records import Question
from index.cleaning import scrub

_PERSON_PRONOUN = re.compile(r"\b(she|he|her|him|hers|his)\b", re.IGNORECASE)
_THING_PRONOUN = re.compile(r"\b(it|they|them|their|this|that|these|those)\b", re.IGNORECASE)
_ELLIPSIS = re.compile(r"^\s*(?:and|what about|how about|and what about|what of)\b\s*(.*?)\??\s*$", re.I)
_ENTITY = re.compile(r"\b(?:[A-Z][\w’'-]+|of|the|for)(?:\s+(?:[A-Z][\w’'-]+|of|for))*")
_TOKEN_KINDS = (
    re.compile(r"\b\d{4}[/-]\d{2}\b"),
    re.compile(r"\b(?:19|20)\d\d\b"),
    re.compile(r"\b\d[\d,]*\b"),
)
_RELATIVE_TIME = re.compile(
    r"\b(?:in |for |during |by |over )?(?P<rel>the following year|the next year|the year after|"
    r"the previous year|the year before|the preceding year|that year|the same year|that period|"
    r"the same period|that time|the same time)\b",
    re.I,
)
_YEAR = re.compile(r"\b((?:19|20)\d\d)(?:/(\d\d))?\b")
_QUESTION_START = {"What", "Who", "When", "Where", "Why", "How", "Which", "Did", "Does", "Is", "Was", "Were"}


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str = ""


def normalise_history(history: Sequence[Any] | None) -> list[Turn]:
    """Accept earlier questions as strings, ``{"question", "answer"}`` (an answer's own JSON too,
    whose short answer, when it has one, stands for the answer), or chat ``{"role", "content"}``."""
    turns: list[Turn] = []
    for item in history or []:
        if isinstance(item, str):
            turns.append(Turn(scrub(item)))
        elif isinstance(item, dict) and "question" in item:
            short = item.get("short_answer")
            said = short.get("text") if isinstance(short, dict) and not item.get("refused") else None
            answer = "" if item.get("refused") else str(said or item.get("answer") or "")
            turns.append(Turn(scrub(str(item["question"])), scrub(answer)))
        elif isinstance(item, dict) and item.get("role") == "user":
            turns.append(Turn(scrub(str(item.get("content", "")))))
        elif isinstance(item, dict) and item.get("role") == "assistant" and turns:
            turns[-1] = Turn(turns[-1].question, scrub(str(item.get("content", ""))))
        elif isinstance(item, list | tuple) and item:
            turns.append(Turn(scrub(str(item[0])), scrub(str(item[1])) if len(item) > 1 and item[1] else ""))
    return [t for t in turns if t.question.strip()]


def entities(text: str) -> list[str]:
    """Capitalised phrases, longest first within the text order, sans question openers."""
    found = []
    for match in _ENTITY.finditer(text):
        phrase = match.group(0).strip()
        words = phrase.split()
        while words and (words[0] in _QUESTION_START or words[0].lower() in {"of", "the", "for"}):
            words = words[1:]
        while words and words[-1].lower() in {"of", "the", "for"}:
            words = words[:-1]
        if words and any(w[:1].isupper() for w in words):
            found.append(" ".join(words))
    return found


_WHO_QUESTION = re.compile(r"^\s*(?:and\s+)?who(?:m)?\b|^\s*which (?:mp|member|minister|politician)\b", re.I)
_WHO_IS = re.compile(r"^\s*(?:and\s+)?who\s+(?:is|was|were|are)\s+(?P<role>the\s+.+?)\s*\??\s*$", re.I)


def resolve(question: str, history: Sequence[Any] | None) -> Question:
    """The question made self-contained; its words unchanged when they already are, or without
    history.

    "she"/"he" after a "who" question mean the person who answered it: the previous turn's
    answer names them. A bare history of strings holds no answer, and nothing is asked again
    to find one: after "Who is the Home Secretary?" "she" is the Home Secretary.
    """
    turns = normalise_history(history)
    if not turns:
        return Question(question.strip())
    previous = turns[-1].question.strip()
    q, swapped = _relative_time(question.strip(), turns)
    if swapped is not None:
        previous = swapped
        q = re.sub(r"^\s*and\s+", "", q, flags=re.I)
        q = q[:1].upper() + q[1:]
    ellipsis = _ELLIPSIS.match(q)
    if ellipsis and ellipsis.group(1):
        return Question(_swap_like(previous, ellipsis.group(1).strip()))
    own = [e for e in entities(q) if e != "I"]
    person = _PERSON_PRONOUN.search(q)
    thing = _THING_PRONOUN.search(q)
    resolved = q
    antecedent = None
    if person and not own:
        if _WHO_QUESTION.match(previous):
            answer = turns[-1].answer
            antecedent = next((e for e in entities(answer) if len(e.split()) > 1), None)
            if not answer and (role := _WHO_IS.match(previous)):
                antecedent = role.group("role")[:1].lower() + role.group("role")[1:]
        antecedent = antecedent or next((e[0] for t in reversed(turns) if (e := entities(t.question))), None)
        if antecedent is not None:
            replacement = antecedent
            if person.group(0).lower() in {"her", "his"} and not _object_position(q, person):
                replacement = f"{antecedent}’s"
            resolved = q[: person.start()] + replacement + q[person.end() :]
        else:
            thing = thing or person
    if (thing or swapped is not None) and not own:
        # "it"/"they" rarely name their antecedent cleanly, and "in the same period" names only
        # the time: carry the previous question (moved to that time) along.
        return Question(resolved, context=previous, antecedent=antecedent or "")
    return Question(resolved, antecedent=antecedent or "")


def _relative_time(question: str, turns: list[Turn]) -> tuple[str, str | None]:
    """ "the following year" after a question about 2014/15 -> "in 2015/16"; "that year" -> the
    year itself. Returns the rewritten question and the previous question moved to that year."""
    match = _RELATIVE_TIME.search(question)
    if not match:
        return question, None
    for turn in reversed(turns):
        year = _YEAR.search(turn.question)
        if year is None:
            continue
        rel = match.group("rel").lower()
        shift = 1 if rel in ("the following year", "the next year", "the year after") else 0
        if rel in ("the previous year", "the year before", "the preceding year"):
            shift = -1
        first = int(year.group(1)) + shift
        token = str(first)
        if year.group(2):  # a financial year such as 2014/15
            token = f"{first}/{(int(year.group(2)) + shift) % 100:02d}"
        moved = turn.question[: year.start()] + token + turn.question[year.end() :]
        rewritten = question[: match.start()].rstrip() + f" in {token}" + question[match.end() :]
        return rewritten.strip(), moved
    return question, None


def _object_position(question: str, pronoun: re.Match[str]) -> bool:
    # "her" as an object ("assured her") rather than a possessive ("her department").
    after = question[pronoun.end() :].strip()
    return not after or not after[:1].isalpha() or after.split()[0].lower() in {"of", "to", "that", "about"}


def _swap_like(previous: str, fragment: str) -> str:
    """ "And for 2015/16?" after a question about 2014/15 swaps the like-for-like token."""
    fragment = re.sub(r"^(?:for|in|of|about)\s+", "", fragment, flags=re.I)
    for i, kind in enumerate(_TOKEN_KINDS):
        new = kind.search(fragment)
        # A year replaces a year or a year range ("in 2002" after "in 1987-88").
        olds = _TOKEN_KINDS[:2] if i < 2 else (kind,)
        old = next((m for k in olds if (m := k.search(previous))), None)
        if new and old:
            return previous[: old.start()] + new.group(0) + previous[old.end() :]
    new_entities = entities(fragment)
    old_entities = entities(previous)
    if new_entities and old_entities:
        return previous.replace(old_entities[-1], new_entities[0], 1)
    return f"{previous.rstrip('?')} {fragment}?"
