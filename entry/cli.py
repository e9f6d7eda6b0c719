"""The ``despatch`` command line: ingest, docs, remove, ask, eval, serve, feedback, bench, squad.

Every command gets its parts from ``bot.assembly.assemble``; heavy modules are imported inside
the command that needs them, so ``despatch docs`` never loads a model.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.assembly import ANSWERERS, assemble
from despatch.errors import DespatchError
from despatch.settings import Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(
            store=args.store,
            chroma_url=getattr(args, "chroma_url", None),
            members_file=getattr(args, "members", None),
        )
        return int(args.run(args, settings))
    except DespatchError as exc:
        print(f"despatch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("despatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `despatch ask ... | head`
        return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


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
    p.add_argument(
        "--members",
        type=Path,
        help="parlparse people.json giving parlparse speakers their party (DESPATCH_MEMBERS_FILE)",
    )
    p.set_defaults(run=_ingest)

    p = sub.add_parser("docs", parents=[common], help="list indexed documents")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(run=_docs)

    p = sub.add_parser("remove", parents=[common], help="delete one document from the index")
    p.add_argument("doc_id")
    p.set_defaults(run=_remove)

    p = sub.add_parser("ask", parents=[common], help="answer a question with cited sources")
    p.add_argument("question", nargs="?", help="the question (omit with --jsonl)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print the answer as JSON")
    mode.add_argument(
        "--jsonl", action="store_true", help="read questions (text or JSON objects) from stdin, one per line"
    )
    p.add_argument("--answerer", choices=sorted(ANSWERERS), help="override DESPATCH_ANSWERER")
    p.add_argument("--date-from", type=_day, help="only sources dated on or after YYYY-MM-DD")
    p.add_argument("--date-to", type=_day, help="only sources dated on or before YYYY-MM-DD")
    p.add_argument("--source", help="only this source")
    p.add_argument("--speaker", help='only this speaker\'s words (every word of the name: "Hartley")')
    p.add_argument("--party", help='only speakers of this party ("Labour" also matches "Lab")')
    p.set_defaults(run=_ask)

    p = sub.add_parser(
        "eval",
        parents=[common],
        help="score gold sets; exit 1 below thresholds or on regressions, 2 on bad input",
    )
    p.add_argument("--gold", required=True, nargs="+", help="gold JSONL files (see evals/README.md)")
    p.add_argument("--corpus", nargs="*", help="files or folders to index (default: each gold set's)")
    p.add_argument("--answerer", choices=sorted(ANSWERERS), default="extractive")
    p.add_argument("--llm-base-url", help="OpenAI-compatible endpoint for --answerer llm")
    p.add_argument("--llm-model", help="model name at that endpoint")
    p.add_argument("--out", help="folder for report.json, report.md and report.html")
    p.add_argument("--junit", help="write JUnit XML here: one testcase per gold case")
    p.add_argument("--baseline", help="an earlier report.json (or its folder) to compare with")
    p.add_argument(
        "--allow-regressions",
        type=_not_negative,
        default=0,
        metavar="N",
        help="pass with up to N cases that passed in the baseline and fail now (default 0)",
    )
    p.add_argument("-k", type=_positive, default=5, help="retrieval depth scored (recall@k, MRR)")
    p.add_argument("--limit", type=_positive, help="only the first N cases")
    p.add_argument("--thresholds", help="thresholds file (default: evals/thresholds/<gold name>.json each)")
    p.add_argument(
        "--members",
        type=Path,
        help="parlparse people.json giving the corpus's speakers their party (DESPATCH_MEMBERS_FILE)",
    )
    p.set_defaults(run=_eval)

    p = sub.add_parser("serve", parents=[common], help="run the chat, widget and JSON API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.set_defaults(run=_serve)

    p = sub.add_parser("feedback", parents=[common], help="export readers' votes for editors")
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--out", type=Path, help="write to this file instead of standard output")
    p.set_defaults(run=_feedback)

    p = sub.add_parser("bench", help="run the benchmarks (see bench/); arguments pass through")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="e.g. --quick, --runs 3, --sizes 1000,10000")
    p.set_defaults(run=_bench, store=None, chroma_url=None)

    p = sub.add_parser("squad", parents=[common], help="convert SQuAD 2.0 JSON to a corpus and gold cases")
    p.add_argument("squad_json")
    p.add_argument("--out", required=True, help="folder for corpus.jsonl and gold.jsonl")
    p.add_argument("--every", type=int, default=1, help="keep every N-th question (a stable sample)")
    p.set_defaults(run=_squad)
    return parser


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from index.ingest import count_files

    indexer = assemble(settings, create=True).indexer()
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
            print(f"despatch: {error}", file=sys.stderr)
        print(summary.line())
    return 1 if summary.failed or summary.bad_records else 0


def _docs(args: argparse.Namespace, settings: Settings) -> int:

    docs = assemble(settings).store.documents()
    if args.json:
        print(json.dumps([d.summary() for d in docs], ensure_ascii=False))
        return 0
    if not docs:
        print("The index is empty. Add documents with: despatch ingest ARTICLES...")
    for d in docs:
        print(f"{d.id}  {d.date or '----------'}  {d.chunks:4d} chunks  {d.title}  ({d.source})")
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:

    if assemble(settings).store.remove(args.doc_id):
        print(f"removed {args.doc_id}")
        return 0
    print(f"despatch: error: no document {args.doc_id}; list them with: despatch docs", file=sys.stderr)
    return 1


def _day(text: str) -> str:
    """An ``--date-from``/``--date-to`` value: a real day written ``YYYY-MM-DD``."""
    from index.dates import real_date

    if not real_date(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a real day; write it as YYYY-MM-DD, e.g. 2010-01-06"
        )
    return text


_NO_MATCH_HINT = "despatch: no sources match these filters; widen them"


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from index.filters import Filters
    from web.render import text_answer

    if not args.jsonl and not args.question:
        print("despatch: error: give a question, or --jsonl to read them from stdin", file=sys.stderr)
        return 2
    filters = Filters(args.date_from, args.date_to, args.source, args.speaker, args.party)
    if filters.range_error() is not None:
        print(
            f"despatch: error: --date-from {args.date_from} is after --date-to {args.date_to}; swap them",
            file=sys.stderr,
        )
        return 2
    bot = assemble(settings).bot(args.answerer)
    if not args.jsonl:
        answer = bot.ask(args.question, filters=filters)
        print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else text_answer(answer))
        if not filters.empty and answer.nothing_matched:
            print(_NO_MATCH_HINT, file=sys.stderr)
        return 0
    failures = 0
    hinted = False
    for lineno, line in enumerate(sys.stdin, start=1):
        line = line.strip()
        if not line:
            continue
        question, history = line, []
        if line.startswith("{"):
            try:
                record = json.loads(line)
                raw_history = record.get("history") or []
                if not isinstance(raw_history, list):  # a string would be read one character a turn
                    raise TypeError('"history" must be a list of earlier questions or chat turns')
                question, history = str(record["question"]), raw_history
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                print(json.dumps({"line": lineno, "error": f"bad JSON question: {exc}"}), flush=True)
                failures += 1
                continue
        try:
            answer = bot.ask(question, history, filters)
        except DespatchError as exc:
            print(json.dumps({"line": lineno, "question": question, "error": str(exc)}), flush=True)
            failures += 1
            continue
        print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        if not hinted and not filters.empty and answer.nothing_matched:
            print(_NO_MATCH_HINT, file=sys.stderr)  # once: the filters are the same for every line
            hinted = True
    return 1 if failures else 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from evals.runner import main_eval

    return main_eval(args, settings)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from entry.serve import serve

    serve(settings, args.host, args.port)
    return 0


def _feedback(args: argparse.Namespace, settings: Settings) -> int:
    from web.feedback import Feedback, feedback_path

    path = feedback_path(settings)
    text = Feedback(path).export(args.format)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {text.count(chr(10)) - (args.format == 'csv')} votes to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if not path.exists():
        print(f"despatch: no votes yet ({path} does not exist)", file=sys.stderr)
    return 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from bench.__main__ import main as bench_main

    return bench_main(list(args.bench_args))


def _squad(args: argparse.Namespace, settings: Settings) -> int:
    from evals.squad import convert

    corpus, gold = convert(Path(args.squad_json), Path(args.out), args.every)
    print(f"wrote {corpus} and {gold}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
