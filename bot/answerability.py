"""Does a sentence *answer* the question, or is it only *about* it?

Each candidate sentence of the retrieved passages is described by a few features: how much
of the question it covers (lexically and by embedding), whether it covers the question's focus
and constraints (in the sentence, or in a window with its neighbours), and whether it holds,
as information the question does not already give, something of the expected answer type
near the words it shares with the question. A logistic model turns the features into the
probability that the sentence answers; its weights and the refusal threshold are data
(``bot/answerability.json``), fitted by ``python -m evals.fit`` on named gold data.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from bot.questions import QuestionInfo
from bot.text import numbers, terms

if TYPE_CHECKING:
    from bot.scorer import Candidates
from index.nlp import Entity

MODEL_PATH = Path(__file__).with_name("answerability.json")

FEATURES = (
    "dense",  # cosine similarity of question and sentence
    "lexical",  # IDF-weighted share of the question's content words in the sentence (and speaker)
    "lexical_window",  # the same over the sentence and its neighbours
    "focus",  # share of the question's focus (content verbs, common nouns) in the sentence
    "focus_window",
    "keys",  # share of the question's names and numbers in the sentence
    "numbers",  # share of the question's numbers and years in the sentence (a year is decisive)
    "keys_window",
    "typed",  # the question expects an entity type (person, date, number...) or an expansion
    "type_hit",  # the sentence holds a new entity of that type (or the acronym's expansion)
    "type_near",  # ... close to the words it shares with the question
    "special_hit",  # reason, quotation or vote cue, for the question types without entities
    "untyped",  # the question expects no particular kind of answer ("what", yes/no)
    "novelty",  # share of the sentence's words the question does not already give
    "rank",  # 1 / (1 + the passage's retrieval rank)
    "fragment",  # a very short sentence
    "speaker_match",  # a transcript turn by the person the question names
    "missing",  # the rarest question word absent from the window (IDF, relative to the question's rarest)
    "bigrams",  # share of the question's adjacent content-word pairs found adjacent in the sentence
    "dense_typed",  # dense x type_hit: similar *and* holding the expected kind of answer
    "lexical_typed",  # lexical x type_hit
)

_ACRONYM = re.compile(r"\(([A-Z]{2,})\)")
_REASON_CUE = re.compile(
    r"\b(?:because|due to|owing to|as a result|in order to|so that|since|reason|led to|caused|after|over)\b",
    re.I,
)
_QUOTE_CUE = re.compile(r"[“”\"]|\b(?:said|says|told|claimed|argued|warned|admitted|called)\b")
_VOTE_CUE = re.compile(r"\bvot(?:e|ed|es|ing)\b|\bayes?\b|\bnoes\b|\bdivision\b", re.I)


@dataclass(frozen=True)
class Sentence:
    """One candidate sentence with what the features need; offsets are document offsets."""

    start: int
    end: int
    text: str
    terms: frozenset[str]
    window_terms: frozenset[str]  # the sentence and its neighbours in the passage
    entities: tuple[Entity, ...]  # document offsets
    context_terms: frozenset[str]  # speaker, party
    speaker: str | None
    party: str | None
    rank: int
    dense: float
    lexical: float
    lexical_window: float
    missing: float = 0.0
    bigrams: float = 0.0


def answer_entities(info: QuestionInfo, sentence: Sentence) -> list[Entity]:
    """Entities of the expected type that the question does not already name."""
    if not info.labels:
        return []
    asked = info.text.lower()
    given = set(info.content) | set(info.keys)
    out = []
    for e in sentence.entities:
        text = sentence.text[e.start - sentence.start : e.end - sentence.start]
        before = sentence.text[max(e.start - sentence.start - 1, 0) : e.start - sentence.start]
        # The small model often tags "£20,000" as a plain number: the currency sign decides.
        money = info.atype == "money" and e.label == "CARDINAL" and (before in "£$€" and before != "")
        if e.label not in info.labels and not money:
            continue
        # Already in the question: "Ms Rudd" when it asks about Rudd, "the Home Office".
        words = set(terms(text))
        if words and (words <= given or (e.label == "PERSON" and words & given)):
            continue
        if text.lower() in asked or not text.strip():
            continue
        out.append(e)
    return out


def expansion(sentence: Sentence, acronym: str | None = None) -> tuple[int, int] | None:
    """Document offsets of an acronym's expansion: "Immigration Compliance and Enforcement (ICE)"."""
    for m in _ACRONYM.finditer(sentence.text):
        if acronym and m.group(1) != acronym:
            continue
        letters = m.group(1)
        before = sentence.text[: m.start()].rstrip()
        words = list(re.finditer(r"[A-Za-z][\w’'-]*", before))
        picked: list[re.Match[str]] = []
        initials = ""
        for w in reversed(words):
            picked.insert(0, w)
            if w.group(0)[0].isupper():
                initials = w.group(0)[0] + initials
            if initials == letters:
                return sentence.start + picked[0].start(), sentence.start + picked[-1].end()
            if len(picked) > len(letters) * 2:
                break
    return None


def answer_order(p: np.ndarray, rows: np.ndarray) -> list[int]:
    """Candidate indices as the answerer ranks them: sentences holding all the question's
    numbers first (a year or figure the question names is a constraint), then by ``p``;
    ties keep the candidates' order."""
    keeps = np.asarray(rows)[:, FEATURES.index("numbers")] >= 1.0
    return [int(i) for i in np.lexsort((-np.asarray(p), ~keeps))]


def features(info: QuestionInfo, sentence: Sentence, question_terms: frozenset[str]) -> list[float]:
    """The feature vector of ``sentence`` for ``info``, in the order of ``FEATURES``."""
    have = sentence.terms | sentence.context_terms
    window = sentence.window_terms | sentence.context_terms
    focus = set(info.focus)
    keys = set(info.keys)
    typed = bool(info.labels) or info.atype == "definition"
    hits = answer_entities(info, sentence)
    speaker_hit = _speaker_answers(info, sentence)
    defined = info.atype == "definition" and expansion(sentence) is not None
    type_hit = typed and (bool(hits) or speaker_hit or defined)
    near = 0.0
    if hits:
        anchors = _anchor_offsets(sentence, question_terms)
        if anchors:
            dist = min(abs((e.start + e.end) / 2 - a) for e in hits for a in anchors)
            near = math.exp(-dist / 60.0)
        else:
            near = 0.3
    elif speaker_hit or defined:
        near = 1.0
    novelty = len(sentence.terms - question_terms) / max(len(sentence.terms), 1)
    return [
        sentence.dense,
        sentence.lexical,
        sentence.lexical_window,
        _share(focus, have),
        _share(focus, window),
        _share(keys, have),
        _share({k for k in keys if k[:1].isdigit()}, have | numbers(sentence.text)),
        _share(keys, window),
        float(typed),
        float(type_hit),
        near,
        float(_special(info, sentence)),
        float(info.atype in ("other", "yesno")),
        novelty,
        1.0 / (1 + sentence.rank),
        float(len(sentence.text) < 25),
        float(_speaks(info, sentence)),
        sentence.missing,
        sentence.bigrams,
        sentence.dense * float(type_hit),
        sentence.lexical * float(type_hit),
    ]


def _share(wanted: set[str], have: frozenset[str] | set[str]) -> float:
    return len(wanted & have) / len(wanted) if wanted else 1.0


def _anchor_offsets(sentence: Sentence, question_terms: frozenset[str]) -> list[float]:
    from bot.text import stem

    out = []
    for m in re.finditer(r"[A-Za-z0-9][\w’'/,.-]*", sentence.text):
        if stem(m.group(0).lower().rstrip(".,")) in question_terms:
            out.append(sentence.start + (m.start() + m.end()) / 2)
    return out


def _speaker_answers(info: QuestionInfo, sentence: Sentence) -> bool:
    """A transcript turn answers "who asked/said..." with its speaker, "which party" with the party."""
    if not sentence.speaker:
        return False
    if info.atype == "person":
        return sentence.speaker.lower() not in info.text.lower()
    if info.atype == "organisation" and sentence.party:
        return _speaks(info, sentence) or bool(sentence.context_terms & set(info.keys))
    return False


def _speaks(info: QuestionInfo, sentence: Sentence) -> bool:
    if not info.speaker or not sentence.speaker:
        return False
    wanted = set(terms(info.speaker))
    return bool(wanted) and wanted <= set(terms(sentence.speaker))


def _special(info: QuestionInfo, sentence: Sentence) -> bool:
    if info.atype == "reason":
        return bool(_REASON_CUE.search(sentence.text))
    if info.atype == "say":
        return _speaks(info, sentence) or bool(_QUOTE_CUE.search(sentence.text))
    if info.atype == "vote":
        return bool(_VOTE_CUE.search(sentence.text))
    return False


@dataclass(frozen=True)
class Model:
    """A logistic model over standardised features, and the refusal threshold: the
    ``logistic`` ``SentenceScorer``."""

    name: ClassVar[str] = "logistic"

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    source: Path | None = field(default=None, compare=False)  # the file it was loaded from

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Model:
        from despatch.errors import ConfigError

        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            model = cls(
                tuple(raw["features"]),
                tuple(raw["mean"]),
                tuple(raw["scale"]),
                tuple(raw["weights"]),
                float(raw["bias"]),
                float(raw["threshold"]),
                path,
            )
        except (OSError, KeyError, TypeError, ValueError) as exc:
            missing = f"no field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ConfigError(
                f"Cannot read the logistic answerability model {path} ({missing}); point "
                "DESPATCH_ANSWER_MODEL at a logistic model file such as bot/answerability.json (for "
                "bot/models/boosted.json set DESPATCH_SCORER=boosted), or refit with: python -m evals.fit"
            ) from exc
        if not 0.0 <= model.threshold <= 1.0:
            raise ConfigError(
                f"{path} has threshold {model.threshold}, not a probability; refit with: python -m evals.fit"
            )
        if model.features != FEATURES:
            raise ConfigError(
                f"{path} was fitted for other features ({', '.join(model.features)}); "
                "refit it with: python -m evals.fit"
            )
        return model

    @classmethod
    def untrained(cls) -> Model:
        """All weights zero: what the fitting command starts from (features need no weights)."""
        n = len(FEATURES)
        return cls(FEATURES, (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0, 0.5)

    def score(self, candidates: Candidates) -> np.ndarray:
        """P(answers) for each candidate (the ``SentenceScorer`` method): its feature row."""
        return self.predict(candidates.rows)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """P(answers) for each row of raw features."""
        if len(rows) == 0:
            return np.zeros(0)
        z = (rows - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = z @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-logits))
