"""The lexical index in Tantivy (the official Python bindings of the Tantivy engine): BM25 over
the project's own terms, with the scope's fields, changed by deltas.

Tantivy is chosen by measurement (``bench/lexical-engines/``): over ``bot.text.terms`` (stems,
figures whole: "7,200" is "7200") it ranks SQuAD part A as the hand-written BM25 does (R@5
0.9468 both), and a story of five chunks is added or removed and visible in about 12 ms at
100k chunks, where the BM25 arrays are rebuilt from every chunk (16-20 s). Each view holds one
searcher, a snapshot: a view keeps answering from its own commit while the next is prepared.

The scope is applied inside the engine (documents, source, dates, tags, speaker, party), never
by a pass over every chunk; ``Filters.allows`` is the same rule, checked in tests.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import threading
import uuid
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bot.text import terms
from index.filters import Filters, name_words, party_key
from index.records import ChunkMeta, date_ord

_HEAP = 64_000_000  # the writer's memory budget (bytes)
_WORK = ".lexicon-"  # a live index's working folder: .lexicon-<pid>-<random>, beside saved views
_COPIED = ("meta.json", ".managed.json")  # rewritten in place by Tantivy: copied, never linked


def _schema() -> Any:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("chunk_id", stored=True, tokenizer_name="raw")
    sb.add_text_field("doc_id", tokenizer_name="raw")
    sb.add_text_field("text", tokenizer_name="whitespace")  # bot.text.terms, joined by spaces
    sb.add_text_field("source", tokenizer_name="raw")
    sb.add_text_field("tags", tokenizer_name="raw")
    sb.add_text_field("speaker", tokenizer_name="whitespace")  # the name's words, case-folded
    sb.add_text_field("party", tokenizer_name="raw")  # party_key
    sb.add_integer_field("date_ord", indexed=True, fast=True)
    return sb.build()


class _Live:
    """One index as it changes: Tantivy's index and its one writer, the lock that applies deltas
    one at a time, the number of the latest commit, and the working folder (None: in memory)
    that goes when the index does."""

    def __init__(self, index: Any, schema: Any, folder: Path | None) -> None:
        self.index = index
        self.schema = schema
        self.writer = index.writer(_HEAP, 1)
        self.lock = threading.Lock()
        self.commits = 0
        self.folder = folder
        if folder is not None:
            weakref.finalize(self, shutil.rmtree, folder, True)


class TantivyLexicon:
    """One commit of the lexical index: ``search`` and ``term_idf`` read its searcher.

    With a ``workroot`` (the folder of saved views), the index lives on disk in a working
    folder of its own there, so that ``save`` can keep a copy of a commit beside its view (hard
    links to Tantivy's write-once segment files) and a later start ``load``s it instead of
    indexing every chunk again. Without one it is in memory."""

    def __init__(self, live: _Live) -> None:
        self._live = live
        self._commit = live.commits
        self._schema = live.schema
        self._searcher = live.index.searcher()
        self.n = int(self._searcher.num_docs)

    @classmethod
    def build(
        cls, chunks: Iterable[tuple[str, str, ChunkMeta]], workroot: Path | None = None
    ) -> TantivyLexicon:
        """Index ``(chunk_id, lexical text, metadata)`` triples (on disk under ``workroot``)."""
        import tantivy

        schema = _schema()
        folder = _working_folder(workroot) if workroot is not None else None
        live = _Live(tantivy.Index(schema, path=str(folder) if folder else None), schema, folder)
        for chunk_id, text, meta in chunks:
            live.writer.add_document(_document(chunk_id, text, meta))
        live.writer.commit()
        live.index.reload()
        return cls(live)

    @classmethod
    def load(cls, saved: Path, workroot: Path, expected: int) -> TantivyLexicon | None:
        """The commit ``save`` kept in ``saved``, opened in a working folder of its own under
        ``workroot`` (the saved copy is never written); None when it is missing, unreadable,
        or does not hold ``expected`` chunks (the caller indexes the chunks instead)."""
        import tantivy

        folder: Path | None = None
        try:
            names = [n for n in os.listdir(saved) if not n.startswith(".tantivy-")]
            if "meta.json" not in names:
                return None
            folder = _working_folder(workroot)
            for name in names:
                _link_or_copy(saved / name, folder / name, copy=name in _COPIED)
            live = _Live(tantivy.Index.open(str(folder)), _schema(), folder)
            lexicon = cls(live)
        except (OSError, ValueError):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            return None
        return lexicon if lexicon.n == expected else None

    def save(self, dest: Path) -> bool:
        """Keep this commit in the new folder ``dest``, made in one step (a rename): its segment
        files linked, its meta copied. False, and nothing kept, when this is not the index's
        latest commit (a later view has moved it on), it is in memory, ``dest`` exists, or a
        merge removed a file meanwhile."""
        live = self._live
        tmp = dest.with_name(f".{dest.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        with live.lock:
            if live.folder is None or self._commit != live.commits or dest.exists():
                return False
            try:
                meta = (live.folder / "meta.json").read_bytes()
                segments = [s["segment_id"].replace("-", "") for s in json.loads(meta)["segments"]]
                tmp.mkdir(parents=True)
                for name in os.listdir(live.folder):
                    if name.split(".", 1)[0] in segments:
                        _link_or_copy(live.folder / name, tmp / name)
                (tmp / "meta.json").write_bytes(meta)
                tmp.rename(dest)
            except (OSError, ValueError, KeyError):
                shutil.rmtree(tmp, ignore_errors=True)
                return False
        return True

    def advanced(
        self, dropped_docs: Iterable[str], added: Iterable[tuple[str, str, ChunkMeta]]
    ) -> TantivyLexicon:
        """The next commit: every chunk of ``dropped_docs`` removed, ``added`` indexed. This
        object keeps its own snapshot."""
        live = self._live
        with live.lock:
            for doc_id in dropped_docs:
                live.writer.delete_documents_by_term("doc_id", doc_id)
            for chunk_id, text, meta in added:
                live.writer.add_document(_document(chunk_id, text, meta))
            live.writer.commit()
            live.index.reload()
            live.commits += 1
            return TantivyLexicon(live)

    def term_idf(self, term: str) -> float:
        """IDF of a stemmed term (BM25's), as the hand-written index gives it."""
        df = int(self._searcher.doc_freq("text", term)) if self.n else 0
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Top ``k`` (chunk id, BM25 score) within the scope ``filters``."""
        import tantivy

        words = list(dict.fromkeys(terms(query)))
        if not words or not self.n or k <= 0:
            return []
        q = tantivy.Query
        text = q.boolean_query([(tantivy.Occur.Should, q.term_query(self._schema, "text", w)) for w in words])
        scope = self._scope(filters) if filters is not None and not filters.empty else []
        if scope:
            musts = [(tantivy.Occur.Must, q.const_score_query(c, 0.0)) for c in scope]
            text = q.boolean_query([(tantivy.Occur.Must, text), *musts])
        hits = self._searcher.search(text, k, count=False).hits
        out = [(str(self._searcher.doc(addr).get_first("chunk_id")), float(score)) for score, addr in hits]
        return [(cid, score) for cid, score in out if score > 0.0]

    def _scope(self, f: Filters) -> list[Any]:
        import tantivy

        q, s = tantivy.Query, self._schema
        clauses: list[Any] = []
        if f.doc_ids:
            clauses.append(q.term_set_query(s, "doc_id", list(f.doc_ids)))
        if f.source:
            clauses.append(q.term_query(s, "source", f.source))
        if f.tags:
            clauses.append(q.term_set_query(s, "tags", list(f.tags)))
        if f.date_from or f.date_to:
            lo = date_ord(f.date_from) if f.date_from else 0
            hi = date_ord(f.date_to) if f.date_to else 99_991_231
            clauses.append(q.range_query(s, "date_ord", tantivy.FieldType.Integer, lo, hi))
        if f.speaker:
            words = name_words(f.speaker)
            clauses += [q.term_query(s, "speaker", w) for w in words] or [q.empty_query()]
        if f.party:
            clauses.append(q.term_query(s, "party", party_key(f.party)))
        return clauses


def _document(chunk_id: str, text: str, meta: ChunkMeta) -> Any:
    import tantivy

    fields: dict[str, Any] = {"chunk_id": chunk_id, "doc_id": meta.doc_id, "text": " ".join(terms(text))}
    if meta.source:
        fields["source"] = meta.source
    if meta.tags:
        fields["tags"] = list(meta.tags)
    if meta.speaker:
        fields["speaker"] = " ".join(name_words(meta.speaker))
    if meta.party:
        fields["party"] = party_key(meta.party)
    if meta.date_ord is not None:
        fields["date_ord"] = meta.date_ord
    return tantivy.Document(**fields)


def scoped_ids(lexicon: TantivyLexicon, filters: Filters, limit: int) -> Sequence[str]:
    """Every chunk id within ``filters`` (up to ``limit``), from the engine's filter fields."""
    import tantivy

    clauses = lexicon._scope(filters)
    if not clauses:
        return []
    q = tantivy.Query.boolean_query([(tantivy.Occur.Must, c) for c in clauses])
    hits = lexicon._searcher.search(q, limit, count=False).hits
    return [str(lexicon._searcher.doc(addr).get_first("chunk_id")) for _, addr in hits]


def _working_folder(workroot: Path) -> Path:
    """A new working folder under ``workroot``, after removing those of processes that are gone
    (a process killed before its index was released leaves its folder behind)."""
    workroot.mkdir(parents=True, exist_ok=True)
    for old in workroot.glob(f"{_WORK}*"):
        pid = old.name[len(_WORK) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    folder = workroot / f"{_WORK}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _link_or_copy(src: Path, dest: Path, copy: bool = False) -> None:
    """A hard link (segment files are never rewritten), or a copy across file systems."""
    if not copy:
        with contextlib.suppress(OSError):
            os.link(src, dest)
            return
    shutil.copy2(src, dest)
