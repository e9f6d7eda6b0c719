"""evals/squad.py on a tiny SQuAD 2.0 file written here: paragraph ids, the corpus records, the gold
cases (answers deduplicated, impossible questions unanswerable, tags, ``every``), the errors for
files that are not SQuAD, and the converted corpus indexed and scored by its gold paragraph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from despatch.errors import InputError
from evals.gold import GoldCase, load_gold
from evals.squad import convert, paragraph_id
from index.json_records import SAFE_ID

FERRY = (
    "The Zanzibar ferry committee met on Tuesday. Its chair, Mary Okafor, said ferry licences "
    "would be capped at 40 a year."
)
FERRY_2 = "The committee's next meeting is in Stone Town. Its minutes are published in Swahili."
BRIDGE = "The Tamar bridge toll rose to 3 pounds in April. The council said the rise paid for new cables."

SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Zanzibar_Ferries",
            "paragraphs": [
                {
                    "context": FERRY,
                    "qas": [
                        {
                            "id": "q1",
                            "question": "  Who chairs the Zanzibar ferry committee? ",
                            "answers": [
                                {"text": "Mary Okafor", "answer_start": 56},
                                {"text": "Mary Okafor", "answer_start": 56},
                                {"text": "Okafor", "answer_start": 61},
                            ],
                            "is_impossible": False,
                        },
                        {
                            "id": "q2",
                            "question": "How many ferry licences were issued in 2010?",
                            "answers": [],
                            "plausible_answers": [{"text": "40", "answer_start": 105}],
                            "is_impossible": True,
                        },
                        {
                            "id": "q3",
                            "question": "What did the chair say about ferry licences?",
                            "answers": [
                                {"text": "ferry licences would be capped at 40 a year", "answer_start": 73}
                            ],
                            "is_impossible": False,
                        },
                    ],
                },
                {
                    "context": FERRY_2,
                    # Neither impossible nor answered: not a usable case, left out.
                    "qas": [{"id": "q4", "question": "Where is the next meeting?", "answers": []}],
                },
            ],
        },
        {
            "title": "Tamar Bridge (toll)/2019",
            "paragraphs": [
                {
                    "context": BRIDGE,
                    "qas": [
                        {
                            "id": "q5",
                            "question": "What did the Tamar bridge toll rise to?",
                            "answers": [{"text": "3 pounds", "answer_start": 30}],
                        }
                    ],
                }
            ],
        },
    ],
}


def _squad_file(tmp_path: Path, data: Any = SQUAD) -> Path:
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_paragraph_ids_are_safe_slugs_of_the_title() -> None:
    assert paragraph_id("Super_Bowl_50", 3) == "squad:Super_Bowl_50:3"
    assert paragraph_id("Tamar Bridge (toll)/2019", 0) == "squad:Tamar-Bridge-toll-2019:0"
    assert paragraph_id("Île-de-France", 12) == "squad:-le-de-France:12"
    long = paragraph_id("A" * 150, 7)
    assert long == "squad:" + "A" * 100 + ":7"
    assert all(SAFE_ID.fullmatch(paragraph_id(t, 99)) for t in ("Super_Bowl_50", "<script>", "x" * 300))


def test_every_paragraph_becomes_a_corpus_record(tmp_path: Path) -> None:
    corpus, gold = convert(_squad_file(tmp_path), tmp_path / "out")
    assert corpus == tmp_path / "out" / "squad-corpus.jsonl" and gold == tmp_path / "out" / "squad.jsonl"
    records = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    assert records == [
        {
            "id": "squad:Zanzibar_Ferries:0",
            "title": "Zanzibar Ferries (1)",
            "text": FERRY,
            "source": "SQuAD 2.0 dev: Zanzibar Ferries",
        },
        {
            "id": "squad:Zanzibar_Ferries:1",
            "title": "Zanzibar Ferries (2)",
            "text": FERRY_2,
            "source": "SQuAD 2.0 dev: Zanzibar Ferries",
        },
        {
            "id": "squad:Tamar-Bridge-toll-2019:0",
            "title": "Tamar Bridge (toll)/2019 (1)",
            "text": BRIDGE,
            "source": "SQuAD 2.0 dev: Tamar Bridge (toll)/2019",
        },
    ]


def test_questions_become_gold_cases_with_their_paragraph(tmp_path: Path) -> None:
    _, gold = convert(_squad_file(tmp_path), tmp_path / "out")
    assert load_gold(gold) == [
        GoldCase(
            id="q1",
            question="Who chairs the Zanzibar ferry committee?",  # stripped
            answerable=True,
            facts=[["Mary Okafor", "Okafor"]],  # one group, duplicates dropped, order kept
            evidence=["Mary Okafor"],
            tags=["squad", "Zanzibar Ferries", "factoid"],
            paragraph="squad:Zanzibar_Ferries:0",
        ),
        GoldCase(
            id="q2",
            question="How many ferry licences were issued in 2010?",
            answerable=False,  # plausible answers are not facts
            tags=["squad", "Zanzibar Ferries", "unanswerable"],
            paragraph="squad:Zanzibar_Ferries:0",
        ),
        GoldCase(
            id="q3",
            question="What did the chair say about ferry licences?",
            answerable=True,
            facts=[["ferry licences would be capped at 40 a year"]],
            evidence=["ferry licences would be capped at 40 a year"],
            tags=["squad", "Zanzibar Ferries"],  # an answer of more than four words is no factoid
            paragraph="squad:Zanzibar_Ferries:0",
        ),
        GoldCase(
            id="q5",
            question="What did the Tamar bridge toll rise to?",
            answerable=True,
            facts=[["3 pounds"]],
            evidence=["3 pounds"],
            tags=["squad", "Tamar Bridge (toll)/2019", "factoid"],
            paragraph="squad:Tamar-Bridge-toll-2019:0",
        ),
    ]


def test_every_nth_question_counts_questions_across_articles_skipped_ones_included(tmp_path: Path) -> None:
    _, gold = convert(_squad_file(tmp_path), tmp_path / "out", every=2)
    assert [c.id for c in load_gold(gold)] == ["q1", "q3", "q5"]  # questions 1, 3 and 5 of 5
    _, gold = convert(_squad_file(tmp_path), tmp_path / "out", every=4)
    assert [c.id for c in load_gold(gold)] == ["q1", "q5"]
    corpus = tmp_path / "out" / "squad-corpus.jsonl"
    assert len(corpus.read_text(encoding="utf-8").splitlines()) == 3  # every paragraph, whatever ``every``


def test_the_name_sets_both_file_names_and_the_out_folder_is_made(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    corpus, gold = convert(_squad_file(tmp_path), out, name="part-a")
    assert sorted(p.name for p in out.iterdir()) == ["part-a-corpus.jsonl", "part-a.jsonl"]
    assert (corpus, gold) == (out / "part-a-corpus.jsonl", out / "part-a.jsonl")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", r"Expecting property name enclosed in double quotes"),
        ('{"version": "v2.0"}', r"'data'"),
        ('[{"title": "x"}]', r"list indices must be integers"),
        ('"data"', r"string indices must be integers"),
    ],
)
def test_a_file_that_is_not_squad_is_an_input_error(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=rf"bad\.json: not a SQuAD 2\.0 file \(.*{why}") as raised:
        convert(path, tmp_path / "out")
    assert raised.value.path == str(path)
    assert not (tmp_path / "out").exists()  # nothing written for a file that is not SQuAD


@pytest.mark.parametrize(
    ("broken", "why"),
    [
        ({"title": "Broken"}, r"KeyError 'paragraphs'"),
        ({"title": "Broken", "paragraphs": [{"qas": []}]}, r"KeyError 'context'"),
        (
            {"title": "B", "paragraphs": [{"context": "x", "qas": [{"id": "b", "is_impossible": True}]}]},
            r"KeyError 'question'",
        ),
        ({"title": "Broken", "paragraphs": "not a list"}, r"TypeError"),
    ],
    ids=["no-paragraphs", "no-context", "no-question", "paragraphs-not-a-list"],
)
def test_a_malformed_article_is_an_input_error_that_leaves_the_outputs_as_they_were(
    tmp_path: Path, broken: dict[str, Any], why: str
) -> None:
    """A bad article after good ones names itself and writes nothing: the corpus and gold files
    of an earlier conversion are left whole (not cut at the bad article)."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(SQUAD), encoding="utf-8")
    out = tmp_path / "out"
    corpus, gold = convert(good, out)
    before = corpus.read_bytes(), gold.read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": "v2.0", "data": [*SQUAD["data"], broken]}), encoding="utf-8")
    n = len(SQUAD["data"]) + 1
    with pytest.raises(InputError, match=rf"bad\.json: article {n} is not in SQuAD 2\.0's form.*{why}"):
        convert(bad, out)
    assert (corpus.read_bytes(), gold.read_bytes()) == before
    assert sorted(p.name for p in out.iterdir()) == sorted([corpus.name, gold.name])  # no temporary left


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.json: not a SQuAD 2\.0 file \(.*No such file"):
        convert(tmp_path / "nowhere.json", tmp_path / "out")


def test_the_converted_corpus_is_indexed_and_scored_by_its_gold_paragraph(
    tmp_path: Path, embedder: Any
) -> None:
    """The record ids survive ingest, so retrieval is scored on the gold paragraph's rank."""
    from evals.runner import build_bot, run_eval
    from tests.conftest import make_settings

    corpus, gold = convert(_squad_file(tmp_path), tmp_path / "out")
    settings = make_settings(tmp_path / "store")
    bot = build_bot(settings, [corpus], embedder=embedder)
    assert sorted(d.id for d in bot.store.documents()) == [
        "squad:Tamar-Bridge-toll-2019:0",
        "squad:Zanzibar_Ferries:0",
        "squad:Zanzibar_Ferries:1",
    ]
    report = run_eval(settings, gold, bot=bot, thresholds=None)
    scores = {s.id: s for s in report.cases}
    assert scores["q1"].facts_ok and scores["q5"].facts_ok
    assert scores["q1"].retrieval_hits == [1] and scores["q5"].retrieval_hits == [1]
    assert scores["q2"].retrieval_hits == []  # an unanswerable case has no paragraph to find
    assert scores["q2"].refused and not scores["q2"].failures
    assert report.metrics["retrieval_recall_at_5"] == 1.0 and report.metrics["invalid_citations"] == 0
