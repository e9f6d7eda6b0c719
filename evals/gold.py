"""Gold cases: JSONL, one per line, validated with line numbers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from despatch.errors import InputError


@dataclass(frozen=True)
class GoldCase:
    """One question with what a correct, well-cited answer must contain."""

    id: str
    question: str
    answerable: bool
    facts: list[list[str]] = field(default_factory=list)  # one alternative from every group
    evidence: list[str] = field(default_factory=list)  # each inside some citation's quote
    history: list[Any] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    paragraph: str | None = None  # SQuAD: url of the gold paragraph, for retrieval scoring
    source: str | None = None  # the source file the case was written from (training data)


def load_gold(path: Path) -> list[GoldCase]:
    """Read and validate a gold file; a bad line is an error naming the line."""
    cases: list[GoldCase] = []
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(path, f"cannot read gold file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 (byte {exc.start}); save the gold file as UTF-8") from exc
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            case = _case(raw)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}:{lineno}", f"{exc}; fix this gold line (see evals/README.md)") from exc
        if case.id in seen:
            raise InputError(f"{path}:{lineno}", f"duplicate id {case.id!r}; give each case its own id")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise InputError(path, "no gold cases")
    return cases


FIELDS = {"id", "question", "answerable", "facts", "evidence", "history", "tags", "paragraph", "source"}
# Read by the LLM gate's scripted model (tests/scripted_llm.py), not by the scorer.
SCRIPT_FIELDS = {"reply", "rewrite"}


def _strings(raw: dict[str, Any], key: str) -> list[str]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'"{key}" must be a list of strings')
    return value


def _case(raw: dict[str, Any]) -> GoldCase:
    if not isinstance(raw, dict):
        raise ValueError("a case is a JSON object")
    unknown = sorted(set(raw) - FIELDS - SCRIPT_FIELDS)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (the fields are: {', '.join(sorted(FIELDS))})")
    for key in ("id", "question", "answerable"):
        if key not in raw:
            raise ValueError(f'missing field "{key}"')
    if not isinstance(raw["id"], str | int) or isinstance(raw["id"], bool) or not str(raw["id"]).strip():
        raise ValueError('"id" must be a non-empty string')
    if not isinstance(raw["question"], str) or not raw["question"].strip():
        raise ValueError('"question" must be a non-empty string')
    if not isinstance(raw["answerable"], bool):
        raise ValueError('"answerable" must be true or false')
    groups = raw.get("facts") or []
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and all(isinstance(a, str) for a in g) for g in groups
    ):
        raise ValueError('"facts" must be a list of lists of strings, e.g. [["7,200", "7200"], ["12,000"]]')
    facts = [list(group) for group in groups]
    evidence = _strings(raw, "evidence")
    _strings(raw, "tags")
    if not isinstance(raw.get("history") or [], list):
        raise ValueError('"history" must be a list of earlier questions')
    answerable = raw["answerable"]
    if not answerable and (facts or evidence):
        raise ValueError("an unanswerable case has no facts or evidence")
    if answerable and not facts:
        raise ValueError("an answerable case needs at least one fact group")
    if any(not group for group in facts):
        raise ValueError("empty fact group")
    return GoldCase(
        id=str(raw["id"]),
        question=str(raw["question"]),
        answerable=answerable,
        facts=facts,
        evidence=evidence,
        history=list(raw.get("history") or []),
        tags=[str(t) for t in raw.get("tags") or []],
        paragraph=raw.get("paragraph"),
        source=raw.get("source"),
    )


def write_gold(cases: list[GoldCase], path: Path) -> None:
    """Write ``cases`` as a gold file (JSONL), replacing ``path`` in one step."""
    from dataclasses import asdict

    rows = []
    for case in cases:
        row = {k: v for k, v in asdict(case).items() if v not in (None, [], "")}
        row["answerable"] = case.answerable
        rows.append(json.dumps(row, ensure_ascii=False))
    write_lines(path, rows)


def write_lines(path: Path, lines: list[str]) -> None:
    """Write ``lines`` to ``path`` through a temporary file beside it, so a reader (or a crash)
    sees the old file or the whole new one, never part of it."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in lines)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
