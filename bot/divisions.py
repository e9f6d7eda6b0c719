"""Answers about divisions (recorded votes) from their division records.

A parlparse division is a document of its own (``index.parlparse``): a summary line with the
counts and one line per member's vote. A question about a vote ("How many MPs voted aye in
division 41?", "How did Alice Hartley vote in division 41?", "Did she vote for the motion?")
is answered from that record alone: the counts, or the member's own line, quoted and cited.
A member who is not on the lists is refused, never guessed. Questions about votes in an index
without division records go to the ordinary answerer.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace

from bot.answering import REFUSAL
from bot.records import Answer, AnswerMeta, Citation, Passage, Question, ShortAnswer
from bot.retrieval import HybridRetriever, IndexView
from index.filters import Filters, speaker_matches
from index.parlparse import DivisionText, Vote, read_division
from index.records import ChunkMeta
from index.store import Store

NAME = "division"
_NUMBER = re.compile(r"\bdivision\s+(?:no\.?\s*|number\s+)?(\d+)\b", re.IGNORECASE)
_VOTE_WORDS = re.compile(
    r"\bvot(?:e|ed|es|ing)\b|\bdivision\b|\bayes?\b|\bnoes\b|\bnot[- ]contents?\b|\bcontents\b", re.IGNORECASE
)
_HOW_MANY = re.compile(r"\bhow many\b", re.IGNORECASE)
_YES_NO = re.compile(r"^\s*(?:and\s+)?(?:did|does|was|were|has|had|is)\b", re.IGNORECASE)
_AGAINST = re.compile(
    r"\bagainst\b|\bnoes\b|\bvot(?:e|ed)\s+no\b|\bnot[- ]contents?\b|\boppos", re.IGNORECASE
)
_LORDS_SIDE = {"aye": "content", "no": "not-content"}


@dataclass(frozen=True)
class _Found:
    """The division a question is about, as one commit of the index holds it."""

    doc_id: str
    record: DivisionText
    chunks: list[tuple[str, ChunkMeta]]  # the division document's chunks, in order
    view: IndexView


class DivisionAnswerer:
    """Answers vote questions from division records; ``answer`` is None for other questions."""

    def __init__(self, retriever: HybridRetriever, store: Store, top_k: int = 6) -> None:
        self.retriever = retriever
        self.store = store
        self.top_k = top_k

    def answer(self, resolved: Question, filters: Filters | None = None) -> Answer | None:
        """The answer to a vote question about a division record; None for other questions.

        The question's own words decide whether it is about a vote and whom; its number may
        come from the earlier question it leans on ("And how did Hartley vote in it?")."""
        began = time.perf_counter()
        question, asked = resolved.search_text, resolved.text
        number = _NUMBER.search(question)
        if not _VOTE_WORDS.search(asked) and not number:
            return None
        view = self.retriever.view()
        # A division record has no speaker or party of its own; the rest of the scope holds.
        scope = replace(filters, speaker=None, party=None) if filters else Filters()
        divisions = _divisions(view, scope)
        if not divisions:
            return None  # no division records: votes are answered from the debate text, if anywhere
        if number:
            wanted = int(number.group(1))
            matching = {d: rec for d, rec in divisions.items() if rec[0] == wanted}
            if not matching:
                return self._refuse(question, began, f"the index has no record of division {wanted}")
            if len(matching) > 1:
                dates = ", ".join(sorted(str(rec[1]) for rec in matching.values()))
                return self._refuse(
                    question, began, f"division {wanted} is recorded on several days ({dates}); give the date"
                )
            doc_id = next(iter(matching))
        elif len(divisions) == 1:
            doc_id = next(iter(divisions))
        else:
            found = self._search(question, view, scope, set(divisions))
            if found is None:
                return self._refuse(question, began, "the question does not say which division (its number)")
            doc_id = found
        division = self._load(doc_id, view)
        if division is None:
            return self._refuse(question, began, "the division record changed while it was read; ask again")
        if _HOW_MANY.search(asked):
            return self._count(question, asked, division, began)
        person = _person(asked, division.record)
        if not person:
            return self._count(question, asked, division, began)
        return self._member(question, asked, person, division, began)

    # -- finding the record ---------------------------------------------------------------------
    def _search(self, question: str, view: IndexView, scope: Filters, docs: set[str]) -> str | None:
        """The division whose record best matches the question (no number given)."""
        found = self.retriever.search(question, self.top_k * 3, scope)
        for p in found.passages:
            if p.doc_id in docs:
                return p.doc_id
        return None

    def _load(self, doc_id: str, view: IndexView) -> _Found | None:
        doc = self.store.document(doc_id)
        if doc is None or view.versions.get(doc_id) != doc.version:
            return None
        record = read_division(doc.text)
        if record is None:
            return None
        chunks = [(cid, m) for cid, m in view.of_kind("division") if m.doc_id == doc_id]
        return _Found(doc_id, record, chunks, view)

    # -- answering ------------------------------------------------------------------------------
    def _count(self, question: str, asked: str, found: _Found, began: float) -> Answer:
        rec = found.record
        summary = _cite(1, found, *rec.summary)
        if summary is None:
            return self._refuse(question, began, "the division record is not in the index's passages")
        side = "no" if _AGAINST.search(asked) else "aye"
        lords = "content" in rec.counts
        key = _LORDS_SIDE[side] if lords else side
        short = None
        if _HOW_MANY.search(asked) and key in rec.counts:
            count, start, end = rec.counts[key]
            short = ShortAnswer(text=str(count), n=1, start=start, end=end)
        return self._answer(question, f"{summary.quote} [1]", [summary], short, began)

    def _member(self, question: str, asked: str, person: str, found: _Found, began: float) -> Answer:
        rec = found.record
        summary = _cite(1, found, *rec.summary)
        if summary is None:
            return self._refuse(question, began, "the division record is not in the index's passages")
        votes = [v for v in rec.votes if speaker_matches(person, v.name)]
        if not votes:
            reason = (
                f"{person} is not on the lists of division {rec.number} ({rec.date or 'undated'}): "
                "the record does not say how they voted"
            )
            return self._refuse(question, began, reason, [summary])
        if len({v.name for v in votes}) > 1:
            names = ", ".join(sorted({v.name for v in votes}))
            reason = (
                f"several members on the lists of division {rec.number} match {person} ({names}); "
                "give the full name"
            )
            return self._refuse(question, began, reason, [summary])
        vote = votes[0]
        line = _cite(2, found, vote.start, vote.end)
        if line is None:
            return self._refuse(question, began, "the division record is not in the index's passages")
        word_start = vote.start + line.quote.rindex(f" voted {vote.vote}") + len(" voted ")
        short: ShortAnswer | None = ShortAnswer(
            text=vote.vote, n=2, start=word_start, end=word_start + len(vote.vote)
        )
        text = f"{summary.quote} [1] {line.quote} [2]"
        if _YES_NO.search(asked):
            # "Yes." to "did she vote against?" when she voted no: the vote word would mislead.
            text, short = f"{_verdict(asked, vote)} {text}", None
        return self._answer(question, text, [summary, line], short, began)

    def _answer(
        self, question: str, text: str, cites: list[Citation], short: ShortAnswer | None, began: float
    ) -> Answer:
        return Answer(
            question=question,
            resolved_question=question,
            answer=text,
            refused=False,
            answerer=NAME,
            citations=cites,
            timings_ms={"division": _ms(began)},
            meta=AnswerMeta(answer_type="vote"),
            short_answer=short,
        )

    def _refuse(
        self, question: str, began: float, reason: str, related: list[Citation] | None = None
    ) -> Answer:
        return Answer(
            question=question,
            resolved_question=question,
            answer=f"{REFUSAL} The closest passages are listed as related." if related else REFUSAL,
            refused=True,
            answerer=NAME,
            related=related or [],
            timings_ms={"division": _ms(began)},
            meta=AnswerMeta(reason=reason, answer_type="vote"),
        )


def _divisions(view: IndexView, scope: Filters) -> dict[str, tuple[int, str | None]]:
    """Division documents of the view within ``scope``: number and date, by document id."""
    out: dict[str, tuple[int, str | None]] = {}
    for _, meta in view.of_kind("division"):
        if meta.doc_id not in out and meta.division is not None and scope.allows(meta):
            out[meta.doc_id] = (meta.division, meta.date)
    return out


def _person(asked: str, record: DivisionText) -> str | None:
    """The member a vote question names: a voter's full name written in it, else the person
    the question analysis finds ("How did Hartley vote?")."""
    lowered = " ".join(asked.casefold().split())
    for vote in record.votes:
        if vote.name.casefold() in lowered:
            return vote.name
    from bot.questions import analyse

    info = analyse(asked)
    who = info.speaker
    if who and not _NUMBER.search(who) and who.casefold() not in {"mps", "the house", "members", "peers"}:
        return who
    return None


def _cite(n: int, found: _Found, start: int, end: int) -> Citation | None:
    """Cite ``start:end`` of the division's text from the chunk that holds it."""
    for cid, meta in found.chunks:
        if meta.start <= start and end <= meta.end:
            passage = Passage.of(cid, found.view.texts[cid], meta, 1.0)
            return Citation.of(n, passage, start, end, 1.0)
    return None


def _verdict(asked: str, vote: Vote) -> str:
    """Yes or No to "did X vote for / against ...": aye and content are for the motion."""
    against = bool(_AGAINST.search(asked))
    return "Yes." if vote.for_motion != against else "No."


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
