"""Compare lexical engines for the project: its own BM25, tantivy (Python bindings) and SQLite FTS5.

Run:  /work/scratch/lexical/venv/bin/python /work/scratch/lexical/measure.py
Writes /work/scratch/lexical/results.json.  Speed tests for each engine run in a child process
(this same script with --child ENGINE) so that each one's peak RSS is its own; crash tests run a
child writer (--crash-writer) that is killed with SIGKILL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, "/work/main")  # the project's bot.text and bot.lexical (numpy + stdlib only)

import numpy as np  # noqa: E402
import tantivy  # noqa: E402

from bot.lexical import BM25  # noqa: E402
from bot.text import STOPWORDS, terms  # noqa: E402

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
SQUAD = Path("/work/main/data/corpora/squad-v2-dev/squad-v2-dev-part-a.json")
CORPUS = WORK / "corpus.jsonl"
QUESTIONS = WORK / "questions.json"
N_DOCS = 20_000          # x 5 chunks = 100,000 chunks
CHUNKS_PER_DOC = 5
WORDS_PER_CHUNK = 120
TOPK = 30                 # the project's HybridRetriever.candidates
HEAP = 64_000_000         # tantivy writer heap
SEED = 7
FTS_PRETOK_TOKENCHARS = "'.,$%€/"   # every non-alphanumeric char bot.text.terms emits on SQuAD


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def dir_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def pct(xs, q):
    return float(np.percentile(np.asarray(xs), q))


# Copied from /work/main/bot/retrieval.py (_lexical_text), which cannot be imported without the
# project's heavier dependencies: speaker and title are prepended to the chunk text.
def lexical_text(text: str, speaker: str | None, title: str | None) -> str:
    extra = " ".join(v for v in (speaker, title) if v)
    return f"{extra} {text}" if extra else text


def pretok(text: str) -> str:
    return " ".join(terms(text))


def uniq(seq):
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


# ------------------------------------------------------------------------------------------
# Engines: one small adapter per variant, used for the quality runs (in memory / temp dirs)
# and the speed runs (on disk).
# ------------------------------------------------------------------------------------------
EN_STEM = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)  # the same chain as tantivy's built-in "en_stem" tokenizer, to analyse queries in Python
DEFAULT_AN = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .build()
)  # tantivy's built-in "default" tokenizer (no stemming)


class Tantivy:
    """tokenizer: 'en_stem' / 'default' (tantivy analyses raw text) or 'whitespace' (pre-tokenised)."""

    def __init__(self, tokenizer: str, path: Path | None = None):
        self.tokenizer = tokenizer
        self.pre = tokenizer == "whitespace"
        sb = tantivy.SchemaBuilder()
        sb.add_text_field("chunk_id", stored=True, tokenizer_name="raw")
        sb.add_text_field("doc_id", stored=False, tokenizer_name="raw")
        sb.add_text_field("text", stored=False, tokenizer_name=tokenizer)
        self.schema = sb.build()
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
            self.index = tantivy.Index(self.schema, path=str(path), reuse=False)
        else:
            self.index = tantivy.Index(self.schema)
        self.writer = self.index.writer(HEAP, 1)

    def add(self, chunk_id: str, doc_id: str, text: str, pre: str | None = None):
        body = (pre if pre is not None else pretok(text)) if self.pre else text
        self.writer.add_document(tantivy.Document(chunk_id=chunk_id, doc_id=doc_id, text=body))

    def commit(self):
        self.writer.commit()
        self.index.reload()  # make the new commit visible to index.searcher()

    def delete_doc(self, doc_id: str):
        self.writer.delete_documents_by_term("doc_id", doc_id)

    def qterms(self, query: str) -> list[str]:
        if self.pre:
            return uniq(terms(query))
        an = EN_STEM if self.tokenizer == "en_stem" else DEFAULT_AN
        return uniq(an.analyze(query))

    def text_query(self, query: str):
        qs = [(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "text", t)) for t in self.qterms(query)]
        return tantivy.Query.boolean_query(qs) if qs else None

    def search(self, query: str, k: int, doc_id: str | None = None) -> list[str]:
        q = self.text_query(query)
        if q is None:
            return []
        if doc_id is not None:
            filt = tantivy.Query.const_score_query(tantivy.Query.term_query(self.schema, "doc_id", doc_id), 0.0)
            q = tantivy.Query.boolean_query([(tantivy.Occur.Must, q), (tantivy.Occur.Must, filt)])
        s = self.index.searcher()
        hits = s.search(q, k, count=False).hits
        return [s.doc(addr).get_first("chunk_id") for _score, addr in hits]

    def finish_merges(self):
        """Wait for background merges (consumes the writer) and open a new one."""
        self.writer.wait_merging_threads()
        self.writer = self.index.writer(HEAP, 1)
        self.writer.garbage_collect_files()
        self.index.reload()


def fts_quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class FTS5:
    """tokenizer: 'porter unicode61' on raw text, or 'pretok' = unicode61 with tokenchars on
    bot.text.terms output.  A side table maps rowid -> doc_id (indexed) for deletes/filters."""

    def __init__(self, mode: str, path: Path | None = None):
        self.mode = mode
        self.pre = mode == "pretok"
        target = ":memory:" if path is None else str(path)
        if path is not None and path.exists():
            path.unlink()
        self.conn = sqlite3.connect(target, isolation_level=None)  # autocommit; explicit BEGIN
        if path is not None:
            self.conn.execute("PRAGMA journal_mode=WAL")
        tok = "porter unicode61" if not self.pre else "unicode61 tokenchars '" + FTS_PRETOK_TOKENCHARS.replace("'", "''") + "'"
        self.conn.execute(
            f"CREATE VIRTUAL TABLE fts USING fts5(text, chunk_id UNINDEXED, doc_id UNINDEXED, tokenize = \"{tok}\")"
        )
        self.conn.execute("CREATE TABLE meta(rowid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL)")
        self.conn.execute("CREATE INDEX meta_doc ON meta(doc_id)")
        self.next_rowid = 1
        self.reader = self.conn if path is None else sqlite3.connect(target, isolation_level=None)
        self.in_tx = False
        self.drop_stop = False

    def begin(self):
        if not self.in_tx:
            self.conn.execute("BEGIN")
            self.in_tx = True

    def add(self, chunk_id: str, doc_id: str, text: str, pre: str | None = None):
        self.begin()
        body = (pre if pre is not None else pretok(text)) if self.pre else text
        r = self.next_rowid
        self.next_rowid += 1
        self.conn.execute("INSERT INTO fts(rowid, text, chunk_id, doc_id) VALUES (?,?,?,?)", (r, body, chunk_id, doc_id))
        self.conn.execute("INSERT INTO meta(rowid, doc_id) VALUES (?,?)", (r, doc_id))

    def add_many(self, rows):
        """rows: iterable of (chunk_id, doc_id, body) with body already in the indexed form."""
        self.begin()
        batch = []
        for chunk_id, doc_id, body in rows:
            batch.append((self.next_rowid, body, chunk_id, doc_id))
            self.next_rowid += 1
            if len(batch) >= 5000:
                self._flush(batch)
                batch = []
        self._flush(batch)

    def _flush(self, batch):
        self.conn.executemany("INSERT INTO fts(rowid, text, chunk_id, doc_id) VALUES (?,?,?,?)", batch)
        self.conn.executemany("INSERT INTO meta(rowid, doc_id) VALUES (?,?)", [(b[0], b[3]) for b in batch])

    def commit(self):
        if self.in_tx:
            self.conn.execute("COMMIT")
            self.in_tx = False

    def delete_doc(self, doc_id: str):
        self.begin()
        self.conn.execute("DELETE FROM fts WHERE rowid IN (SELECT rowid FROM meta WHERE doc_id = ?)", (doc_id,))
        self.conn.execute("DELETE FROM meta WHERE doc_id = ?", (doc_id,))

    def delete_doc_unindexed(self, doc_id: str):
        """Naive: filter on the UNINDEXED column (scans every row of the FTS content table)."""
        self.begin()
        self.conn.execute("DELETE FROM fts WHERE doc_id = ?", (doc_id,))
        self.conn.execute("DELETE FROM meta WHERE doc_id = ?", (doc_id,))

    def match_expr(self, query: str) -> str | None:
        if self.pre:
            qs = uniq(terms(query))
        else:
            # let FTS5's own tokenizer analyse each whitespace word inside a quoted string;
            # drop words with no letter/digit (an empty phrase is a syntax error)
            qs = uniq(w for w in query.split() if re.search(r"\w", w))
            if self.drop_stop:
                qs = [w for w in qs if re.sub(r"\W", "", w.lower()) not in STOPWORDS]
        return " OR ".join(fts_quote(t) for t in qs) if qs else None

    def search(self, query: str, k: int, doc_id: str | None = None, how: str = "meta") -> list[str]:
        m = self.match_expr(query)
        if m is None:
            return []
        if doc_id is None:
            sql, args = "SELECT chunk_id FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT ?", (m, k)
        elif how == "unindexed":
            sql = "SELECT chunk_id FROM fts WHERE fts MATCH ? AND doc_id = ? ORDER BY rank LIMIT ?"
            args = (m, doc_id, k)
        else:
            sql = ("SELECT chunk_id FROM fts WHERE fts MATCH ? AND rowid IN "
                   "(SELECT rowid FROM meta WHERE doc_id = ?) ORDER BY rank LIMIT ?")
            args = (m, doc_id, k)
        return [r[0] for r in self.reader.execute(sql, args)]


class ProjectBM25:
    def __init__(self, docs):
        self.bm25 = BM25.build(docs)

    def search(self, query: str, k: int, doc_id=None) -> list[str]:
        return [i for i, _ in self.bm25.search(query, k)]


VARIANTS = {
    "project_bm25": None,
    "tantivy_en_stem": ("tantivy", "en_stem"),
    "tantivy_default": ("tantivy", "default"),
    "tantivy_pretok_whitespace": ("tantivy", "whitespace"),
    "fts5_porter_unicode61": ("fts5", "porter"),
    "fts5_pretok_unicode61": ("fts5", "pretok"),
}


def make_engine(name: str, docs: list[tuple[str, str, str]], path: Path | None = None):
    """docs: (chunk_id, doc_id, text)."""
    if name == "project_bm25":
        return ProjectBM25((c, t) for c, _d, t in docs)
    kind, tok = VARIANTS[name]
    eng = Tantivy(tok, path) if kind == "tantivy" else FTS5(tok, path)
    for c, d, t in docs:
        eng.add(c, d, t)
    eng.commit()
    return eng


# ------------------------------------------------------------------------------------------
# 1. Quality on SQuAD part A
# ------------------------------------------------------------------------------------------
def load_squad():
    data = json.loads(SQUAD.read_text(encoding="utf-8"))
    paras, qs = [], []
    for art in data["data"]:
        for p in art["paragraphs"]:
            pid = f"p{len(paras)}"
            paras.append((pid, art["title"], p["context"]))
            for qa in p["qas"]:
                if not qa.get("is_impossible") and qa.get("answers"):
                    qs.append((qa["question"], pid))
    return paras, qs


def quality(results):
    paras, qs = load_squad()
    log(f"quality: {len(paras)} paragraphs, {len(qs)} answerable questions")
    docs = [(pid, pid, ctx) for pid, _title, ctx in paras]
    out = {}
    for name in VARIANTS:
        eng = make_engine(name, docs)
        r1 = r5 = rr = 0.0
        for q, gold in qs:
            ranked = eng.search(q, 100)
            if gold in ranked:
                rank = ranked.index(gold) + 1
                rr += 1.0 / rank
                r1 += rank == 1
                r5 += rank <= 5
        n = len(qs)
        out[name] = {"recall@1": round(r1 / n, 4), "recall@5": round(r5 / n, 4), "mrr": round(rr / n, 4)}
        log(f"  {name:28s} {out[name]}")
    results["quality_squad_part_a"] = {
        "paragraphs": len(paras), "answerable_questions": len(qs),
        "ranked_depth_for_mrr": 100, "doc_text": "context only (no title)", "variants": out,
    }

    # figure case: "7,200" indexed, "7200" searched (and the reverse)
    fig_docs = [
        ("f1", "f1", "The stadium was built for 7,200 people in the town."),
        ("f2", "f2", "The council approved a budget for the new library."),
        ("f3", "f3", "Some 7200 seats were sold for the final match."),
    ]
    fig = {}
    for name in VARIANTS:
        eng = make_engine(name, fig_docs)
        fig[name] = {
            'query "7200" finds doc with "7,200 people"': "f1" in eng.search("7200", 5),
            'query "7,200" finds doc with "7200 seats"': "f3" in eng.search("7,200", 5),
            'top hit for "7200 people"': (eng.search("7200 people", 5) or [None])[0],
        }
        log(f"  figure {name:28s} {fig[name]}")
    results["figure_case"] = fig


# ------------------------------------------------------------------------------------------
# 2. Speed on a synthetic archive
# ------------------------------------------------------------------------------------------
SPEAKERS = [
    "Damian Green", "Theresa May", "Yvette Cooper", "Keith Vaz", "Chris Grayling", "Diane Abbott",
    "Philip Hollobone", "Caroline Lucas", "Nick Clegg", "David Davis", "Jack Straw", "Alan Johnson",
]


def build_corpus(results):
    paras, qs = load_squad()
    sents = []
    for _pid, title, ctx in paras:
        for s in re.split(r"(?<=[.!?])\s+", ctx):
            if len(s.split()) >= 4:
                sents.append((title, s))
    rng = random.Random(SEED)
    WORK.mkdir(parents=True, exist_ok=True)
    t_tok = 0.0
    n_words = 0
    with CORPUS.open("w", encoding="utf-8") as f:
        for d in range(N_DOCS + 10):  # the last 10 docs are held back for the "add" test
            doc_id = f"doc-{d:06d}"
            title, _ = rng.choice(sents)
            title = f"{title.replace('_', ' ')} debate {d % 997}"
            speaker = rng.choice(SPEAKERS)
            for c in range(CHUNKS_PER_DOC):
                words = []
                while len(words) < WORDS_PER_CHUNK:
                    words.extend(rng.choice(sents)[1].split())
                body = " ".join(words[:WORDS_PER_CHUNK])
                if d >= N_DOCS:
                    body += f" zebrafig{d} 7,{d % 1000:03d}"  # a marker for visibility checks
                text = lexical_text(body, speaker, title)
                t0 = time.perf_counter()
                pre = pretok(text)
                t_tok += time.perf_counter() - t0
                n_words += len(text.split())
                f.write(json.dumps({"c": f"{doc_id}#{c}", "d": doc_id, "t": text, "p": pre}, ensure_ascii=False) + "\n")
            if d % 5000 == 0:
                log(f"  corpus: {d} docs")
    rng2 = random.Random(SEED + 1)
    sample = [q for q, _ in rng2.sample(qs, 200)]
    filt_docs = [f"doc-{rng2.randrange(N_DOCS):06d}" for _ in sample]
    QUESTIONS.write_text(json.dumps({"questions": sample, "filter_docs": filt_docs}), encoding="utf-8")
    results["speed_corpus"] = {
        "chunks": N_DOCS * CHUNKS_PER_DOC, "documents": N_DOCS, "chunks_per_document": CHUNKS_PER_DOC,
        "words_per_chunk_body": WORDS_PER_CHUNK, "avg_words_per_indexed_chunk": round(n_words / ((N_DOCS + 10) * CHUNKS_PER_DOC), 1),
        "text": "sentences sampled (seed 7) from SQuAD part A contexts, speaker + title prepended as in _lexical_text",
        "source_sentences": len(sents), "corpus_bytes": CORPUS.stat().st_size,
        "bot_text_terms_seconds_for_all_chunks": round(t_tok, 2),
        "queries": "200 answerable SQuAD part A questions (seed 8)", "topk": TOPK,
    }
    log(f"corpus written: {CORPUS.stat().st_size/1e6:.1f} MB, terms() took {t_tok:.1f}s")


def iter_corpus(limit_docs=N_DOCS):
    with CORPUS.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if int(r["d"][4:]) >= limit_docs:
                continue
            yield r


def held_back():
    return [r for r in iter_corpus(N_DOCS + 10) if int(r["d"][4:]) >= N_DOCS]


def timed(fn, *a):
    t0 = time.perf_counter()
    v = fn(*a)
    return (time.perf_counter() - t0) * 1000, v


def child(engine: str) -> dict:
    """Speed tests of one engine at 100k chunks; returns a dict (printed as JSON)."""
    qd = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    questions, filt_docs = qd["questions"], qd["filter_docs"]
    res = {"engine": engine, "rss_mb_before_build_VmRSS": round(rss_now_mb(), 1),
           "ru_maxrss_mb_at_start_inherited_from_parent": round(rss_mb(), 1)}
    path = WORK / f"idx-{engine}"
    shutil.rmtree(path, ignore_errors=True)
    if path.with_suffix(".db").exists():
        path.with_suffix(".db").unlink()
    log(f"[{engine}] build ...")
    t0 = time.perf_counter()
    if engine == "project_bm25":
        eng = ProjectBM25((r["c"], r["t"]) for r in iter_corpus())
        res["build_s"] = round(time.perf_counter() - t0, 2)
        lat = [timed(eng.search, q, TOPK)[0] for q in questions]
        res["query_ms_p50"] = round(pct(lat, 50), 3)
        res["query_ms_p95"] = round(pct(lat, 95), 3)
        path.mkdir(parents=True)
        eng.bm25.save(path)
        res["saved_size_mb"] = round(dir_size(path) / 1e6, 1)
        res["peak_rss_mb_VmHWM"] = round(hwm_mb(), 1)
        res["peak_rss_mb_ru_maxrss"] = round(rss_mb(), 1)
        shutil.rmtree(path, ignore_errors=True)
        return res
    kind, tok = VARIANTS[engine]
    if kind == "tantivy":
        eng = Tantivy(tok, path)
        n = 0
        for r in iter_corpus():
            eng.writer.add_document(tantivy.Document(chunk_id=r["c"], doc_id=r["d"], text=r["p"] if eng.pre else r["t"]))
            n += 1
            if n % 25000 == 0:
                log(f"[{engine}]   {n} added")
        eng.commit()
        res["build_s"] = round(time.perf_counter() - t0, 2)
        res["size_mb_after_commit"] = round(dir_size(path) / 1e6, 1)
        res["segments_after_commit"] = eng.index.searcher().num_segments
        t1 = time.perf_counter()
        eng.finish_merges()
        res["wait_merges_s"] = round(time.perf_counter() - t1, 2)
        res["segments_after_merges"] = eng.index.searcher().num_segments
        res["num_docs"] = eng.index.searcher().num_docs
        res["peak_rss_mb_VmHWM_after_build"] = round(hwm_mb(), 1)
    else:
        db = path.with_suffix(".db")
        eng = FTS5(tok, db)
        eng.add_many((r["c"], r["d"], r["p"] if eng.pre else r["t"]) for r in iter_corpus())
        eng.commit()
        res["build_s"] = round(time.perf_counter() - t0, 2)
        res["size_mb_after_commit"] = round(dir_size(db) / 1e6, 1)
        t1 = time.perf_counter()
        eng.conn.execute("INSERT INTO fts(fts) VALUES('optimize')")
        eng.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        res["optimize_s"] = round(time.perf_counter() - t1, 2)
        res["num_docs"] = eng.reader.execute("SELECT count(*) FROM fts").fetchone()[0]
        res["peak_rss_mb_VmHWM_after_build"] = round(hwm_mb(), 1)
        path = db
    res["index_size_mb"] = round(sum(dir_size(p) for p in WORK.glob(path.name + "*")) / 1e6, 1)
    log(f"[{engine}] built in {res['build_s']}s, {res['index_size_mb']} MB")

    # queries (warm: one pass first)
    for q in questions[:20]:
        eng.search(q, TOPK)
    lat = [timed(eng.search, q, TOPK)[0] for q in questions]
    res["query_ms_p50"], res["query_ms_p95"] = round(pct(lat, 50), 3), round(pct(lat, 95), 3)
    lat = [timed(eng.search, q, TOPK, d)[0] for q, d in zip(questions, filt_docs)]
    res["filtered_query_ms_p50"], res["filtered_query_ms_p95"] = round(pct(lat, 50), 3), round(pct(lat, 95), 3)
    # correctness of the filter: every hit is in the document
    bad = sum(any(not h.startswith(d + "#") for h in eng.search(q, TOPK, d)) for q, d in zip(questions, filt_docs))
    res["filtered_hits_outside_doc"] = bad
    if kind == "fts5":
        lat = [timed(eng.search, q, TOPK, d, "unindexed")[0] for q, d in zip(questions[:50], filt_docs[:50])]
        res["filtered_query_unindexed_col_ms_p50"] = round(pct(lat, 50), 3)
        res["filtered_query_unindexed_col_ms_p95"] = round(pct(lat, 95), 3)
        if not eng.pre:
            eng.drop_stop = True
            lat = [timed(eng.search, q, TOPK)[0] for q in questions]
            res["query_stopwords_dropped_ms_p50"], res["query_stopwords_dropped_ms_p95"] = round(pct(lat, 50), 3), round(pct(lat, 95), 3)
            lat = [timed(eng.search, q, TOPK, d)[0] for q, d in zip(questions, filt_docs)]
            res["filtered_query_stopwords_dropped_ms_p50"] = round(pct(lat, 50), 3)
            res["filtered_query_stopwords_dropped_ms_p95"] = round(pct(lat, 95), 3)
            eng.drop_stop = False
        res["filtered_query_plan"] = [
            r[-1] for r in eng.reader.execute(
                "EXPLAIN QUERY PLAN SELECT chunk_id FROM fts WHERE fts MATCH 'x' AND rowid IN "
                "(SELECT rowid FROM meta WHERE doc_id = 'd') ORDER BY rank LIMIT 30")
        ]
    log(f"[{engine}] query p50 {res['query_ms_p50']} ms, filtered p50 {res['filtered_query_ms_p50']} ms")

    # incremental add: 1 document of 5 chunks -> commit -> reader reload -> found
    new = held_back()
    add_ms, visible, parts = [], [], []
    for k in range(10):
        d = f"doc-{N_DOCS + k:06d}"
        rows = [r for r in new if r["d"] == d]
        t0 = time.perf_counter()
        for r in rows:
            eng.add(r["c"], r["d"], r["t"], r["p"])
        t1 = time.perf_counter()
        if kind == "tantivy":
            eng.writer.commit()
            t2 = time.perf_counter()
            eng.index.reload()
        else:
            eng.commit()  # COMMIT; the separate reader connection sees it at its next statement
            t2 = time.perf_counter()
        t3 = time.perf_counter()
        hits = eng.search(f"zebrafig{N_DOCS + k}", 10)
        t4 = time.perf_counter()
        add_ms.append((t4 - t0) * 1000)
        parts.append({"add": round((t1 - t0) * 1000, 1), "commit": round((t2 - t1) * 1000, 1),
                      "reload": round((t3 - t2) * 1000, 1), "search": round((t4 - t3) * 1000, 1)})
        visible.append(len(hits) == CHUNKS_PER_DOC)
    res["add_breakdown_ms"] = parts
    res["add_doc_commit_reload_ms_each"] = [round(x, 1) for x in add_ms]
    res["add_doc_commit_reload_ms_median"] = round(statistics.median(add_ms), 1)
    res["add_visible_after_reload"] = all(visible)
    log(f"[{engine}] add 5-chunk doc + commit + reload: {res['add_doc_commit_reload_ms_each']} ms, visible={all(visible)}")

    # delete one document's chunks by doc_id, commit, reload; check they are gone
    del_ms, gone = [], []
    rng = random.Random(SEED + 2)
    victims = [f"doc-{rng.randrange(N_DOCS):06d}" for _ in range(5)]
    for d in victims + [f"doc-{N_DOCS:06d}"] + [f"doc-{rng.randrange(N_DOCS):06d}" for _ in range(4)]:
        t0 = time.perf_counter()
        eng.delete_doc(d)
        eng.commit()  # tantivy: writer.commit() + index.reload()
        del_ms.append((time.perf_counter() - t0) * 1000)
        gone.append(eng.search("the of and debate", TOPK, d) == [])
    res["delete_doc_commit_reload_ms_each"] = [round(x, 1) for x in del_ms]
    res["delete_doc_commit_reload_ms_median"] = round(statistics.median(del_ms), 1)
    res["deleted_not_found"] = all(gone)
    res["zebrafig_deleted_doc_gone"] = eng.search(f"zebrafig{N_DOCS}", 10) == []
    if kind == "fts5":
        d = f"doc-{rng.randrange(N_DOCS):06d}"
        t0 = time.perf_counter()
        eng.delete_doc_unindexed(d)
        eng.commit()
        res["delete_doc_by_unindexed_column_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        res["num_docs_end"] = eng.reader.execute("SELECT count(*) FROM fts").fetchone()[0]
    else:
        res["num_docs_end"] = eng.index.searcher().num_docs
        res["segments_end"] = eng.index.searcher().num_segments
    log(f"[{engine}] delete doc + commit + reload: {res['delete_doc_commit_reload_ms_each']} ms, gone={all(gone)}")
    res["index_size_mb_end"] = round(sum(dir_size(p) for p in WORK.glob(path.name + "*")) / 1e6, 1)
    res["peak_rss_mb_VmHWM"] = round(hwm_mb(), 1)
    res["peak_rss_mb_ru_maxrss"] = round(rss_mb(), 1)
    return res


def speed(results):
    log("speed: building synthetic corpus")
    build_corpus(results)
    out = {}
    for engine in ["project_bm25", "tantivy_en_stem", "tantivy_pretok_whitespace", "fts5_porter_unicode61", "fts5_pretok_unicode61"]:
        t0 = time.time()
        p = subprocess.run([sys.executable, __file__, "--child", engine], stdout=subprocess.PIPE, text=True)
        if p.returncode != 0:
            out[engine] = {"error": f"child exited {p.returncode}"}
        else:
            out[engine] = json.loads(p.stdout.strip().splitlines()[-1])
        out[engine]["child_wall_s"] = round(time.time() - t0, 1)
        results["speed"] = out
        save(results)
    for p in WORK.glob("idx-*"):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()


# ------------------------------------------------------------------------------------------
# 3. Crash safety: kill -9 a writer mid-write
# ------------------------------------------------------------------------------------------
def small_rows(n, start=0):
    rng = random.Random(start)
    words = "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega river bridge council".split()
    for i in range(start, start + n):
        yield f"c{i}", f"d{i // 5}", " ".join(rng.choice(words) for _ in range(60)) + f" 7,200 item{i}"


def crash_writer(engine: str, mode: str, path: str):
    """Child: writes to an existing index until killed.  mode 'nocommit' adds forever without
    committing (tantivy) / inside one open transaction (FTS5); 'commitloop' commits every 50 docs."""
    i = 1000
    if engine == "tantivy":
        idx = tantivy.Index.open(path)
        # smallest heap tantivy allows, so that uncommitted segments get flushed to disk
        w = idx.writer(16_000_000, 1)
        print("ready", flush=True)
        while True:
            for c, d, t in small_rows(50, i):
                w.add_document(tantivy.Document(chunk_id=c, doc_id=d, text=t))
            i += 50
            if mode == "commitloop":
                w.commit()
            print(i - 1000, flush=True)
    else:
        conn = sqlite3.connect(path, isolation_level=None)
        if mode == "nocommit":
            conn.execute("BEGIN")
        print("ready", flush=True)
        r = 1000
        while True:
            if mode == "commitloop":
                conn.execute("BEGIN")
            for c, d, t in small_rows(50, i):
                r += 1
                conn.execute("INSERT INTO fts(rowid, text, chunk_id, doc_id) VALUES (?,?,?,?)", (r, t, c, d))
                conn.execute("INSERT INTO meta(rowid, doc_id) VALUES (?,?)", (r, d))
            i += 50
            if mode == "commitloop":
                conn.execute("COMMIT")
            print(i - 1000, flush=True)


def crash(results):
    out = {}
    for engine in ("tantivy", "fts5"):
        for mode in ("nocommit", "commitloop"):
            name = f"{engine}_{mode}"
            base = WORK / f"crash-{name}"
            shutil.rmtree(base, ignore_errors=True)
            for p in WORK.glob(f"crash-{name}.db*"):
                p.unlink()
            if engine == "tantivy":
                eng = Tantivy("en_stem", base)
            else:
                eng = FTS5("porter", base.with_suffix(".db"))
            for c, d, t in small_rows(1000):
                eng.add(c, d, t)
            eng.commit()
            del eng
            target = str(base if engine == "tantivy" else base.with_suffix(".db"))
            p = subprocess.Popen([sys.executable, __file__, "--crash-writer", engine, mode, target], stdout=subprocess.PIPE, text=True)
            p.stdout.readline()
            time.sleep(4.0)
            files_before_kill = sorted(os.listdir(base)) if engine == "tantivy" else sorted(x.name for x in WORK.glob(f"crash-{name}.db*"))
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            lines = p.stdout.read().split()
            r = {"killed_with": "SIGKILL after 4 s of writing", "files_at_kill": len(files_before_kill),
                 "docs_added_by_child_before_kill": int(lines[-1]) if lines else 0}
            if engine == "tantivy":
                r["bytes_at_kill"] = dir_size(base)
                idx = tantivy.Index.open(target)
                idx.reload()
                s = idx.searcher()
                r["files_at_reopen"] = len(os.listdir(base))
                r["num_docs_after"] = s.num_docs
                r["num_docs_is_1000_plus_multiple_of_50"] = (s.num_docs - 1000) % 50 == 0
                q = tantivy.Query.term_query(idx.schema, "text", "item5")
                r["search_ok"] = len(s.search(q, 5).hits) == 1
                w = idx.writer(HEAP, 1)  # lock file is released by the OS on kill
                r["new_writer_ok"] = True
                w.add_document(tantivy.Document(chunk_id="x", doc_id="x", text="afterkill"))
                w.commit()
                w.garbage_collect_files()
                w.wait_merging_threads()
                idx.reload()
                r["write_after_kill_ok"] = idx.searcher().num_docs == s.num_docs + 1
                r["bytes_after_gc"] = dir_size(base)
                r["files_after_gc"] = len(os.listdir(base))
            else:
                conn = sqlite3.connect(target, isolation_level=None)
                r["wal_bytes_at_open"] = (Path(target + "-wal").stat().st_size if Path(target + "-wal").exists() else 0)
                n_fts = conn.execute("SELECT count(*) FROM fts").fetchone()[0]
                n_meta = conn.execute("SELECT count(*) FROM meta").fetchone()[0]
                r["num_docs_after"] = n_fts
                r["fts_and_meta_counts_equal"] = n_fts == n_meta
                r["num_docs_is_1000_plus_multiple_of_50"] = (n_fts - 1000) % 50 == 0
                r["pragma_integrity_check"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
                try:
                    conn.execute("INSERT INTO fts(fts, rank) VALUES('integrity-check', 1)")
                    r["fts5_integrity_check"] = "ok"
                except sqlite3.DatabaseError as e:
                    r["fts5_integrity_check"] = f"error: {e}"
                r["search_ok"] = len(conn.execute("SELECT rowid FROM fts WHERE fts MATCH '\"item5\"'").fetchall()) == 1
                conn.execute("BEGIN")
                conn.execute("INSERT INTO fts(rowid, text, chunk_id, doc_id) VALUES (999999,'afterkill','x','x')")
                conn.execute("COMMIT")
                r["write_after_kill_ok"] = conn.execute("SELECT count(*) FROM fts WHERE fts MATCH 'afterkill'").fetchone()[0] == 1
                conn.close()
            out[name] = r
            log(f"crash {name}: {r}")
            shutil.rmtree(base, ignore_errors=True)
            for p2 in WORK.glob(f"crash-{name}.db*"):
                p2.unlink()

    # tantivy reader reload policies: does a second Index object see another writer's commit?
    base = WORK / "reload-test"
    shutil.rmtree(base, ignore_errors=True)
    eng = Tantivy("en_stem", base)
    eng.add("a", "a", "first")
    eng.commit()
    other = tantivy.Index.open(str(base))  # default reader policy (OnCommit)
    manual = tantivy.Index.open(str(base))
    manual.config_reader("Manual")
    eng.add("b", "b", "second")
    eng.writer.commit()
    t0 = time.perf_counter()
    seen = None
    while time.perf_counter() - t0 < 5:
        if other.searcher().num_docs == 2:
            seen = time.perf_counter() - t0
            break
        time.sleep(0.01)
    before = manual.searcher().num_docs
    manual.reload()
    out["tantivy_reader_visibility"] = {
        "oncommit_policy_seen_after_s": None if seen is None else round(seen, 3),
        "manual_policy_num_docs_before_reload": before,
        "manual_policy_num_docs_after_reload": manual.searcher().num_docs,
    }
    log(f"reload: {out['tantivy_reader_visibility']}")
    shutil.rmtree(base, ignore_errors=True)
    results["crash_safety"] = out


def pitfalls(results):
    """Small checks of behaviours that bit or could bite an integration."""
    out = {}
    q = "What's the 7,200 (sq. ft) area: AND -Normans?"
    base = WORK / "pitfall-tantivy"
    shutil.rmtree(base, ignore_errors=True)
    eng = Tantivy("en_stem", base)
    eng.add("a", "doc-1", "The Normans area was 7,200 sq ft")
    eng.commit()
    try:
        eng.index.parse_query(q, ["text"])
        out["tantivy_parse_query_raw_question"] = "ok"
    except Exception as e:  # noqa: BLE001
        out["tantivy_parse_query_raw_question"] = f"{type(e).__name__}: {e}"
    pq, errs = eng.index.parse_query_lenient(q, ["text"])
    out["tantivy_parse_query_lenient"] = {"query": repr(pq)[:200], "errors": len(errs)}
    try:
        tantivy.Index.open(str(base)).writer(HEAP, 1)
        out["tantivy_second_writer_while_first_open"] = "ok (unexpected)"
    except Exception as e:  # noqa: BLE001
        out["tantivy_second_writer_while_first_open"] = f"{type(e).__name__}: {e}"
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("doc_id", stored=True)  # 'default' tokenizer
    ix = tantivy.Index(sb.build())
    w = ix.writer(HEAP, 1)
    w.add_document(tantivy.Document(doc_id="Doc-1"))
    w.commit()
    w.delete_documents_by_term("doc_id", "Doc-1")
    w.commit()
    ix.reload()
    out["tantivy_delete_by_term_on_default_tokenized_id_field_deleted"] = ix.searcher().num_docs == 0
    shutil.rmtree(base, ignore_errors=True)
    f = FTS5("porter")
    f.add("a", "doc-1", "The Normans area was 7,200 sq ft")
    f.commit()
    try:
        f.conn.execute("SELECT rowid FROM fts WHERE fts MATCH ?", (q,)).fetchall()
        out["fts5_match_raw_question"] = "ok"
    except sqlite3.Error as e:
        out["fts5_match_raw_question"] = f"{type(e).__name__}: {e}"
    out["fts5_quoted_terms_or_hits"] = len(f.search(q, 5))
    try:
        f.conn.execute("CREATE VIRTUAL TABLE c USING fts5(text, content='', contentless_delete=1)")
        out["fts5_contentless_delete"] = "supported"
    except sqlite3.Error as e:
        out["fts5_contentless_delete"] = f"{type(e).__name__}: {e} (needs SQLite >= 3.43)"
    results["pitfalls"] = out
    log(f"pitfalls: {out}")


def save(results):
    (HERE / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--crash-writer", nargs=3)
    ap.add_argument("--only", help="comma list of phases: quality,speed,crash")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child)))
        return
    if a.crash_writer:
        crash_writer(*a.crash_writer)
        return
    phases = (a.only or "quality,pitfalls,crash,speed").split(",")
    results = json.loads((HERE / "results.json").read_text()) if (HERE / "results.json").exists() and a.only else {}
    results["versions"] = {
        "python": sys.version.split()[0], "tantivy": tantivy.__version__ if hasattr(tantivy, "__version__") else None,
        "sqlite": sqlite3.sqlite_version, "numpy": np.__version__,
        "cpus": os.cpu_count(), "tantivy_writer": f"heap {HEAP} bytes, num_threads=1",
    }
    try:
        from importlib.metadata import version
        results["versions"]["tantivy_pypi"] = version("tantivy")
    except Exception:
        pass
    t0 = time.time()
    if "quality" in phases:
        quality(results)
        save(results)
    if "pitfalls" in phases:
        pitfalls(results)
        save(results)
    if "crash" in phases:
        crash(results)
        save(results)
    if "speed" in phases:
        speed(results)
    results["total_wall_s"] = round(time.time() - t0, 1)
    save(results)
    log("done")


if __name__ == "__main__":
    main()
