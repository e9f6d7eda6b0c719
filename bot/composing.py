"""Composing: the answering sentence first, then the neighbour carrying the focus it lacks,
then other sentences the scorer rates close to it (``compose``); each is written with its
speaker, checked against its passage and cited, and the first gives the short answer
(``render``).
"""

from __future__ import annotations

from bot import citations
from bot.candidates import Candidate
from bot.citations import Idf
from bot.questions import QuestionInfo
from bot.records import Citation, Passage, ShortAnswer
from bot.short_answer import short_answer


def compose(
    info: QuestionInfo, best: Candidate, ranked: list[Candidate], threshold: float, max_sentences: int = 3
) -> list[Candidate]:
    """The answering sentence first; then the neighbour carrying the focus it lacks; then
    other sentences the model rates close to the best."""
    chosen = [best]
    s = best.sentence
    lacking = (set(info.focus) | set(info.keys)) - (s.terms | s.context_terms)
    if lacking:
        neighbours = [
            c
            for c in ranked
            if c.passage.doc_id == best.passage.doc_id
            and c is not best
            and (abs(c.sentence.end - s.start) < 3 or abs(c.sentence.start - s.end) < 3)
        ]
        helpful = [c for c in neighbours if lacking & c.sentence.terms]
        if helpful:
            chosen.append(max(helpful, key=lambda c: len(lacking & c.sentence.terms)))
    # Other sentences the model also thinks answer (a second phrasing, another part of a
    # question asking for several things), never a repeat of one already chosen.
    floor = max(threshold, (0.4 if info.multi else 0.6) * best.p)
    for cand in ranked[1:]:
        if len(chosen) >= max_sentences or cand.p < floor:
            break
        if any(_overlaps(cand, c) or _same_text(cand, c) for c in chosen):
            continue
        chosen.append(cand)
    return chosen


def render(
    info: QuestionInfo, chosen: list[Candidate], idf: Idf
) -> tuple[str, list[Citation], ShortAnswer | None]:
    """The answer's text with its markers, its citations, and the short answer."""
    parts: list[str] = []
    cites: list[Citation] = []
    short: ShortAnswer | None = None
    for i, cand in enumerate(chosen):
        p, s = cand.passage, cand.sentence
        start, end = citations.balanced_span(p, s.start, s.end)
        text = p.text[start - p.start : end - p.start]
        claim = citations.Claim.of(text, p)
        sentence = claim.shown()
        support = citations.check(claim, p, idf)
        if not support.ok:
            continue  # never shown: the check is the last word, for every answerer
        n = len(cites) + 1
        cites.append(Citation.of(n, p, support.start, support.end, cand.p))
        parts.append(f"{sentence} [{n}]")
        if i == 0:
            short = short_answer(info, s, n, support.start, support.end, p)
    return " ".join(parts), cites, short


def attributed(text: str, passage: Passage) -> str:
    """A sentence as the answer shows it: a transcript's with its speaker ("X (Lab) said: “...”")."""
    return citations.Claim.of(text, passage).shown()


def _overlaps(a: Candidate, b: Candidate) -> bool:
    sa, sb = a.sentence, b.sentence
    return a.passage.doc_id == b.passage.doc_id and sa.start < sb.end and sb.start < sa.end


def _same_text(a: Candidate, b: Candidate) -> bool:
    return " ".join(a.sentence.text.lower().split()) == " ".join(b.sentence.text.lower().split())
