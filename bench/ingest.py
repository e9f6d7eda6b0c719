"""Ingestion benchmarks: overhead over the model's own encode, against LangChain, re-ingest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import summarise
from despatch.settings import load_settings


def source_bytes(paths: Sequence[Path]) -> int:
    total = 0
    for p in paths:
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file() and f.name != "SOURCES.md"]
        total += sum(f.stat().st_size for f in files)
    return total


def cli_ingest(paths: Sequence[Path], store: Path) -> tuple[float, dict[str, Any]]:
    """Wall time of `despatch ingest --json` in a fresh process (start-up and model load included)."""
    exe = Path(sys.executable).parent / "despatch"
    began = time.perf_counter()
    out = subprocess.run(
        [str(exe), "ingest", *map(str, paths), "--store", str(store), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - began, json.loads(out.stdout)


def chunk_texts(store_path: Path) -> list[str]:
    """Exactly what ingest embedded: each chunk's embedding text, read back from the store."""
    from bot.assembly import assemble
    from index.records import embedding_text

    store = assemble(load_settings(store=store_path)).store
    return [embedding_text(c.text, c.meta.speaker, c.meta.party) for c in store.iter_chunks()]


def encode_only(texts: list[str], batch_size: int) -> tuple[float, float]:
    """(seconds for the configured embedding backend's own encode of ``texts``, seconds to load
    it: model load and a warm-up batch of 8, as ingest's first batch would be)."""
    from bot.assembly import assemble

    began = time.perf_counter()
    embedder = assemble(load_settings(batch_size=batch_size)).embedder
    embedder.embed(texts[:8])
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    embedder.embed(texts)
    return time.perf_counter() - began, loaded


def langchain_ingest(paths: Sequence[Path], folder: Path, batch_size: int) -> tuple[float, int]:
    """The plain LangChain pipeline a developer would write, timed from files to persisted store:
    (seconds, chunks)."""
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from index.embedding import default_model_path

    embeddings = HuggingFaceEmbeddings(
        model_name=str(default_model_path()),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"batch_size": batch_size, "normalize_embeddings": True},
    )
    embeddings.embed_query("warm-up")
    began = time.perf_counter()
    docs: list[Document] = []
    for p in paths:
        files = (
            [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file() and f.name != "SOURCES.md")
        )
        for f in files:
            text = f.read_text(encoding="utf-8", errors="replace")
            if f.suffix == ".jsonl":
                docs += [
                    Document(page_content=json.loads(line)["text"], metadata={"source": str(f)})
                    for line in text.splitlines()
                    if line.strip()
                ]
            else:
                docs.append(Document(page_content=text, metadata={"source": str(f)}))
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    Chroma.from_documents(
        splits, embeddings, persist_directory=str(folder), collection_name="langchain-baseline"
    )
    return time.perf_counter() - began, len(splits)


def inprocess_ingest(paths: Sequence[Path], store_path: Path, embedder: Any) -> float:
    """Despatch's pipeline in a warm process (model loaded), as the LangChain one is timed."""
    from bot.assembly import assemble

    settings = load_settings(store=store_path)
    began = time.perf_counter()
    assemble(settings, create=True, embedder=embedder).indexer().ingest(list(paths))
    return time.perf_counter() - began


def run(paths: Sequence[Path], runs: int, batch_size: int = 64) -> dict[str, Any]:
    """Ingestion overhead ratio, LangChain ratio and re-ingest ratio, each over ``runs`` runs."""
    mb = source_bytes(paths) / 1e6
    from bot.assembly import assemble

    embedder = assemble(load_settings(batch_size=batch_size)).embedder
    embedder.embed(["warm-up"])
    ours, encode, lc, reingest, loads, warm = [], [], [], [], [], []
    chunks = 0
    env_store = os.environ.get("DESPATCH_STORE")
    for _ in range(runs):
        tmp = Path(tempfile.mkdtemp(prefix="despatch-bench-"))
        try:
            seconds, summary = cli_ingest(paths, tmp / "store")
            ours.append(seconds)
            chunks = summary["chunks_written"]
            again, summary2 = cli_ingest(paths, tmp / "store")
            assert summary2["chunks_written"] == 0 and summary2["unchanged"] == summary["added"]
            reingest.append(again)
            texts = chunk_texts(tmp / "store")
            t, load = encode_only(texts, batch_size)
            encode.append(t)
            loads.append(load)
            warm.append(inprocess_ingest(paths, tmp / "warm", embedder))
            lc.append(langchain_ingest(paths, tmp / "lc", batch_size)[0])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if env_store is not None:
        os.environ["DESPATCH_STORE"] = env_store
    return {
        "source_mb": round(mb, 3),
        "chunks": chunks,
        "despatch_ingest_s": summarise(ours),
        "encode_only_s": summarise(encode),
        "model_load_s": summarise(loads),
        "overhead_ratio": summarise([a / b for a, b in zip(ours, encode, strict=True)], 3),
        "overhead_ratio_excluding_model_load": summarise(
            [(a - m) / b for a, b, m in zip(ours, encode, loads, strict=True)], 3
        ),
        "chunks_per_s": summarise([chunks / a for a in ours]),
        "mb_per_s": summarise([mb / a for a in ours], 4),
        "langchain_s": summarise(lc),
        "langchain_mb_per_s": summarise([mb / a for a in lc], 4),
        "despatch_warm_s": summarise(warm),
        "despatch_warm_mb_per_s": summarise([mb / a for a in warm], 4),
        "speedup_vs_langchain": summarise([b / a for a, b in zip(warm, lc, strict=True)], 3),
        "reingest_s": summarise(reingest),
        "reingest_speedup": summarise([a / b for a, b in zip(ours, reingest, strict=True)], 1),
    }
