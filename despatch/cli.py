"""The ``despatch`` command line: ingest, docs, remove, ask, eval, serve."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from despatch.errors import DespatchError
from despatch.settings import Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(store=args.store, chroma_url=getattr(args, "chroma_url", None))
        from despatch.offline import go_offline

        go_offline(settings)
        return int(args.run(args, settings))
    except DespatchError as exc:
        print(f"despatch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("despatch: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", type=Path, help="index folder (default ./data/store; DESPATCH_STORE)")
    common.add_argument("--chroma-url", help="use a Chroma server, http://HOST:PORT (DESPATCH_CHROMA_URL)")

    parser = argparse.ArgumentParser(
        prog="despatch", description="Answers about parliamentary debate coverage, every claim cited."
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", parents=[common], help="index articles and transcripts")
    p.add_argument("paths", nargs="+", type=Path, help="files or folders (searched recursively)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(run=_ingest)

    p = sub.add_parser("docs", parents=[common], help="list indexed documents")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(run=_docs)

    p = sub.add_parser("remove", parents=[common], help="delete one document from the index")
    p.add_argument("doc_id")
    p.set_defaults(run=_remove)

    from bot.cli import add_commands

    add_commands(sub, common)
    return parser


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from index.embedding import SentenceTransformerEmbedder
    from index.ingest import Indexer, count_files
    from index.store import Store

    store = Store.open(settings, create=True)
    embedder = SentenceTransformerEmbedder(settings.model_path, settings.device, settings.batch_size)
    indexer = Indexer(settings, store, embedder)
    bar: Any = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=count_files(args.paths), unit="file", desc="ingest", file=sys.stderr)
    summary = indexer.ingest(args.paths, progress=bar.update if bar else None)
    if bar:
        bar.close()
    if args.json:
        print(json.dumps(summary.to_json()))
    else:
        for error in summary.errors:
            print(f"despatch: skipped {error}", file=sys.stderr)
        print(summary.line())
    return 1 if summary.failed else 0


def _docs(args: argparse.Namespace, settings: Settings) -> int:
    from index.store import Store

    docs = Store.open(settings).documents()
    if args.json:
        print(json.dumps([d.summary() for d in docs], ensure_ascii=False))
        return 0
    if not docs:
        print("The index is empty. Add documents with: despatch ingest ARTICLES...")
    for d in docs:
        print(f"{d.id}  {d.date or '----------'}  {d.chunks:4d} chunks  {d.title}  ({d.source})")
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    from index.store import Store

    if Store.open(settings).remove(args.doc_id):
        print(f"removed {args.doc_id}")
        return 0
    print(f"despatch: error: no document {args.doc_id}; list them with: despatch docs", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
