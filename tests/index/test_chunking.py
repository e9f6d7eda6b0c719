"""Chunking: offsets round-trip, budgets hold, speakers never mix, ids are deterministic."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from index.chunking import ChunkLimits, chunk_document
from index.reading import read_file
from index.sentences import sentences
from index.tokens import get_encoding
from tests.conftest import FOUNDING, HANSARD

MB = 20_000_000


@pytest.fixture(scope="module")
def count_tokens(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    enc = get_encoding("cl100k_base", tmp_path_factory.mktemp("tiktoken"))
    return lambda texts: [len(enc.encode_ordinary(t)) for t in texts]


def _chunks(path: Path, embedder, count_tokens, tokens: int = 160, overlap: int = 32):  # type: ignore[no-untyped-def]
    limits = ChunkLimits(tokens, overlap, embedder.max_wordpieces - 2)
    [doc] = read_file(path, MB)
    return doc, chunk_document(doc, limits, count_tokens, embedder.count_wordpieces)


ALL_FILES = [FOUNDING, *sorted(HANSARD.glob("*.txt"))]


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    """The model's own Hugging Face tokenizer: the reference for the 256-wordpiece limit,
    whichever embedding backend counted the wordpieces while chunking."""
    from transformers import AutoTokenizer

    from index.embedding import default_model_path

    return AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_offsets_round_trip_and_model_limit(path: Path, embedder, count_tokens, tokenizer) -> None:  # type: ignore[no-untyped-def]
    doc, chunks = _chunks(path, embedder, count_tokens)
    assert chunks
    for chunk in chunks:
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.doc_id == doc.id
        wordpieces = len(tokenizer(chunk.embedding_text(), truncation=False)["input_ids"])
        assert wordpieces <= 256, (chunk.ordinal, wordpieces)
        assert count_tokens([chunk.text])[0] <= 160 + 8  # joins may merge a token or two
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


@pytest.mark.parametrize("path", sorted(HANSARD.glob("*.txt")), ids=lambda p: p.name)
def test_transcript_chunks_never_straddle_speakers(path: Path, embedder, count_tokens) -> None:  # type: ignore[no-untyped-def]
    doc, chunks = _chunks(path, embedder, count_tokens)
    for chunk in chunks:
        owners = [s for s in doc.sections if s.start <= chunk.start and chunk.end <= s.end]
        assert len(owners) == 1
        assert chunk.meta.speaker == owners[0].speaker


def test_chunks_end_on_sentence_boundaries_and_overlap(embedder, count_tokens) -> None:  # type: ignore[no-untyped-def]
    doc, chunks = _chunks(FOUNDING, embedder, count_tokens)
    ends = {e for _, e in sentences(doc.text)}
    starts = {s for s, _ in sentences(doc.text)}
    assert all(c.end in ends and c.start in starts for c in chunks)
    assert any(b.start < a.end for a, b in itertools.pairwise(chunks))  # overlap
    assert chunks[0].start == 0 and chunks[-1].end == len(doc.text)


def test_no_overlap_when_disabled(embedder, count_tokens) -> None:  # type: ignore[no-untyped-def]
    _, chunks = _chunks(FOUNDING, embedder, count_tokens, overlap=0)
    assert all(b.start >= a.end for a, b in itertools.pairwise(chunks))


def test_long_sentence_is_split_to_fit(tmp_path: Path, embedder, count_tokens, tokenizer) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "run-on.txt"
    path.write_text("date 2020-01-01\n" + " ".join(["antidisestablishmentarianism"] * 400) + ".")
    doc, chunks = _chunks(path, embedder, count_tokens, tokens=300)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert len(tokenizer(chunk.text)["input_ids"]) <= 256


def test_ids_are_deterministic(embedder, count_tokens) -> None:  # type: ignore[no-untyped-def]
    _, first = _chunks(FOUNDING, embedder, count_tokens)
    _, again = _chunks(FOUNDING, embedder, count_tokens)
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)


def test_sentence_splitter_keeps_abbreviations() -> None:
    text = "Mr. Green spoke. Ms Rudd replied... in trying to help. The 2015/16 target was 12,000."
    spans = [text[s:e] for s, e in sentences(text)]
    assert spans == [
        "Mr. Green spoke.",
        "Ms Rudd replied... in trying to help.",
        "The 2015/16 target was 12,000.",
    ]
