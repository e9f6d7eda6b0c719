"""Refusing: why a question is refused before any sentence is scored (``gate``), what the
sources have and lack when no sentence answers (``why_not``), whether a "why" question's
premise is stated (``premise_holds``), and the refusal itself, which lists the closest passages
as related (``refusal``).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot import citations
from bot.candidates import Candidate
from bot.citations import Idf
from bot.questions import QuestionInfo
from bot.records import NO_MATCH, Answer, AnswerMeta, Citation, Passage
from bot.text import numbers, terms, words

REFUSAL = "The indexed coverage doesn't answer this question."

_COUNTRY = frozenset(terms("UK Britain British United Kingdom Great"))
_WEAK_VERBS = frozenset(terms("think thought believe feel want do did make made happen get got"))
_ASKED = {
    "person": "who it was",
    "organisation": "which organisation",
    "place": "where",
    "date": "when",
    "number": "the number asked for",
    "money": "the amount of money",
    "percent": "the percentage",
    "reason": "why",
    "definition": "what it stands for",
    "vote": "how members voted",
}


def gate(info: QuestionInfo, passages: Sequence[Passage]) -> str | None:
    """Why the question is refused before any sentence is scored, or None."""
    if info.injection:
        return "the question contains instructions, which Despatch does not follow"
    if not passages:
        return NO_MATCH
    if not info.content:
        return "it asks nothing the sources could answer"
    vocabulary: set[str] = set()
    for p in passages:
        vocabulary |= set(terms(f"{p.text} {p.speaker or ''} {p.party or ''} {p.title}"))
        vocabulary |= numbers(p.text)
    # The country goes by several names ("Britain", "the UK"): one of them is enough.
    if vocabulary & _COUNTRY:
        vocabulary |= _COUNTRY
    missing = [k for k in info.keys if k not in vocabulary]
    if missing:
        return f"the sources found never mention {', '.join(as_written(missing, info.text))}"
    return None


def as_written(keys: Sequence[str], question: str) -> list[str]:
    """The question's own words for stemmed ``keys`` ("brexit" -> "Brexit", "negotiation"
    -> "negotiations"), in the keys' order; a key no word of the question yields stays as it is."""
    written: dict[str, str] = {}
    for word in words(question):
        for piece in terms(word):
            written.setdefault(piece, word)
    return list(dict.fromkeys(written.get(k, k) for k in keys))


def why_not(info: QuestionInfo, passages: Sequence[Passage]) -> str:
    """Say what the sources have and what they lack: "mention X but not when"."""
    asked = _ASKED.get(info.atype)
    if info.head:
        asked = f"which {info.head}"
    elif info.atype == "say" and info.speaker:
        asked = f"what {info.speaker} said about it"
    elif asked is None:
        asked = "an answer to it"
    text = " ".join(f"{p.text} {p.speaker or ''} {p.title}" for p in passages).lower()
    mentioned = [c for c in info.constraints if c.lower() in text]
    if mentioned:
        return f"the sources mention {' and '.join(mentioned)} but not {asked}"
    return f"no passage says {asked}"


def refusal(
    answerer: str,
    idf: Idf,
    question: str,
    passages: Sequence[Passage],
    reason: str,
    timings: dict[str, float],
    confidence: float = 0.0,
) -> Answer:
    """A refusal that shows the closest passages as related."""
    q_terms = set(terms(question))
    related = []
    for n, passage in enumerate(passages[:3], start=1):
        start, end, _ = citations.best_span(q_terms, passage, idf, "")
        start, end = citations.balanced_span(passage, start, end)
        related.append(Citation.of(n, passage, start, end, passage.score))
    meta = AnswerMeta(reason=reason, confidence=round(confidence, 4))
    text = f"{REFUSAL} The closest passages are listed as related." if related else REFUSAL
    return Answer(
        question=question,
        resolved_question=question,
        answer=text,
        refused=True,
        answerer=answerer,
        related=related,
        timings_ms=timings,
        meta=meta,
    )


def premise_holds(info: QuestionInfo, best: Candidate) -> bool:
    """A "why did X do Y" question presupposes X did Y: the sources must say so together.

    Every predicate word (content that is not a name or number) must be stated around the
    best sentence, and the named people must share that sentence with part of it.
    """
    keys = set(info.keys)
    predicate = set(info.content) - keys - _WEAK_VERBS
    s = best.sentence
    title = set(terms(best.passage.title))
    window = set(s.window_terms) | s.context_terms | title | numbers(s.text)
    here = set(s.terms) | s.context_terms | title
    if not predicate <= window or not keys <= window:
        return False
    return not keys or not predicate or bool(predicate & here)
