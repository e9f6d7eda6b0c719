"""Calibrate the refusal threshold on gold data.

Each gold set is answered once with the threshold at zero (so only the hard gates refuse:
instructions, names or numbers the sources lack, unsupported premises). For every
candidate threshold we then count, per set, answerable questions still answered correctly
and unanswerable ones refused, and pick the threshold with the best macro-averaged accuracy.

    python -m evals.calibrate SET=GOLD.jsonl:CORPUS [SET=...]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from evals.gold import load_gold
from evals.scoring import normalise


@dataclass(frozen=True)
class Observation:
    answerable: bool
    gated: bool  # refused by a hard gate, whatever the threshold
    confidence: float
    correct: bool  # every fact group present (answerable cases)


def observe(bot: object, gold: Path) -> list[Observation]:
    out = []
    for case in load_gold(gold):
        answer = bot.ask(case.question, case.history)  # type: ignore[attr-defined]
        text = normalise(answer.answer)
        correct = all(any(normalise(alt) in text for alt in g) for g in case.facts)
        out.append(
            Observation(case.answerable, answer.refused, float(answer.meta.get("confidence", 0)), correct)
        )
    return out


def accuracy(obs: list[Observation], threshold: float) -> tuple[float, float, float]:
    """(accuracy, answer correctness, refusal recall) at ``threshold``."""
    good = answered_ok = refused_ok = 0
    answerable = sum(1 for o in obs if o.answerable)
    for o in obs:
        refused = o.gated or o.confidence < threshold
        if o.answerable and not refused and o.correct:
            good += 1
            answered_ok += 1
        elif not o.answerable and refused:
            good += 1
            refused_ok += 1
    n_un = len(obs) - answerable
    return good / len(obs), answered_ok / max(answerable, 1), refused_ok / max(n_un, 1)


def main(argv: list[str] | None = None) -> int:
    from bot.core import Bot
    from despatch.offline import go_offline
    from despatch.settings import load_settings
    from index.embedding import SentenceTransformerEmbedder
    from index.ingest import Indexer
    from index.store import Store

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sets", nargs="+", help="NAME=GOLD:CORPUS")
    args = parser.parse_args(argv)
    observations: dict[str, list[Observation]] = {}
    embedder = None
    for spec in args.sets:
        name, rest = spec.split("=", 1)
        gold, corpus = rest.split(":", 1)
        settings = load_settings(store=Path(f"data/eval-stores/{Path(gold).stem}"), refusal_threshold=0.0)
        go_offline(settings)
        embedder = embedder or SentenceTransformerEmbedder(settings.model_path, settings.device)
        store = Store.open(settings, create=True)
        Indexer(settings, store, embedder).ingest([Path(corpus)])
        observations[name] = observe(Bot(settings, store, embedder), Path(gold))
    grid = [round(i * 0.02, 2) for i in range(0, 41)]
    scored = []
    for t in grid:
        per = {n: accuracy(o, t) for n, o in observations.items()}
        scored.append((sum(p[0] for p in per.values()) / len(per), t, per))
    best = max(scored, key=lambda s: (round(s[0], 4), -s[1]))
    header = (
        "| threshold | macro accuracy | "
        + " | ".join(f"{n}: acc / correct / refused" for n in observations)
        + " |"
    )
    print(header)
    print("|" + " --- |" * (2 + len(observations)))
    for macro, t, per in [*scored[::2], best]:
        cells = " | ".join(f"{a:.3f} / {c:.3f} / {r:.3f}" for a, c, r in per.values())
        mark = " **best**" if (t == best[1]) else ""
        print(f"| {t:.2f}{mark} | {macro:.3f} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
