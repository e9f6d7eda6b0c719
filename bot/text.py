"""Word-level text analysis shared by lexical search, answering and citation checks."""

from __future__ import annotations

import re
from functools import lru_cache

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "ms",
        "mr",
        "mrs",
        "dr",
        "hon",
        "says",
        "said",
        "say",
        "tell",
        "told",
        "according",
        "did",
        "does",
        "do",
        "was",
        "were",
        "much",
        "many",
    ]
)
# Question words and fillers that carry no content in a question.
QUESTION_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "many",
        "much",
        "does",
        "did",
        "do",
        "is",
        "are",
        "was",
        "were",
        "tell",
        "me",
        "please",
        "explain",
        "describe",
        "give",
        "list",
        "name",
        "according",
        "article",
        "report",
        "happened",
    ]
)

_WORD = re.compile(r"[A-Za-z0-9£$€%]+(?:[’'.,/-][A-Za-z0-9]+)*")
_NUMBER = re.compile(r"^[£$€]?\d[\d,]*(?:\.\d+)?%?$|^\d{4}/\d{2}$")
_YEARISH = re.compile(r"^(1[89]|20)\d\d(/\d\d)?$")


def words(text: str) -> list[str]:
    """Surface words, punctuation inside words kept (``7,200``, ``2015/16``, ``Rudd’s``)."""
    return _WORD.findall(text)


def normalise_number(token: str) -> str:
    """``7,200`` -> ``7200``; ``£1.5`` -> ``1.5``; ``2015/16`` unchanged."""
    token = token.strip("£$€%")
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", token):
        token = token.replace(",", "")
    return token


def is_number(token: str) -> bool:
    return bool(_NUMBER.match(token))


_IRREGULAR = {
    # Parliamentary synonyms: the same party or office under its everyday name.
    "tory": "conservative",
    "tories": "conservative",
    "conservatives": "conservative",
    "mps": "mp",
    "took": "take",
    "taken": "take",
    "said": "say",
    "told": "tell",
    "made": "make",
    "gave": "give",
    "given": "give",
    "met": "meet",
    "won": "win",
    "came": "come",
    "went": "go",
    "gone": "go",
    "wrote": "write",
    "written": "write",
    "spoke": "speak",
    "spoken": "speak",
    "brought": "bring",
    "thought": "think",
    "began": "begin",
    "begun": "begin",
    "held": "hold",
    "left": "leave",
    "led": "lead",
    "paid": "pay",
    "sought": "seek",
    "kept": "keep",
    "knew": "know",
    "known": "know",
    "rose": "rise",
    "risen": "rise",
    "fell": "fall",
    "fallen": "fall",
    "grew": "grow",
    "chose": "choose",
    "drew": "draw",
    "saw": "see",
    "seen": "see",
    "became": "become",
    "got": "get",
    "sent": "send",
    "spent": "spend",
    "stood": "stand",
    "lost": "lose",
    "found": "find",
    "felt": "feel",
    "heard": "hear",
    "meant": "mean",
    "put": "put",
    "set": "set",
    "cut": "cut",
    "raised": "raise",
    "children": "child",
    "women": "woman",
    "men": "man",
    "people": "people",
}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light, deterministic English stemmer: enough to match plurals and tenses."""
    w = word.lower().replace("’", "'")
    w = _IRREGULAR.get(w, w)
    if w.endswith("'s"):
        w = w[:-2]
    if is_number(w):
        return normalise_number(w)
    if len(w) <= 3:
        return w
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            if suffix == "s" and w.endswith(("ss", "us", "is")):
                return w
            w = w[: -len(suffix)] + repl
            break
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    return w


def terms(text: str, drop: frozenset[str] = STOPWORDS) -> list[str]:
    """Index terms: lowercased, stemmed, stopwords dropped; ``2015/16`` also yields ``2015``."""
    out: list[str] = []
    for word in words(text):
        lower = word.lower()
        if lower in drop:
            continue
        for piece in _pieces(lower):
            if piece not in drop:
                out.append(stem(piece))
    return out


def _pieces(word: str) -> list[str]:
    if "/" in word and not re.fullmatch(r"\d{4}/\d{2}", word):
        return [p for p in word.split("/") if p]
    if "/" in word:
        return [word]  # "2015/16" is one financial year, not the calendar year 2015
    if "-" in word:
        return [p for p in word.split("-") if p]
    if "." in word and not re.fullmatch(r"\d+\.\d+", word):
        return [p for p in word.split(".") if p]
    return [word]


def numbers(text: str) -> set[str]:
    """Normalised numbers and years in a text."""
    found = set()
    for word in words(text):
        for piece in _pieces(word.lower()):
            if is_number(piece) or piece.isdigit():
                found.add(normalise_number(piece))
    return found


def names(text: str) -> set[str]:
    """Lowercased capitalised words that are not sentence-initial stopwords (likely names)."""
    found: set[str] = set()
    toks = words(text)
    for i, word in enumerate(toks):
        if not word[:1].isupper():
            continue
        lower = word.lower()
        if lower in STOPWORDS or lower in QUESTION_WORDS:
            continue
        if i == 0 and lower in {"in", "on", "the", "a"}:
            continue
        found.update(stem(piece) for piece in _pieces(lower))  # "Clifton-Brown" as terms() has it
    return found


def is_year(token: str) -> bool:
    return bool(_YEARISH.match(token))
