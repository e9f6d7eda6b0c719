"""The fit's training questions: every candidate sentence the answerer would consider, labelled.

Each training set (``training_sets``: SQuAD 2.0 dev part A, the gold sets ``founding``,
``hansard`` and ``dev``, and the files of ``evals/train/``) is indexed in an eval store of its
own and asked through the answerer's own ``candidates()``; a ``Question`` keeps its candidates'
feature rows, their texts (for the reader) and their labels (``label``). ``load_training``
caches each set's questions in a pickle keyed by the set's sha256 and what a question holds;
``attach_reader`` adds the reader's out-of-fold logits (``python -m evals.reader --folds``).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from despatch.files import sha256
from despatch.settings import PROJECT_ROOT, Settings
from evals.gold import GoldCase, load_gold
from evals.scoring import normalise

SQUAD_JSON = PROJECT_ROOT / "data" / "corpora" / "squad-v2-dev" / "squad-v2-dev-part-a.json"
GOLD = PROJECT_ROOT / "evals" / "gold"
CORPUS = PROJECT_ROOT / "data" / "corpus"
HANSARD = PROJECT_ROOT / "data" / "corpora" / "hansard-2010-immigration"
TRAIN = PROJECT_ROOT / "evals" / "train"
XQUAD_CORPUS = PROJECT_ROOT / "data" / "eval-stores" / "fit-xquad" / "xquad-corpus.jsonl"
READER_OOF = TRAIN / "reader-oof-listwise.json"  # python -m evals.reader --folds
GOLD_SETS: dict[str, list[Path]] = {
    "founding": [CORPUS],
    "hansard": [HANSARD],
    "dev": [CORPUS, HANSARD],
}
# The eval store each set's corpus is indexed in (the rest: founding article + Hansard).
STORES = {
    "squad": "fit-squad",
    "founding": "fit-founding",
    "hansard": "fit-hansard",
    "xquad": "fit-xquad",
    "xquad-newsroom": "fit-xquad",
}
# evals/train/<name>.jsonl and the corpus each is asked against.
TRAIN_SETS: dict[str, list[Path]] = {
    "newsroom": [CORPUS, HANSARD],
    "near-misses": [CORPUS, HANSARD],
    "xquad": [XQUAD_CORPUS],
    "xquad-newsroom": [XQUAD_CORPUS],
}


@dataclass
class Question:
    """One training question: its candidate rows and labels."""

    set: str
    group: str
    case: GoldCase
    gated: bool  # refused by a hard gate before the model is asked
    x: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    texts: tuple[str, ...] = ()  # each candidate sentence as the scorer reads it (with its speaker)
    reader: np.ndarray | None = None  # the reader's out-of-fold logit per candidate (NaN: not read)


def label(sentence: str, case: GoldCase) -> float:
    """1.0 when ``sentence`` holds a gold answer and, where the evidence is longer than the
    answer, overlaps it (a "Conservative" elsewhere does not answer "which party is he from")."""
    if not case.answerable:
        return 0.0
    text = normalise(sentence)
    if not any(normalise(a) in text for g in case.facts for a in g):
        return 0.0
    evidence = [normalise(e) for e in case.evidence]
    facts = {normalise(a) for g in case.facts for a in g}
    long = [e for e in evidence if e not in facts]
    if not long:
        return 1.0
    words = set(text.split())
    return float(
        any(e in text or text in e or len(words & set(e.split())) >= 0.5 * len(set(e.split())) for e in long)
    )


def _scope(case: GoldCase, paragraphs: dict[str, list[str]]) -> Any:
    """The scope a training question is asked in: XQuAD's ``xquad-other`` cases are asked
    against the other paragraphs of their article only."""
    from bot.retrieval import Filters

    if "xquad-other" not in case.tags or not case.paragraph:
        return None
    article = case.paragraph.rsplit(":", 1)[0]
    return Filters(doc_ids=tuple(d for d in paragraphs.get(article, []) if d != case.paragraph))


def extract(bot: Any, cases: list[GoldCase], set_name: str, group: Any) -> list[Question]:
    """Candidate features and labels for every case, exactly as the answerer computes them."""
    from bot.answering import attributed
    from bot.followup import resolve
    from bot.questions import analyse

    answerer = bot.extractive
    paragraphs: dict[str, list[str]] = {}
    for doc in bot.store.documents():
        paragraphs.setdefault(doc.id.rsplit(":", 1)[0], []).append(doc.id)
    out = []
    for i, case in enumerate(cases, start=1):
        if i % 100 == 0:
            print(f"fit: {set_name}: {i}/{len(cases)}", file=sys.stderr, flush=True)
        resolved = resolve(case.question, case.history)
        retrieval = bot.retriever.search(resolved.search_text, bot.settings.top_k, _scope(case, paragraphs))
        info = analyse(resolved)
        q = Question(set_name, group(case), case, answerer.gate(info, retrieval.passages) is not None)
        if not q.gated:
            cands = answerer.candidates(info, retrieval.passages, retrieval.query_vector)
            q.x = np.asarray([c.x for c in cands], dtype=float).reshape(len(cands), -1)
            q.texts = tuple(attributed(c.sentence.text, c.passage) for c in cands)
            q.y = np.asarray([label(text, case) for text in q.texts])
        out.append(q)
    return out


def _group(name: str) -> Any:
    """The fold group of a case: its source document (SQuAD, XQuAD: its article)."""
    if name == "squad":
        return lambda c: f"squad:{c.tags[1]}"
    if name in GOLD_SETS:
        return lambda c, n=name: f"gold:{n}"
    return lambda c, n=name: f"{'xquad' if n.startswith('xquad') else 'news'}:{c.source or n}"


def training_sets() -> list[tuple[str, Path, list[Path]]]:
    """(name, gold file, corpus) of every training set."""
    from evals.squad import convert
    from evals.training import xquad_corpus

    work = PROJECT_ROOT / "data" / "eval-stores"
    corpus, gold = convert(SQUAD_JSON, work / "fit-squad", every=1, name="squad-part-a")
    xquad_corpus(XQUAD_CORPUS)
    return (
        [("squad", gold, [corpus])]
        + [(n, GOLD / f"{n}.jsonl", paths) for n, paths in GOLD_SETS.items()]
        + [(n, TRAIN / f"{n}.jsonl", paths) for n, paths in TRAIN_SETS.items()]
    )


def load_training(
    settings: Settings, cache: Path | None = None, only: set[str] | None = None
) -> list[Question]:
    """Index each training corpus (idempotently) and extract every training question; with
    ``cache``, a set whose gold file and features are unchanged is read from its pickle there."""
    from bot.answerability import FEATURES, Model
    from bot.assembly import assemble
    from evals.runner import build_bot

    # One ONNX thread: extraction runs a question at a time, and parallel runs share the cores.
    embedder = assemble(settings.model_copy(update={"embed_threads": 1})).embedder
    work = PROJECT_ROOT / "data" / "eval-stores"
    questions: list[Question] = []
    for name, gold_path, paths in training_sets():
        if only and name not in only:
            continue
        recipe = " ".join(("texts", *FEATURES)).encode()  # what a cached question holds
        key = hashlib.sha256(gold_path.read_bytes() + recipe).hexdigest()[:16]
        cached = cache / f"{name}-{key}.pkl" if cache else None
        if cached and cached.exists():
            with cached.open("rb") as fh:
                questions += _Unpickler(fh).load()
            continue
        s = settings.model_copy(update={"store": work / STORES.get(name, "fit-newsroom")})
        bot = build_bot(s, paths, embedder=embedder, scorer=Model.untrained())
        cases = load_gold(gold_path)
        print(f"fit: extracting {len(cases)} {name} questions", file=sys.stderr, flush=True)
        extracted = extract(bot, cases, name, _group(name))
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with cached.open("wb") as fh:
                pickle.dump(extracted, fh)
        questions += extracted
    return questions


def attach_reader(questions: list[Question], path: Path = READER_OOF) -> bool:
    """Give each question the reader's out-of-fold logits (``python -m evals.reader --folds``);
    False when there are none yet (the reader's class is then not fitted)."""
    if not path.exists():
        return False
    logits = json.loads(path.read_text(encoding="utf-8"))["logits"]
    for q in questions:
        q.reader = np.asarray(
            [logits.get(f"{q.set}:{q.case.id}:{i}", np.nan) for i in range(len(q.y))], dtype=float
        )
    return True


class _Unpickler(pickle.Unpickler):
    """Reads caches written before ``Question`` moved here from ``evals.fit`` (or by ``python -m
    evals.fit``, as ``__main__``): the cache key does not change with the module's name."""

    def find_class(self, module: str, name: str) -> Any:
        if name == "Question" and module in ("__main__", "evals.fit"):
            module = __name__
        return super().find_class(module, name)


def training_files() -> dict[str, str]:
    """Each training set's file and its sha256, as the model files name them."""
    return {
        "squad": f"{SQUAD_JSON.relative_to(PROJECT_ROOT)} sha256:{sha256(SQUAD_JSON)}",
        **{n: f"evals/gold/{n}.jsonl sha256:{sha256(GOLD / f'{n}.jsonl')}" for n in GOLD_SETS},
        **{n: f"evals/train/{n}.jsonl sha256:{sha256(TRAIN / f'{n}.jsonl')}" for n in TRAIN_SETS},
    }
