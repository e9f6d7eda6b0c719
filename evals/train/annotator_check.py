#!/usr/bin/env python3
# Kept as the annotators ran it (its paths are those of their workspace); the build re-checks every
# case itself (evals/training.py).
"""Check a case file: python3 /work/annot/check.py FILE.jsonl  (prints problems and counts)."""
import json, sys, pathlib, collections
ROOTS = [pathlib.Path("/work/shared/articles"), pathlib.Path("/work/shared/corpora/hansard-2010-immigration"), pathlib.Path("/work/annot/xquad")]
texts = {p.name: p.read_text(encoding="utf-8") for r in ROOTS for p in r.glob("*.txt")}
KINDS = {"year-figure", "attribute", "unsaid", "followup", "near-topic"}
bad = 0; n = collections.Counter(); ids = set(); qs = set()
for i, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    if not line.strip(): continue
    try: c = json.loads(line)
    except Exception as e: print(f"line {i}: not JSON: {e}"); bad += 1; continue
    err = []
    for k in ("id", "question", "answerable", "source"):
        if k not in c: err.append(f"missing {k}")
    if err: print(f"line {i}: {err}"); bad += 1; continue
    if c["id"] in ids: err.append("duplicate id")
    ids.add(c["id"])
    qk = " ".join(c["question"].lower().split())
    if qk in qs: err.append("duplicate question")
    qs.add(qk)
    src = texts.get(c["source"])
    if src is None: err.append(f"unknown source {c['source']!r}")
    if c["answerable"] is True:
        ev = c.get("evidence") or []; facts = c.get("facts") or []
        if not ev: err.append("no evidence")
        if not facts: err.append("no facts")
        for e in ev:
            if src is not None and e not in src: err.append(f"evidence not verbatim in source: {e[:60]!r}")
        for g in facts:
            if not g or not any(a in " ".join(ev) for a in g): err.append(f"fact group {g} not found in evidence")
        n["answerable"] += 1
    elif c["answerable"] is False:
        if c.get("facts") or c.get("evidence"): err.append("unanswerable with facts/evidence")
        kinds = set(c.get("tags", [])) & KINDS
        if "unanswerable" not in c.get("tags", []) or len(kinds) != 1: err.append("tags need 'unanswerable' and one kind")
        n["unanswerable"] += 1; n.update(kinds)
    else: err.append("answerable must be true/false")
    if c.get("history") and not isinstance(c["history"], list): err.append("history must be a list")
    if err: print(f"line {i} ({c.get('id')}): " + "; ".join(err)); bad += 1
print(f"{bad} bad lines; counts: {dict(n)}")
