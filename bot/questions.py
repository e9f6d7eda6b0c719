"""What a question asks: its expected answer type, its focus, its constraints, and injections.

The analysis parses the question with spaCy (``index.nlp``): the wh-word and the noun it
governs give the expected answer type ("which party" -> organisation, "how much ... spend" ->
money), the content verbs and nouns that are not names give the focus ("resign", "stand for",
"general secretary"), and the names, places, dates and numbers are the constraints an answer
must respect. Matching elsewhere uses the light stems of ``bot.text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.records import Question
from bot.text import QUESTION_WORDS, STOPWORDS, names, numbers, stem, terms

# Expected answer types, and the spaCy entity labels that can answer each.
ENTITY_TYPES: dict[str, frozenset[str]] = {
    "person": frozenset({"PERSON"}),
    "organisation": frozenset({"ORG", "NORP"}),
    "place": frozenset({"GPE", "LOC", "FAC"}),
    "date": frozenset({"DATE", "TIME"}),
    "number": frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    "money": frozenset({"MONEY"}),
    "percent": frozenset({"PERCENT"}),
}
ANSWER_TYPES = (*ENTITY_TYPES, "reason", "definition", "say", "yesno", "vote", "other")

# The noun a "what/which" governs decides the type ("which party", "what year").
_HEAD_NOUNS: dict[str, str] = {}
for _type, _words in {
    "person": "person man woman mp minister secretary member politician leader chairman chair president "
    "king queen official spokesman spokeswoman author founder inventor scientist speaker prime mayor "
    "lord baron duke emperor ruler pope chancellor candidate footballer player actor writer poet artist "
    "soldier officer judge lawyer bishop priest doctor nurse student worker child boy girl husband wife "
    "son daughter father mother brother sister friend colleague victim citizen businessman architect "
    "engineer economist historian philosopher mathematician composer explorer general admiral "
    "commander governor senator ambassador envoy inspector journalist reporter campaigner activist "
    "individual constituent father-in-law",
    "organisation": "party organisation organization union committee department body company agency group "
    "charity institution council court firm newspaper university college school club army delegation "
    "campaign institute ministry bank church society association federation alliance coalition "
    "corporation network service force board commission authority team",
    "place": "place country city town region constituency area location state nation continent island "
    "county capital river border village province district port site airport camp",
    "date": "year date month day time century decade period era",
    "number": "number figure total amount count level quantity size population target",
    "money": "cost price money sum budget fund funding salary spending fee",
    "percent": "percentage proportion share",
}.items():
    for _w in _words.split():
        _HEAD_NOUNS[_w] = _type
_MONEY_VERBS = frozenset({"cost", "spend", "pay", "charge", "fund", "earn", "raise", "owe", "worth"})
_SAY_VERBS = frozenset(
    {
        "say",
        "tell",
        "claim",
        "argue",
        "ask",
        "admit",
        "promise",
        "warn",
        "suggest",
        "describe",
        "call",
        "urge",
    }
)
_DEFINITION = re.compile(r"\bstand(?:s)? for\b|\bshort for\b|\bfull name\b|\babbreviat|\bacronym\b", re.I)
_VOTE = re.compile(r"\bvot(?:e|ed|es|ing)\b|\bdivision\b|\bayes?\b|\bnoes\b", re.I)
_REASON = re.compile(r"^\s*(?:and\s+)?why\b|\bfor what reason\b|\bwhat (?:was|is|were) the reasons?\b", re.I)
_WEAK = frozenset({"be", "do", "have", "happen", "get", "make"})

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
    atype: str  # one of ANSWER_TYPES
    content: tuple[str, ...]  # stemmed content terms
    keys: tuple[str, ...]  # stemmed names and normalised numbers: must appear in the sources
    focus: tuple[str, ...]  # stemmed content verbs and common nouns (not names): what is asked about
    constraints: tuple[str, ...]  # names, places, dates and numbers of the question, as written
    speaker: str | None  # the person in "what did X say"
    head: str | None  # the noun that set the type: "constituency" in "which constituency"
    injection: bool
    multi: bool = False  # asks for two or more things

    @property
    def labels(self) -> frozenset[str]:
        """Entity labels that can answer the question (empty: no entity type)."""
        return ENTITY_TYPES.get(self.atype, frozenset())


def analyse(asked: Question | str) -> QuestionInfo:
    """Parse a question with spaCy and read off what it asks: its own words are parsed, and the
    earlier question it leans on (``Question.context``) gives what it asks for when its words
    don't; the key and content terms are those of the whole ``search_text``."""
    from index.nlp import pipeline

    asked = asked if isinstance(asked, Question) else Question(asked)
    question = asked.search_text
    doc = pipeline()(asked.text)
    drop = STOPWORDS | QUESTION_WORDS
    content = tuple(dict.fromkeys(terms(question, drop)))
    first = question.strip().split(" ", 1)[0]
    key_names = {n for n in names(question) if n not in terms(first, frozenset()) or first.lower() in drop}
    key_names -= {stem(g) for g in _GENERIC}
    keys = tuple(sorted(numbers(question) | (key_names - drop)))
    atype, head = _answer_type(doc, doc.text)
    head_text = doc[head].lower_ if head >= 0 else None
    if asked.context and atype == "other":
        # "What was it raised to?" asks for what the earlier question asked for.
        earlier = pipeline()(asked.context)
        atype, earlier_head = _answer_type(earlier, earlier.text)
        head_text = earlier[earlier_head].lower_ if earlier_head >= 0 else None
    speaker = _speaker(doc) if atype in ("say", "vote") else None
    entity_tokens = {t.i for e in doc.ents for t in e}
    focus: list[str] = []
    for tok in doc:
        # Our stopwords, not spaCy's: its list holds content verbs such as "take" and "call".
        if tok.i in entity_tokens or tok.lower_ in STOPWORDS or tok.i == head or not tok.is_alpha:
            continue
        lemma = tok.lemma_.lower()
        if atype == "definition" and lemma in ("stand", "mean", "short", "name"):
            continue
        phrasal = any(c.dep_ == "prt" for c in tok.children)  # "take over", "set up": not weak
        weak = lemma in _WEAK and not phrasal
        verb = tok.pos_ == "VERB" and not weak and not (atype == "say" and lemma in _SAY_VERBS)
        if verb or (tok.pos_ == "NOUN" and lemma not in QUESTION_WORDS):
            focus.append(stem(lemma))
    constraints = tuple(dict.fromkeys(e.text for e in doc.ents))
    return QuestionInfo(
        text=question,
        atype=atype,
        content=content,
        keys=keys,
        focus=tuple(dict.fromkeys(f for f in focus if f not in drop)),
        constraints=constraints,
        speaker=speaker,
        head=head_text,
        injection=bool(_INJECTION.search(question)),
        multi=bool(_MULTI.search(question)) or sum(1 for k in keys if k[:1].isdigit()) > 1,
    )


def _answer_type(doc: Any, question: str) -> tuple[str, int]:
    """The expected answer type and the index of the type's head noun (-1 when none)."""
    lemmas = {t.lemma_.lower() for t in doc}
    if _DEFINITION.search(question):
        return "definition", -1
    if _REASON.search(question):
        return "reason", -1
    wh = next((t for t in doc if t.tag_ in ("WDT", "WP", "WP$", "WRB")), None)
    if _VOTE.search(question) and (wh is None or wh.lower_ in ("how", "who")):
        return "vote", -1
    if wh is None:
        first = doc[0] if len(doc) else None
        if (first is not None and first.pos_ == "AUX") or (first is not None and first.lower_ == "and"):
            return "yesno", -1
        return "other", -1
    word = wh.lower_
    if word == "how":
        nxt = doc[wh.i + 1].lower_ if wh.i + 1 < len(doc) else ""
        if nxt == "much":
            money = bool(lemmas & _MONEY_VERBS) or bool(re.search(r"[£$€]|\bmoney\b", question))
            return ("money" if money else "number"), -1
        if nxt in ("many", "often", "old", "far", "large", "big"):
            return "number", -1
        if nxt == "long":
            return "date", -1
        return "other", -1
    if word in ("who", "whom", "whose"):
        return "person", -1
    if word == "when":
        return "date", -1
    if word == "where":
        return "place", -1
    if word in ("what", "which"):
        head = _governed_noun(doc, wh)
        if head is not None:
            found = _HEAD_NOUNS.get(head.lemma_.lower())
            if found is not None:
                return found, head.i
        if _speaker(doc) and lemmas & _SAY_VERBS:
            return "say", -1
    return "other", -1


def _governed_noun(doc: Any, wh: Any) -> Any:
    """The noun a "what"/"which" asks about: "which party", "what is the name of the union"."""
    if wh.dep_ == "det" and wh.head.pos_ in ("NOUN", "PROPN"):
        noun = wh.head
    else:
        # The parser sometimes leaves "which" unattached ("Which Conservative MP told..."):
        # the first noun after it that names a kind of answer, else the first common noun.
        after = list(doc[wh.i + 1 : wh.i + 7])
        noun = next((t for t in after if t.lemma_.lower() in _HEAD_NOUNS), None)
        noun = noun or next((t for t in after if t.pos_ == "NOUN"), None)
        if noun is None:
            return None
    # "what percentage of", "what kind of": the noun itself; "the name of the union": the union.
    if noun.lemma_.lower() in ("name", "kind", "type", "sort") and noun.i + 2 < len(doc):
        inner = next((t for t in doc[noun.i + 1 : noun.i + 5] if t.pos_ == "NOUN"), None)
        return inner or noun
    return noun


def _speaker(doc: Any) -> str | None:
    """The person a "what did X say" or "how did X vote" question names."""
    people = [e.text for e in doc.ents if e.label_ in ("PERSON", "ORG", "NORP", "GPE")]
    if people:
        return str(people[0])
    # The small model misses some names: fall back on the capitalised subject.
    subject = next((t for t in doc if t.dep_ in ("nsubj", "nsubjpass") and t.pos_ == "PROPN"), None)
    if subject is None:
        return None
    span = [t for t in subject.subtree if t.pos_ == "PROPN"]
    return " ".join(t.text for t in span) or None
