"""The citation check: does a passage support a sentence, and which exact span does.

Deterministic: lexical coverage of the sentence's content words (weighted by IDF) by the
passage, a hard requirement that every number and name in the sentence appears in the
passage (its text, speaker or title), and, where given, embedding similarity between the
sentence and the supporting span.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.records import Passage
from bot.text import STOPWORDS, names, numbers, terms
from index.sentences import sentences

Idf = Callable[[str], float]
Similarity = Callable[[str, str], float]

MIN_COVERAGE = 0.6  # share of the sentence's content weight the span must contain
MIN_SIMILARITY = 0.35  # cosine, when coverage alone is not overwhelming
STRONG_COVERAGE = 0.85

# The one pattern of a citation marker ``[n]`` in an answer; group 1 is ``n``.
MARKER = re.compile(r"\[(\d+)\]")
_SPACED_MARKER = re.compile(r"\s*" + MARKER.pattern)
_SPEAKER = re.compile(r"^([^:“\"]{2,80}?)\s+said:")
_ATTRIBUTION = re.compile(r"^[^:“\"]{2,80}?\bsaid:\s*[“\"]?")
_CLOSING_QUOTE = re.compile(r"[”\"]\s*$")
_WHO = re.compile(r"^(?P<speaker>.+?)\s+\((?P<party>[^()]*)\)\s*$")


@dataclass(frozen=True)
class Claim:
    """What an answer sentence asserts: its words and, for a transcript turn, who said them.

    The extractive answerer builds it from a passage's sentence (``Claim.of``), with the
    passage's speaker and party as fields; ``shown`` is how the answer writes it
    (``X (Lab) said: “...”``). Text written by someone else (an LLM's reply, an answer read
    back by the evaluation) is read with ``Claim.parse``.
    """

    text: str
    speaker: str | None = None
    party: str | None = None

    @classmethod
    def of(cls, text: str, passage: Passage) -> Claim:
        """The claim of quoting ``text``, a sentence of ``passage``."""
        text = without_source_notes(text)
        if not passage.speaker:
            return cls(text)
        return cls(text.strip("“”"), passage.speaker, passage.party)

    @classmethod
    def parse(cls, sentence: str) -> Claim:
        """The claim of a written sentence: without markers, its ``X (Party) said:`` prefix read
        as the speaker and party."""
        text = strip_markers(sentence)
        said = _SPEAKER.match(text)
        if said is None:
            return cls(text)
        who = _WHO.match(said.group(1))
        speaker, party = (who.group("speaker"), who.group("party")) if who else (said.group(1), None)
        return cls(_ATTRIBUTION.sub("", text), speaker.strip(), party)

    @property
    def words(self) -> str:
        """The asserted words, without a closing quotation mark."""
        return _CLOSING_QUOTE.sub("", self.text).strip()

    def shown(self) -> str:
        """The sentence as an answer writes it."""
        if not self.speaker:
            return self.text
        party = f" ({self.party})" if self.party else ""
        return f"{self.speaker}{party} said: “{self.text}”"


@dataclass(frozen=True)
class Support:
    """The verdict for one sentence and one passage, with the supporting span."""

    ok: bool
    coverage: float
    similarity: float
    start: int  # document offsets of the supporting span
    end: int
    missing: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        return round(0.7 * self.coverage + 0.3 * self.similarity, 4)


_SENTENCE_WITH_MARKERS = re.compile(r"\S.*?(?:\s*" + MARKER.pattern + r")+(?=\s|$)", re.S)
_SOURCE_NOTE = re.compile(
    r"\[(?:\d+|citation needed|clarification needed|verification needed|dubious|"
    r"who\?|when\?|by whom\?|according to whom\?)\]",
    re.I,
)


def strip_markers(text: str) -> str:
    """``text`` without its ``[n]`` markers (and the spaces before them)."""
    return _SPACED_MARKER.sub("", text).strip()


def answer_sentences(answer: str) -> list[str]:
    """An answer's sentences, each ending with its marker group ``[1][2]``."""
    return [m.group(0).strip() for m in _SENTENCE_WITH_MARKERS.finditer(answer)]


def without_source_notes(text: str) -> str:
    """Quoted text without bracketed notes (``[3]``, ``[citation needed]``) that would look
    like our markers; the citation itself still quotes the source exactly."""
    return re.sub(r"\s{2,}", " ", _SOURCE_NOTE.sub("", text)).strip()


def claim_text(sentence: str) -> str:
    """The claim of an answer sentence: without markers and without a quoting attribution."""
    return Claim.parse(sentence).words


def passage_sentences(passage: Passage) -> list[tuple[int, int]]:
    """Document offsets of each sentence of a passage."""
    return [(passage.start + s, passage.start + e) for s, e in sentences(passage.text)]


def check(sentence: Claim | str, passage: Passage, idf: Idf, similarity: Similarity | None = None) -> Support:
    """Whether ``passage`` supports ``sentence`` (a claim, or a written sentence to read as one);
    the span is the best one or two sentences. A claim's speaker must be the passage's."""
    # A claim without a speaker is a source's own sentence, which may quote someone itself
    # ("Ms Thewliss said: “...”"): it is read like any written sentence.
    if isinstance(sentence, Claim) and sentence.speaker:
        said = sentence
    else:
        said = Claim.parse(sentence.text if isinstance(sentence, Claim) else sentence)
    claim = said.words
    claim_terms = set(terms(claim))
    context = _context(passage)
    who = names(said.speaker) if said.speaker else set()
    required = (numbers(claim) | names(claim) | who) - STOPWORDS
    passage_terms = set(terms(passage.text)) | set(terms(context))
    passage_keys = numbers(passage.text) | names(passage.text) | set(terms(context)) | passage_terms
    missing = tuple(sorted(t for t in required if t not in passage_keys))
    start, end, coverage = best_span(claim_terms, passage, idf, context)
    quote = passage.text[start - passage.start : end - passage.start]
    verbatim = passage.text.find(claim) if claim else -1
    if verbatim >= 0:
        # The claim is a quotation of the passage: cite exactly it; nothing to measure.
        start, end = passage.start + verbatim, passage.start + verbatim + len(claim)
        sim, coverage = 1.0, 1.0 if claim_terms else 0.0
    elif _squash(claim) == _squash(quote):
        sim = 1.0
    elif similarity is not None:
        sim = similarity(claim, quote)
    else:
        sim = 0.0
    strong = coverage >= STRONG_COVERAGE
    ok = not missing and bool(claim_terms) and coverage >= MIN_COVERAGE and (strong or sim >= MIN_SIMILARITY)
    return Support(ok, round(coverage, 4), round(sim, 4), start, end, missing)


def _context(passage: Passage) -> str:
    bits = [passage.speaker or "", passage.party or ""]
    return " ".join(b for b in bits if b)


def _weight(words: set[str], idf: Idf) -> float:
    return sum(idf(w) for w in words)


def best_span(claim_terms: set[str], passage: Passage, idf: Idf, context: str) -> tuple[int, int, float]:
    """The single sentence covering most of the claim; two adjacent ones only if clearly better."""
    spans = passage_sentences(passage) or [(passage.start, passage.end)]
    total = _weight(claim_terms, idf) or 1.0
    extra = set(terms(context))
    sent_terms = [set(terms(passage.text[s - passage.start : e - passage.start])) for s, e in spans]

    def cover(have: set[str]) -> float:
        return _weight(claim_terms & (have | extra), idf) / total

    singles = [cover(t) for t in sent_terms]
    i = max(range(len(spans)), key=lambda k: (singles[k], -k))
    best = (spans[i][0], spans[i][1], singles[i])
    for k in range(len(spans) - 1):
        pair = cover(sent_terms[k] | sent_terms[k + 1])
        if pair > best[2] + 0.1:
            best = (spans[k][0], spans[k + 1][1], pair)
    return best


def _unmatched(text: str) -> tuple[list[int], list[int]]:
    """Positions of quotation marks in ``text`` that open without closing, and close without
    opening. A mark after a space (or at the start) opens: sources type ``”`` for ``“`` too."""
    opened: list[int] = []
    stray: list[int] = []
    for i, ch in enumerate(text):
        if ch not in '“”"„':
            continue
        opens = ch in "“„" or (i == 0 or text[i - 1].isspace() or text[i - 1] in "([—–-")
        if opens and not (ch == '"' and opened and text[opened[-1]] == '"'):
            opened.append(i)
        elif opened:
            opened.pop()
        else:
            stray.append(i)
    return opened, stray


def balanced_span(passage: Passage, start: int, end: int) -> tuple[int, int]:
    """``start:end`` (document offsets) with no quotation mark left dangling, offsets exact.

    A mark that opens at the span's start (or closes at its end) and is not matched inside it
    is trimmed; a quotation that opens inside and closes in the next sentence takes that
    sentence in; one that never closes nearby is cut off at its mark, keeping the longer side.
    """
    base = passage.start
    for _ in range(4):
        text = passage.text[start - base : end - base]
        opened, stray = _unmatched(text)
        if not opened and not stray:
            break
        if opened and opened[-1] == 0 and len(opened) == 1 and not stray:
            start += 1
        elif stray and stray[0] == len(text) - 1 and len(stray) == 1 and not opened:
            end -= 1
        elif stray:
            cut = start + stray[-1]
            start, end = (cut + 1, end) if cut - start < end - cut else (start, cut)
        else:
            following = [e for s, e in passage_sentences(passage) if s >= end]
            if following and not any(_unmatched(passage.text[start - base : following[0] - base])):
                end = following[0]
                continue
            cut = start + opened[0]
            start, end = (cut + 1, end) if cut - start < end - cut else (start, cut)
        while start < end and passage.text[start - base].isspace():
            start += 1
        while end > start and passage.text[end - 1 - base].isspace():
            end -= 1
    return start, end


def similarity(embedder: Any, a: str, b: str) -> float:
    """Cosine similarity of two texts under ``embedder`` (unit vectors)."""
    vectors = embedder.embed([a, b])
    return float(vectors[0] @ vectors[1])


def _squash(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
