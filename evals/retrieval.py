"""Retrieval comparison: recall@k and MRR of dense-only, BM25-only and hybrid search.

python -m evals.retrieval --gold GOLD.jsonl --corpus CORPUS... [--store DIR] [-k 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evals.gold import GoldCase, load_gold
from evals.scoring import normalise

MODES = ("dense", "lexical", "hybrid")


def compare(bot: Any, cases: list[GoldCase], k: int = 5) -> dict[str, dict[str, float]]:
    """For answerable cases: is the gold paragraph (or an evidence string) in the top k?"""
    results: dict[str, dict[str, float]] = {}
    for mode in MODES:
        hits, rr, n = 0, 0.0, 0
        for case in cases:
            if not case.answerable:
                continue
            rank = _rank(case, bot.search(case.question, k, mode=mode))
            n += 1
            if rank is not None:
                hits += 1
                rr += 1.0 / rank
        results[mode] = {
            "questions": n,
            f"recall@{k}": round(hits / n, 4) if n else 0.0,
            "mrr": round(rr / n, 4) if n else 0.0,
        }
    return results


def _rank(case: GoldCase, passages: list[Any]) -> int | None:
    for i, p in enumerate(passages, start=1):
        if case.paragraph is not None:
            if (p.url or p.doc_id) == case.paragraph:
                return i
        elif any(normalise(ev) in normalise(p.text) for ev in case.evidence):
            return i
    return None


def markdown(results: dict[str, dict[str, float]], k: int) -> str:
    rows = [f"| retrieval | questions | recall@{k} | MRR |", "| --- | --- | --- | --- |"]
    names = {"dense": "dense only (Chroma)", "lexical": "BM25 only", "hybrid": "hybrid (RRF)"}
    for mode, r in results.items():
        rows.append(f"| {names[mode]} | {r['questions']:g} | {r[f'recall@{k}']:.3f} | {r['mrr']:.3f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    from despatch.settings import load_settings
    from evals.runner import build_bot

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gold", required=True)
    parser.add_argument("--corpus", nargs="+", required=True)
    parser.add_argument("--store", default="data/eval-stores/retrieval")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)
    settings = load_settings(store=Path(args.store))
    bot = build_bot(settings, [Path(p) for p in args.corpus])
    results = compare(bot, load_gold(Path(args.gold)), args.k)
    print(markdown(results, args.k))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
