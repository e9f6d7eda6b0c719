"""Convert SQuAD 2.0 JSON into a corpus (JSONL, one record per paragraph) and gold cases."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from despatch.errors import InputError
from evals.gold import GoldCase, write_gold, write_lines


def paragraph_id(title: str, index: int) -> str:
    """A paragraph's document id: a safe slug (``squad:Super_Bowl_50:3``)."""
    return f"squad:{re.sub(r'[^A-Za-z0-9._-]+', '-', title)[:100]}:{index}"


def convert(squad_json: Path, out_dir: Path, every: int = 1, name: str = "squad") -> tuple[Path, Path]:
    """Write ``<name>-corpus.jsonl`` and ``<name>.jsonl`` (gold) under ``out_dir``.

    Every paragraph becomes a corpus record whose id names it; every ``every``-th question
    becomes a gold case (answers as one fact group, ``is_impossible`` as unanswerable). The whole
    file is read before anything is written, and each output replaces the old one in one step:
    a malformed file raises ``InputError`` naming the article and leaves both outputs as they were.
    """
    try:
        data = json.loads(squad_json.read_text(encoding="utf-8"))
        articles = data["data"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(squad_json, f"not a SQuAD 2.0 file ({exc})") from exc
    records: list[dict[str, str]] = []
    cases: list[GoldCase] = []
    counter = 0
    for n, article in enumerate(articles, start=1):
        try:
            counter = _read_article(article, every, counter, records, cases)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                squad_json,
                f"article {n} is not in SQuAD 2.0's form (title, paragraphs of context and qas): "
                f"{type(exc).__name__} {exc}",
            ) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus, gold = out_dir / f"{name}-corpus.jsonl", out_dir / f"{name}.jsonl"
    write_lines(corpus, [json.dumps(record, ensure_ascii=False) for record in records])
    write_gold(cases, gold)
    return corpus, gold


def _read_article(
    article: dict[str, Any], every: int, counter: int, records: list[dict[str, str]], cases: list[GoldCase]
) -> int:
    """Append one article's paragraphs to ``records`` and its sampled questions to ``cases``;
    returns the running question count."""
    title = str(article["title"]).replace("_", " ")
    for i, para in enumerate(article["paragraphs"]):
        pid = paragraph_id(article["title"], i)
        records.append(
            {
                "id": pid,
                "title": f"{title} ({i + 1})",
                "text": str(para["context"]),
                "source": f"SQuAD 2.0 dev: {title}",
            }
        )
        for qa in para["qas"]:
            counter += 1
            if (counter - 1) % every:
                continue
            impossible = bool(qa.get("is_impossible"))
            answers = list(dict.fromkeys(str(a["text"]) for a in qa.get("answers", [])))
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
    return counter
