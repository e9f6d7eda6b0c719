"""Deterministic scoring of one answer against one gold case."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.citations import MARKER, answer_sentences
from bot.records import Answer, Passage
from evals.gold import GoldCase

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "‐": "-"})


def normalise(text: str) -> str:
    """Case, whitespace, quotes, dashes and thousands separators normalised."""
    text = text.translate(_QUOTES).lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return " ".join(text.split())


def contains(text: str, fact: str) -> bool:
    """Whether normalised ``text`` holds normalised ``fact`` as whole tokens: "5000" is not in
    "450000", nor "19" in "2019", nor "May" in "Mayhew"."""
    needle = normalise(fact)
    if not needle:
        return False
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", normalise(text)) is not None


def squad_normalise(text: str) -> str:
    """The official SQuAD answer normalisation."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, truth: str) -> float:
    pred, gold = squad_normalise(prediction).split(), squad_normalise(truth).split()
    common = Counter(pred) & Counter(gold)
    same = sum(common.values())
    if not pred or not gold or same == 0:
        return float(pred == gold)
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


@dataclass
class CaseScore:
    """Everything measured for one case, and which checks failed."""

    id: str
    question: str
    answerable: bool
    refused: bool
    answer: str
    tags: list[str]
    facts_ok: bool | None = None  # None for unanswerable cases
    f1: float | None = None
    evidence_found: int = 0
    evidence_total: int = 0
    citations_checked: int = 0
    citations_supported: int = 0
    invalid_citations: int = 0
    retrieval_hits: list[int | None] = field(default_factory=list)  # rank (1-based) or None, per target
    latency_ms: float = 0.0
    fact_groups: int = 0
    facts_found: int = 0
    facts_grounded: int = 0  # facts found in the answer that also stand in one of its cited quotes
    factoid: bool = False
    first_ok: bool | None = None  # answered: the first answer sentence holds every fact
    short_answer: str | None = None
    short_ok: bool | None = None  # a short answer was given: it matches a gold answer exactly
    fallback: str | None = None  # LLM answerer: why its answer was replaced by the extractive one
    # The scorer's confidence in the lead sentence (None: refused before any sentence was
    # scored, or refused for another reason), and whether that lead is right: the case is
    # answerable, the lead states a gold fact and, when the answer was given, it states them all.
    confidence: float | None = None
    lead_ok: bool = False
    failures: list[str] = field(default_factory=list)
    citations: list[dict[str, object]] = field(default_factory=list)


Support = Callable[[str, Passage], bool]

# Gold tags of questions whose answer is one short fact (SQuAD cases are tagged at conversion).
FACTOID_TAGS = frozenset(
    {
        "factoid",
        "number",
        "date",
        "who",
        "name",
        "person",
        "place",
        "organisation",
        "money",
        "percent",
        "definition",
    }
)


def score_case(
    case: GoldCase,
    answer: Answer,
    document_text: Callable[[str], str | None],
    supports: Support,
    retrieved: Sequence[tuple[str, str]],  # (doc url or id, chunk text) in rank order
    paragraph_doc: str | None = None,
) -> CaseScore:
    score = CaseScore(
        id=case.id,
        question=case.question,
        answerable=case.answerable,
        refused=answer.refused,
        answer=answer.answer,
        tags=case.tags,
        latency_ms=float(answer.timings_ms.get("total", 0.0)),
        citations=[c.to_json() for c in answer.citations],
        fallback=answer.meta.fallback,
    )
    _check_citations(answer, document_text, supports, score)
    _lead(case, answer, score)
    if not case.answerable:
        if not answer.refused:
            score.failures.append("answered an unanswerable question")
        return score
    text = MARKER.sub("", answer.answer)
    found = [g for g in case.facts if any(contains(text, alt) for alt in g)]
    missing = [g for g in case.facts if g not in found]
    score.facts_ok = not missing and not answer.refused
    score.fact_groups = len(case.facts)
    score.facts_found = 0 if answer.refused else len(found)
    # Judged without the answerer's citation check: a fact the answer states must stand, as
    # whole tokens, in a quote it cites (or name that quote's speaker, in a transcript).
    quoted = [c.quote for c in answer.citations] + [c.speaker for c in answer.citations if c.speaker]
    score.facts_grounded = (
        0 if answer.refused else sum(1 for g in found if any(contains(q, alt) for q in quoted for alt in g))
    )
    score.factoid = bool(FACTOID_TAGS & set(case.tags))
    sentences = answer_sentences(answer.answer)
    if not answer.refused and sentences:
        first = MARKER.sub("", sentences[0])
        score.first_ok = all(any(contains(first, alt) for alt in g) for g in case.facts)
    if not answer.refused and answer.short_answer is not None:
        score.short_answer = answer.short_answer.text
        gold = {squad_normalise(alt) for g in case.facts for alt in g}
        score.short_ok = squad_normalise(answer.short_answer.text) in gold
    clean = MARKER.sub("", answer.answer)
    score.f1 = sum(max(token_f1(clean, alt) for alt in g) for g in case.facts) / len(case.facts)
    if answer.refused:
        score.f1 = 0.0
        score.failures.append(f"refused an answerable question ({answer.meta.reason or ''})")
    elif missing:
        score.failures.append(f"facts missing: {[g[0] for g in missing]}")
    quotes = [normalise(c.quote) for c in answer.citations]
    score.evidence_total = len(case.evidence)
    for ev in case.evidence:
        if any(normalise(ev) in q for q in quotes):
            score.evidence_found += 1
        elif not answer.refused:
            score.failures.append(f"evidence not cited: {ev[:60]!r}")
    if paragraph_doc is not None:
        ranks = [i for i, (doc, _) in enumerate(retrieved, 1) if doc == paragraph_doc]
        score.retrieval_hits.append(ranks[0] if ranks else None)
    else:
        for ev in case.evidence:
            ranks = [i for i, (_, txt) in enumerate(retrieved, 1) if normalise(ev) in normalise(txt)]
            score.retrieval_hits.append(ranks[0] if ranks else None)
    return score


def _lead(case: GoldCase, answer: Answer, score: CaseScore) -> None:
    """The confidence and rightness of the sentence the answer leads with (or, for a refusal
    under the scorer's threshold, would have led with), for the risk-coverage curve. An answer
    from a division record has no confidence: its lead is judged, but it is left off the curve."""
    confidence = answer.meta.confidence
    if answer.refused:
        lead = answer.meta.best_sentence
        if not isinstance(lead, str):
            return  # refused by a gate, a premise or the citation check: never answered
    else:
        sentences = answer_sentences(answer.answer)
        lead = MARKER.sub("", sentences[0]) if sentences else ""
    score.confidence = float(confidence) if isinstance(confidence, int | float) else None
    if not case.answerable:
        return
    states = any(contains(lead, alt) for g in case.facts for alt in g)
    every = all(any(contains(MARKER.sub("", answer.answer), alt) for alt in g) for g in case.facts)
    score.lead_ok = states and (answer.refused or every)


def risk_coverage(scores: Sequence[CaseScore], steps: int = 50) -> list[dict[str, float]]:
    """Precision of the answers given against the share of answerable questions answered, as
    the answer threshold moves from 0 to 1 (in ``1/steps``)."""
    answerable = sum(1 for s in scores if s.answerable)
    curve = []
    for i in range(steps + 1):
        t = i / steps
        answered = [s for s in scores if s.confidence is not None and s.confidence >= t]
        right = sum(1 for s in answered if s.lead_ok)
        curve.append(
            {
                "threshold": round(t, 4),
                "precision": round(right / len(answered), 4) if answered else 1.0,
                "coverage": round(sum(1 for s in answered if s.answerable) / answerable, 4)
                if answerable
                else 0.0,
            }
        )
    return curve


def _check_citations(
    answer: Answer, document_text: Callable[[str], str | None], supports: Support, score: CaseScore
) -> None:
    cites = {c.n: c for c in answer.citations}
    if sorted(cites) != list(range(1, len(answer.citations) + 1)):
        score.invalid_citations += 1
        score.failures.append("citation numbers are not 1..N")
    for c in [*answer.citations, *answer.related]:
        text = document_text(c.doc_id)
        if text is None or not (0 <= c.start < c.end <= len(text)) or text[c.start : c.end] != c.quote:
            score.invalid_citations += 1
            score.failures.append(f"citation [{c.n}] does not quote its document at {c.start}:{c.end}")
    for sentence in answer_sentences(answer.answer) if not answer.refused else []:
        for n in {int(m) for m in MARKER.findall(sentence)}:
            if n not in cites:
                score.invalid_citations += 1
                score.failures.append(f"marker [{n}] names no citation")
                continue
            c = cites[n]
            passage = Passage(
                **c.source_fields(),
                chunk_id=c.chunk_id,
                doc_id=c.doc_id,
                text=c.quote,
                start=c.start,
                end=c.end,
            )
            score.citations_checked += 1
            if supports(sentence, passage):
                score.citations_supported += 1
            else:
                score.failures.append(f"citation [{n}] does not support its sentence")
