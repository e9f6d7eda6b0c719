"""Build the scorer's training data (``evals/train/``) from the annotators' files and the corpora.

    python -m evals.training            # check, generate and write evals/train/*.jsonl + MANIFEST.json
    python -m evals.training --check    # rebuild in memory and fail if the committed files differ

Inputs: ``evals/train/annotated/*.jsonl``, cases written from the sources by annotators (who
wrote which is in ``evals/train/README.md``), and XQuAD English (``data/corpora/xquad-en``).
Outputs, each a gold file (``evals.gold``) never used to report quality:
- ``newsroom.jsonl``: the annotated cases over the founding article and the Hansard transcripts
  that pass every mechanical check; ``xquad-newsroom.jsonl``: those over XQuAD's articles;
- ``near-misses.jsonl``: generated unanswerables, an answerable question with its year, figure or
  name swapped for another of the same type from the same corpus (kept only when no sentence of
  any source holds the new value with the question's other key terms);
- ``xquad.jsonl``: XQuAD's own questions, each answerable against its paragraph and again, as a
  near-content unanswerable, against the other paragraphs of its article (tag ``xquad-other``).
Checks: evidence verbatim in the named source and every fact inside the evidence; for an
unanswerable, its key terms (names, numbers, the noun that sets its type) searched in every
sentence of every source, and the case dropped if one sentence holds them all; no question a
near-duplicate (word-set Jaccard >= 0.8) of a held-out question. What was dropped, and why, is
counted in ``MANIFEST.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from despatch.files import sha256
from despatch.settings import PROJECT_ROOT
from evals.gold import GoldCase, load_gold, write_gold
from evals.squad import paragraph_id

TRAIN = PROJECT_ROOT / "evals" / "train"
ANNOTATED = TRAIN / "annotated"
XQUAD_JSON = PROJECT_ROOT / "data" / "corpora" / "xquad-en" / "xquad-en.json"
NEWSROOM_SOURCES = [
    PROJECT_ROOT / "data" / "corpus",
    PROJECT_ROOT / "data" / "corpora" / "hansard-2010-immigration",
]
HELD_OUT = [
    PROJECT_ROOT / "evals" / "gold" / "heldout.jsonl",
    PROJECT_ROOT / "evals" / "gold" / "newsroom.jsonl",
]
# Held-out cases set aside because their question (or one in their history) is asked in the
# training data too; training stays clear of near-duplicates of them as well.
SET_ASIDE = PROJECT_ROOT / "evals" / "gold" / "set-aside.jsonl"
NEAR_DUPLICATE = 0.8

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)(?:/\d\d)?\b")
_FIGURE = re.compile(r"(?<![\w/])\d{1,3}(?:,\d{3})+(?![\w,])|(?<![\w/.,])\d{2,}(?![\w/.,])")
_NAME = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def xquad_texts(path: Path = XQUAD_JSON) -> dict[str, str]:
    """Each XQuAD article as the annotators saw it: ``Title.txt`` -> paragraphs joined by blank lines."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return {
        re.sub(r"[^A-Za-z0-9_]+", "_", a["title"]) + ".txt": "\n\n".join(
            p["context"] for p in a["paragraphs"]
        )
        + "\n"
        for a in data
    }


def newsroom_texts() -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8") for root in NEWSROOM_SOURCES for p in sorted(root.glob("*.txt"))
    }


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _sentences(texts: dict[str, str]) -> list[str]:
    return [s for t in texts.values() for para in t.split("\n") for s in _SENTENCE.split(para) if s.strip()]


def key_terms(question: str) -> set[str]:
    """What a sentence must hold to answer: the question's names and numbers, its focus (content
    verbs and nouns) and the noun that sets its type ("constituency" in "which constituency")."""
    from bot.questions import analyse
    from bot.text import terms

    info = analyse(question)
    return set(info.keys) | set(info.focus) | (set(terms(info.head)) if info.head else set())


def answered_somewhere(question: str, sentence_terms: list[set[str]]) -> bool:
    """Whether one sentence of the sources holds every key term of ``question``."""
    keys = key_terms(question)
    return bool(keys) and any(keys <= have for have in sentence_terms)


def check_case(case: GoldCase, texts: dict[str, str]) -> str | None:
    """Why an annotated case is rejected, or None."""
    if not case.source or case.source not in texts:
        return "unknown source"
    text = texts[case.source]
    if case.answerable:
        if not case.evidence or any(e not in text for e in case.evidence):
            return "evidence not verbatim"
        joined = " ".join(case.evidence)
        if any(not any(a in joined for a in g) for g in case.facts):
            return "fact not in evidence"
    return None


def near_duplicates(cases: list[GoldCase], held_out: list[GoldCase]) -> set[str]:
    """Ids of ``cases`` whose question is a near-duplicate of a held-out one."""
    held = [_words(c.question) for c in held_out]
    out = set()
    for c in cases:
        w = _words(c.question)
        if any(len(w & h) / max(len(w | h), 1) >= NEAR_DUPLICATE for h in held):
            out.add(c.id)
    return out


def near_misses(
    cases: list[GoldCase], texts: dict[str, str], sentence_terms: list[set[str]]
) -> list[GoldCase]:
    """One generated unanswerable per answerable case that names a year, figure or name."""
    corpus = "\n".join(texts.values())
    pools = {
        "year": sorted(set(_YEAR.findall(corpus))),
        "figure": sorted(set(_FIGURE.findall(corpus))),
        "name": sorted({n for n in _NAME.findall(corpus) if len(n) < 30}),
    }
    out = []
    for case in cases:
        if not case.answerable or case.history:
            continue
        for kind, pattern in (("year", _YEAR), ("figure", _FIGURE), ("name", _NAME)):
            m = pattern.search(case.question)
            if not m:
                continue
            value = m.group(1) if kind == "year" else m.group(0)
            pool = [v for v in pools[kind] if v != value and v not in case.question]
            if not pool:
                continue
            seed = int(hashlib.sha256(case.id.encode()).hexdigest(), 16)
            new = pool[seed % len(pool)]
            question = case.question[: m.start()] + m.group(0).replace(value, new) + case.question[m.end() :]
            if answered_somewhere(question, sentence_terms):
                continue
            out.append(
                GoldCase(
                    id=f"nm-{case.id}",
                    question=question,
                    answerable=False,
                    tags=["unanswerable", "near-miss", kind],
                    source=case.source,
                )
            )
            break
    return out


def xquad_cases(path: Path = XQUAD_JSON) -> list[GoldCase]:
    """XQuAD's questions against their paragraph, and against the other paragraphs of their article."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for article in data:
        source = re.sub(r"[^A-Za-z0-9_]+", "_", article["title"]) + ".txt"
        paras = [p["context"] for p in article["paragraphs"]]
        for i, para in enumerate(article["paragraphs"]):
            pid = paragraph_id(article["title"], i)
            for qa in para["qas"]:
                answers = list(dict.fromkeys(a["text"] for a in qa["answers"]))
                question = str(qa["question"]).strip()
                short = ["factoid"] if max(len(a.split()) for a in answers) <= 4 else []
                out.append(
                    GoldCase(
                        id=f"xq-{qa['id']}",
                        question=question,
                        answerable=True,
                        facts=[answers],
                        evidence=[answers[0]],
                        tags=["xquad", *short],
                        source=source,
                        paragraph=pid,
                    )
                )
                if any(a in other for j, other in enumerate(paras) if j != i for a in answers):
                    continue  # the answer stands in another paragraph too: not unanswerable there
                out.append(
                    GoldCase(
                        id=f"xo-{qa['id']}",
                        question=question,
                        answerable=False,
                        tags=["unanswerable", "xquad-other"],
                        source=source,
                        paragraph=pid,
                    )
                )
    return out


def xquad_corpus(out: Path, path: Path = XQUAD_JSON) -> Path:
    """XQuAD's paragraphs as a JSONL corpus (one document per paragraph, ids as ``paragraph_id``)."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for article in data:
            title = str(article["title"]).replace("_", " ")
            for i, para in enumerate(article["paragraphs"]):
                record = {
                    "id": paragraph_id(article["title"], i),
                    "title": f"{title} ({i + 1})",
                    "text": para["context"],
                    "source": f"XQuAD (en): {title}",
                }
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out


def build() -> tuple[dict[str, list[GoldCase]], dict[str, Any]]:
    """Every training file's cases, and the manifest."""
    news_texts, xq_texts = newsroom_texts(), xquad_texts()
    held = [c for p in [*HELD_OUT, SET_ASIDE] if p.exists() for c in load_gold(p)]
    dropped: Counter[str] = Counter()
    annotated: dict[str, list[GoldCase]] = {"newsroom": [], "xquad-newsroom": []}
    authors: dict[str, int] = {}
    for path in sorted(ANNOTATED.glob("*.jsonl")):
        cases = load_gold(path)
        authors[path.name] = len(cases)
        for case in cases:
            target = "xquad-newsroom" if case.source in xq_texts else "newsroom"
            annotated[target].append(case)
    sentence_terms = {
        "newsroom": [set(_terms(s)) for s in _sentences(news_texts)],
        "xquad-newsroom": [set(_terms(s)) for s in _sentences(xq_texts)],
    }
    kept: dict[str, list[GoldCase]] = {}
    for name, cases in annotated.items():
        texts = news_texts if name == "newsroom" else xq_texts
        dupes = near_duplicates(cases, held)
        good = []
        seen_q: set[str] = set()
        for case in cases:
            why = check_case(case, texts)
            q = " ".join(case.question.lower().split())
            if why is None and case.id in dupes:
                why = "near-duplicate of a held-out question"
            if why is None and q in seen_q:
                why = "duplicate question"
            if (
                why is None
                and not case.answerable
                and answered_somewhere(case.question, sentence_terms[name])
            ):
                why = "unanswerable, but one source sentence holds every key term"
            if why:
                dropped[f"{name}: {why}"] += 1
                continue
            seen_q.add(q)
            good.append(case)
        kept[name] = good
    kept["near-misses"] = near_misses(kept["newsroom"], news_texts, sentence_terms["newsroom"])
    xq = xquad_cases()
    dupes = near_duplicates(xq, held)
    kept["xquad"] = [c for c in xq if c.id not in dupes]
    dropped["xquad: near-duplicate of a held-out question"] += len(xq) - len(kept["xquad"])
    manifest = {
        "command": "python -m evals.training",
        "annotated": authors,
        "inputs": {
            p.relative_to(PROJECT_ROOT).as_posix(): sha256(p)
            for p in [*sorted(ANNOTATED.glob("*.jsonl")), XQUAD_JSON]
        },
        "files": {
            name: {
                "cases": len(cases),
                "answerable": sum(c.answerable for c in cases),
                "unanswerable": sum(not c.answerable for c in cases),
            }
            for name, cases in kept.items()
        },
        "dropped": dict(sorted(dropped.items())),
    }
    return kept, manifest


def _terms(text: str) -> list[str]:
    from bot.text import numbers, terms

    return [*terms(text), *numbers(text)]


def write(kept: dict[str, list[GoldCase]], manifest: dict[str, Any], out: Path = TRAIN) -> None:
    for name, cases in kept.items():
        write_gold(cases, out / f"{name}.jsonl")
    files = {name: sha256(out / f"{name}.jsonl") for name in kept}
    manifest = {**manifest, "sha256": files}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from bot.assembly import offline
    from despatch.settings import load_settings

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if the committed files differ from a rebuild"
    )
    args = parser.parse_args(argv)
    offline(load_settings())  # spaCy loads from disk only
    kept, manifest = build()
    if args.check:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            write(kept, manifest, Path(tmp))
            same = all(
                (Path(tmp) / f.name).read_bytes() == f.read_bytes() if f.exists() else False
                for f in [TRAIN / "MANIFEST.json", *(TRAIN / f"{n}.jsonl" for n in kept)]
            )
        print(f"training: the rebuild {'matches' if same else 'DIFFERS FROM'} {TRAIN}", file=sys.stderr)
        return 0 if same else 1
    write(kept, manifest)
    print(json.dumps(manifest["files"], indent=1))
    print(json.dumps(manifest["dropped"], indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
