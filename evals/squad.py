"""Convert SQuAD 2.0 JSON into a corpus (JSONL, one record per paragraph) and gold cases."""

from __future__ import annotations

import json
import re
from pathlib import Path

from despatch.errors import InputError
from evals.gold import GoldCase, write_gold


def paragraph_id(title: str, index: int) -> str:
    """A paragraph's document id: a safe slug (``squad:Super_Bowl_50:3``)."""
    return f"squad:{re.sub(r'[^A-Za-z0-9._-]+', '-', title)[:100]}:{index}"


def convert(squad_json: Path, out_dir: Path, every: int = 1, name: str = "squad") -> tuple[Path, Path]:
    """Write ``<name>-corpus.jsonl`` and ``<name>.jsonl`` (gold) under ``out_dir``.

    Every paragraph becomes a corpus record whose id names it; every ``every``-th question
    becomes a gold case (answers as one fact group, ``is_impossible`` as unanswerable).
    """
    try:
        data = json.loads(squad_json.read_text(encoding="utf-8"))
        articles = data["data"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(squad_json, f"not a SQuAD 2.0 file ({exc})") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus, gold = out_dir / f"{name}-corpus.jsonl", out_dir / f"{name}.jsonl"
    cases: list[GoldCase] = []
    counter = 0
    with corpus.open("w", encoding="utf-8") as fh:
        for article in articles:
            title = str(article["title"]).replace("_", " ")
            for i, para in enumerate(article["paragraphs"]):
                pid = paragraph_id(article["title"], i)
                record = {
                    "id": pid,
                    "title": f"{title} ({i + 1})",
                    "text": para["context"],
                    "source": f"SQuAD 2.0 dev: {title}",
                }
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                for qa in para["qas"]:
                    counter += 1
                    if (counter - 1) % every:
                        continue
                    impossible = bool(qa.get("is_impossible"))
                    answers = list(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                    if not impossible and not answers:
                        continue
                    cases.append(
                        GoldCase(
                            id=str(qa["id"]),
                            question=str(qa["question"]).strip(),
                            answerable=not impossible,
                            facts=[] if impossible else [answers],
                            evidence=[] if impossible else [answers[0]],
                            tags=["squad", title]
                            + (["unanswerable"] if impossible else [])
                            + (["factoid"] if answers and max(len(a.split()) for a in answers) <= 4 else []),
                            paragraph=pid,
                        )
                    )
    write_gold(cases, gold)
    return corpus, gold
