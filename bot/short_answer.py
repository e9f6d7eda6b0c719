"""The short answer: for a factoid question, the exact span of the first cited sentence that
answers it (the number, name, date or phrase), shown first, in bold, by every front end."""

from __future__ import annotations

from bot.answerability import Sentence, answer_entities, expansion
from bot.questions import QuestionInfo
from bot.records import Passage, ShortAnswer
from bot.text import is_year
from index.nlp import Entity


def short_answer(
    info: QuestionInfo, s: Sentence, n: int, start: int, end: int, passage: Passage
) -> ShortAnswer | None:
    """The exact span of citation ``n`` that answers: the entity of the expected type nearest the
    words the sentence shares with the question, or an acronym's expansion."""
    span: tuple[int, int] | None = None
    if info.atype == "definition":
        span = expansion(s)
    else:
        hits = [e for e in answer_entities(info, s) if start <= e.start and e.end <= end]
        if info.atype in ("number", "money", "percent"):
            # "2014/15" names a period, not the quantity asked for.
            hits = [e for e in hits if not is_year(s.text[e.start - s.start : e.end - s.start])]
        if hits:
            near = {
                term: [s.start + m for m in _positions(s.text.lower(), term)] for term in set(info.content)
            }

            def closeness(e: Entity) -> tuple[int, float, int]:
                # the entity that the most question words sit close to, then the nearest one
                dists = [min(abs(e.start - a) for a in spots) for spots in near.values() if spots]
                return (-sum(1 for d in dists if d <= 40), min(dists, default=0), e.start)

            best = min(hits, key=closeness)
            span = (best.start, best.end)
    if span is None or not (start <= span[0] < span[1] <= end):
        return None
    text = passage.text[span[0] - passage.start : span[1] - passage.start]
    return ShortAnswer(text=text, n=n, start=span[0], end=span[1])


def _positions(text: str, term: str) -> list[int]:
    out: list[int] = []
    i = text.find(term)
    while i >= 0 and len(out) < 5:
        out.append(i)
        i = text.find(term, i + 1)
    return out
