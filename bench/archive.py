"""A seeded synthetic news archive built from real sentences (founding article, Hansard, SQuAD).

Documents are distinct (each has its own headline, date and mix of sentences) and article-like
(paragraphs of 2 to 5 sentences), so chunking, embedding, BM25 and Chroma see realistic text at
any size.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from pathlib import Path

from despatch.settings import PROJECT_ROOT
from index.reading import read_file
from index.sentences import sentences

DATA = PROJECT_ROOT / "data"
SOURCES = [
    DATA / "corpus",
    DATA / "corpora" / "hansard-2010-immigration",
]
SQUAD = DATA / "corpora" / "squad-v2-dev" / "squad-v2-dev-part-a.json"


@lru_cache(maxsize=1)
def sentence_pool() -> tuple[str, ...]:
    """Every sentence of the shipped corpora, in a stable order, without duplicates."""
    texts: list[str] = []
    for folder in SOURCES:
        for path in sorted(folder.glob("*.txt")):
            doc = read_file(path, 10**8)[0]
            for section in doc.sections:
                texts.append(doc.text[section.start : section.end])
    data = json.loads(SQUAD.read_text(encoding="utf-8"))
    texts += [p["context"] for a in data["data"] for p in a["paragraphs"]]
    pool: dict[str, None] = {}
    for text in texts:
        for s, e in sentences(text):
            sentence = text[s:e].strip()
            if 40 <= len(sentence) <= 400:
                pool[sentence] = None
    return tuple(pool)


def write_archive(folder: Path, documents: int, seed: int = 7, per_file: int = 1000) -> list[Path]:
    """Write ``documents`` synthetic articles as JSONL files under ``folder``; return the files."""
    pool = sentence_pool()
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    handle = None
    for i in range(documents):
        if i % per_file == 0:
            if handle:
                handle.close()
            files.append(folder / f"archive-{i // per_file:04d}.jsonl")
            handle = files[-1].open("w", encoding="utf-8")
        paragraphs = []
        for _ in range(rng.randint(3, 6)):
            paragraphs.append(" ".join(rng.choice(pool) for _ in range(rng.randint(2, 5))))
        headline_words = rng.choice(pool).split()[:8]
        record = {
            "id": f"synthetic-{seed}-{i}",
            "title": f"Archive {i}: {' '.join(headline_words)}",
            "date": f"{rng.randint(2009, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "source": "Synthetic archive",
            "text": "\n\n".join(paragraphs),
        }
        assert handle is not None
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    if handle:
        handle.close()
    return files


CACHE = PROJECT_ROOT / "bench" / ".cache"


def cached_archive(documents: int, seed: int = 7) -> list[Path]:
    """The seeded archive of ``documents`` articles (JSONL), written once under bench/.cache."""
    folder = CACHE / f"archive-ingest-{seed}-{documents}"
    done = folder / "complete"
    if not done.exists():
        files = write_archive(folder, documents, seed)
        done.write_text("\n".join(f.name for f in files), encoding="utf-8")
    return [folder / name for name in done.read_text(encoding="utf-8").split()]
