"""What a question asks: its form, content terms, key names and numbers, and injections."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import QUESTION_WORDS, STOPWORDS, names, numbers, stem, terms

_NUMBER_FORM = re.compile(
    r"\bhow (?:many|much|long|often)\b|\bwhat\b(?:\s+[\w/’'-]+){0,4}?\s+(?:numbers?|figures?|percentage|"
    r"proportion|share|totals?|amounts?|targets?|levels?|limits?|caps?|sums?|rates?|average)\b",
    re.I,
)
_WHEN_FORM = re.compile(
    r"^\s*(?:and\s+)?when\b|\bwhat (?:year|date|month|day)\b|\bwhich (?:year|month|day)\b|"
    r"\bsince when\b",
    re.I,
)
_WHO_FORM = re.compile(
    r"^\s*(?:and\s+)?who(?:m|se)?\b|\bwhich (?:mp|member|minister|politician|person|"
    r"party|union|committee|official|department|body)\b|\bname of\b",
    re.I,
)
_SAY_FORM = re.compile(
    r"\b(?i:what did) (?P<a>[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*) (?i:say|tell|claim|argue|ask|admit|promise|"
    r"call|warn|suggest|want|describe)\b|\b(?i:according to) (?P<b>[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)|"
    r"\b(?i:how did) (?P<c>[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*) (?i:respond|reply|answer|describe)\b",
)
_WHY_FORM = re.compile(r"^\s*why\b", re.I)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|rules|prompt|previous|above|"
    r"guidelines|sources?|transcripts?|articles?|documents?|context|passages?|coverage)\b|"
    r"\bsystem prompt\b|\byou are now\b|\bact as\b|\bpretend (?:to be|you)\b|"
    r"\bjailbreak\b|\bdeveloper mode\b|\bdo anything now\b|\bnew instructions\b|"
    r"\b(?:reveal|print|show|repeat) (?:your|the) (?:instructions|prompt|rules)\b|"
    r"\bwithout (?:citations?|sources)\b|\bmake (?:something|it) up\b|\binvent\b",
    re.I | re.S,
)
_MULTI = re.compile(r"\b(?:and|both|two|three|which groups|what groups)\b.*\?|,\s*and\b", re.I)
_GENERIC = {"mp", "mps", "uk", "minister", "secretary", "member", "government", "house", "commons"}


@dataclass(frozen=True)
class QuestionInfo:
    """The parts of a question that answering and refusing rely on."""

    text: str
    form: str  # number, when, who, say, why, what
    content: tuple[str, ...]  # stemmed content terms
    keys: tuple[str, ...]  # stemmed names and normalised numbers: must appear in the sources
    speaker: str | None  # the person in "what did X say"
    injection: bool
    multi: bool = False  # asks for two or more things


def analyse(question: str) -> QuestionInfo:
    drop = STOPWORDS | QUESTION_WORDS
    content = tuple(dict.fromkeys(terms(question, drop)))
    say = _SAY_FORM.search(question)
    speaker = next((g for g in say.groups() if g), None) if say else None
    if say:
        form = "say"
    elif _WHO_FORM.search(question):
        form = "who"
    elif _WHEN_FORM.search(question):
        form = "when"
    elif _NUMBER_FORM.search(question):
        form = "number"
    elif _WHY_FORM.search(question):
        form = "why"
    else:
        form = "what"
    first = question.strip().split(" ", 1)[0]
    key_names = {n for n in names(question) if n not in terms(first, frozenset()) or first.lower() in drop}
    key_names -= {stem(g) for g in _GENERIC}
    keys = tuple(sorted(numbers(question) | (key_names - drop)))
    return QuestionInfo(
        text=question,
        form=form,
        content=content,
        keys=keys,
        speaker=speaker,
        injection=bool(_INJECTION.search(question)),
        multi=bool(_MULTI.search(question)) or sum(1 for k in keys if k[:1].isdigit()) > 1,
    )
