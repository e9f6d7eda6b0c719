"""CLI commands of the bot stage: ask (eval and serve register here too)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from despatch.errors import DespatchError
from despatch.settings import Settings


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the bot's subcommands on the ``despatch`` parser."""
    p = sub.add_parser("ask", parents=[common], help="answer a question with cited sources")
    p.add_argument("question", nargs="?", help="the question (omit with --jsonl)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print the answer as JSON")
    mode.add_argument(
        "--jsonl", action="store_true", help="read questions (text or JSON objects) from stdin, one per line"
    )
    p.add_argument("--answerer", choices=["extractive", "llm"], help="override DESPATCH_ANSWERER")
    p.add_argument("--date-from", help="only sources dated on or after YYYY-MM-DD")
    p.add_argument("--date-to", help="only sources dated on or before YYYY-MM-DD")
    p.add_argument("--source", help="only this source")
    p.set_defaults(run=_ask)

    p = sub.add_parser("eval", parents=[common], help="score a gold set; exit 1 below its thresholds")
    p.add_argument("--gold", required=True, help="gold JSONL file (see evals/README.md)")
    p.add_argument("--corpus", nargs="*", help="files or folders to index (default: the gold set's)")
    p.add_argument("--answerer", choices=["extractive", "llm"], default="extractive")
    p.add_argument("--out", help="folder for report.json and report.md")
    p.add_argument("-k", type=int, default=5, help="retrieval depth scored (recall@k, MRR)")
    p.add_argument("--limit", type=int, help="only the first N cases")
    p.add_argument("--thresholds", help="thresholds file (default: evals/thresholds/<gold name>.json)")
    p.set_defaults(run=_eval)

    p = sub.add_parser("serve", parents=[common], help="run the chat, widget and JSON API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.set_defaults(run=_serve)

    p = sub.add_parser("bench", help="run the benchmarks (see bench/); arguments pass through")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="e.g. --quick, --runs 3, --sizes 1000,10000")
    p.set_defaults(run=_bench, store=None, chroma_url=None)

    p = sub.add_parser("squad", parents=[common], help="convert SQuAD 2.0 JSON to a corpus and gold cases")
    p.add_argument("squad_json")
    p.add_argument("--out", required=True, help="folder for corpus.jsonl and gold.jsonl")
    p.add_argument("--every", type=int, default=1, help="keep every N-th question (a stable sample)")
    p.set_defaults(run=_squad)


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core import Bot
    from bot.retrieval import Filters

    if not args.jsonl and not args.question:
        print("despatch: error: give a question, or --jsonl to read them from stdin", file=sys.stderr)
        return 2
    bot = Bot.from_settings(settings, args.answerer)
    filters = Filters(args.date_from, args.date_to, args.source)
    if not args.jsonl:
        answer = bot.ask(args.question, filters=filters)
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False))
        else:
            print(format_answer(answer))
        return 0
    failures = 0
    for lineno, line in enumerate(sys.stdin, start=1):
        line = line.strip()
        if not line:
            continue
        question, history = line, []
        if line.startswith("{"):
            try:
                record = json.loads(line)
                question, history = str(record["question"]), list(record.get("history") or [])
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
    return 1 if failures else 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from evals.runner import main_eval

    return main_eval(args, settings)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.server import serve

    serve(settings, args.host, args.port)
    return 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from bench.__main__ import main as bench_main

    return bench_main(list(args.bench_args))


def _squad(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from evals.squad import convert

    corpus, gold = convert(Path(args.squad_json), Path(args.out), args.every)
    print(f"wrote {corpus} and {gold}")
    return 0


def format_answer(answer: Any) -> str:
    """The answer and its numbered sources, for a terminal."""
    lines = [answer.answer, ""]
    if answer.short_answer is not None and not answer.refused:
        lines = [f"Answer: {answer.short_answer.text} [{answer.short_answer.n}]", *lines]
    sources = answer.related if answer.refused else answer.citations
    if sources:
        lines.append("Related passages:" if answer.refused else "Sources:")
    for c in sources:
        who = f" — {c.speaker}" if c.speaker else ""
        lines.append(f"[{c.n}] {c.title} ({c.date or 'undated'}){who}")
        lines.append(f"    “{c.quote}”")
    return "\n".join(lines).rstrip()
