"""The short answer: the exact span of a cited sentence that answers a factoid question, on
hand-made questions and sentences (entities as spaCy's small model tags them), and once through
the real question analysis and entity tagger."""

from __future__ import annotations

from bot.answerability import Sentence
from bot.questions import QuestionInfo
from bot.records import Passage, ShortAnswer
from bot.short_answer import short_answer
from bot.text import terms
from index.nlp import Entity

PREFIX = "An earlier sentence of the report, ending here. "
P_START = 900  # the passage's offset in its document
S_START = P_START + len(PREFIX)  # the sentence's


def sentence(text: str, *ents: tuple[str, str]) -> tuple[Sentence, Passage]:
    """A sentence (document offsets) with ``(span text, label)`` entities, inside a passage."""
    entities = []
    for span, label in ents:
        i = text.index(span)
        entities.append(Entity(S_START + i, S_START + i + len(span), label))
    t = frozenset(terms(text))
    s = Sentence(
        S_START, S_START + len(text), text, t, t, tuple(entities), frozenset(), None, None, 0, 0.5, 0.5, 0.5
    )
    body = PREFIX + text + " A later sentence."
    p = Passage(
        chunk_id="c1", doc_id="d1", text=body, start=P_START, end=P_START + len(body), title="T", source="S"
    )
    return s, p


def question(text: str, atype: str, drop: frozenset[str] = frozenset()) -> QuestionInfo:
    from bot.text import QUESTION_WORDS, STOPWORDS, names, numbers

    content = tuple(dict.fromkeys(terms(text, STOPWORDS | QUESTION_WORDS)))
    keys = tuple(sorted(numbers(text) | (names(text) - drop)))
    return QuestionInfo(text, atype, content, keys, content, (), None, None, False)


def answer(info: QuestionInfo, s: Sentence, p: Passage, n: int = 1) -> ShortAnswer | None:
    got = short_answer(info, s, n, s.start, s.end, p)
    if got is not None:  # the contract every front end relies on
        assert got.text == p.text[got.start - p.start : got.end - p.start]
    return got


def test_a_number_question_gets_the_count() -> None:
    s, p = sentence(
        "Last year the Home Office removed 7,200 people from the country.",
        ("Last year", "DATE"),
        ("the Home Office", "ORG"),
        ("7,200", "CARDINAL"),
    )
    got = answer(question("How many people did the Home Office remove?", "number"), s, p, n=3)
    assert got == ShortAnswer(
        text="7,200", n=3, start=S_START + s.text.index("7,200"), end=S_START + s.text.index("7,200") + 5
    )


def test_a_year_tagged_as_a_number_is_not_the_quantity() -> None:
    """spaCy tags "2014/15" CARDINAL; it names the period, not the number asked for."""
    s, p = sentence(
        "Removals of people by the Home Office in 2014/15 reached a total that, by March, was 7,200.",
        ("the Home Office", "ORG"),
        ("2014/15", "CARDINAL"),
        ("7,200", "CARDINAL"),
    )
    got = answer(question("How many people did the Home Office remove?", "number"), s, p)
    assert got is not None and got.text == "7,200"


def test_the_entity_nearest_the_question_words_wins() -> None:
    text = "Labour said 500 were detained last month, while the Home Office removed 7,200 people."
    ents = (("Labour", "ORG"), ("500", "CARDINAL"), ("last month", "DATE"), ("7,200", "CARDINAL"))
    s, p = sentence(text, *ents)
    removed = answer(question("How many people did the Home Office remove?", "number"), s, p)
    detained = answer(question("How many were detained?", "number"), s, p)
    assert removed is not None and removed.text == "7,200"
    assert detained is not None and detained.text == "500"


def test_a_person_the_question_already_names_is_not_the_answer() -> None:
    s, p = sentence(
        "Amber Rudd took over from Theresa May as Home Secretary in July 2016.",
        ("Amber Rudd", "PERSON"),
        ("Theresa May", "PERSON"),
        ("July 2016", "DATE"),
    )
    who = answer(question("Who took over from Theresa May as Home Secretary?", "person"), s, p)
    assert who is not None and who.text == "Amber Rudd"
    when = answer(question("When did Amber Rudd take over from Theresa May?", "date"), s, p)
    assert when is not None and when.text == "July 2016"


def test_a_money_question_takes_a_number_after_a_currency_sign() -> None:
    """The small model often tags "£20,000" as a plain CARDINAL "20,000": the sign decides."""
    s, p = sentence(
        "The fund was worth £20,000 a year to 300 families.",
        ("20,000", "CARDINAL"),
        ("300", "CARDINAL"),
    )
    got = answer(question("How much was the fund worth?", "money"), s, p)
    assert got is not None and got.text == "20,000"


def test_a_definition_question_gets_the_acronyms_expansion() -> None:
    s, p = sentence("Targets were split between 19 Immigration Compliance and Enforcement (ICE) teams.")
    got = answer(question("What does ICE stand for?", "definition"), s, p)
    assert got is not None and got.text == "Immigration Compliance and Enforcement"


def test_a_definition_without_an_expansion_has_no_short_answer() -> None:
    s, p = sentence("These targets were split between the 19 ICE teams.")
    assert answer(question("What does ICE stand for?", "definition"), s, p) is None


def test_no_entity_of_the_expected_type_gives_none() -> None:
    s, p = sentence(
        "The Home Office removed 7,200 people.", ("The Home Office", "ORG"), ("7,200", "CARDINAL")
    )
    assert answer(question("Who ordered the removals?", "person"), s, p) is None


def test_untyped_questions_have_no_short_answer() -> None:
    s, p = sentence(
        "Ms Rudd resigned because of the Windrush scandal in 2018.", ("Rudd", "PERSON"), ("2018", "DATE")
    )
    for atype in ("reason", "yesno", "say", "other"):
        assert answer(question("Why did Ms Rudd resign?", atype), s, p) is None, atype


def test_only_entities_inside_the_cited_span_count() -> None:
    """The short answer must lie inside the quoted support, which may be part of the sentence."""
    text = "The Home Office removed 7,200 people, and 500 more left voluntarily."
    s, p = sentence(text, ("7,200", "CARDINAL"), ("500", "CARDINAL"))
    info = question("How many people did the Home Office remove?", "number")
    cut = S_START + text.index(", and")
    inside = short_answer(info, s, 1, S_START, cut, p)
    assert inside is not None and inside.text == "7,200"
    after = S_START + text.index("500")
    later = short_answer(info, s, 1, after, s.end, p)
    assert later is not None and later.text == "500"
    assert short_answer(info, s, 1, S_START, S_START + text.index("7,200"), p) is None


def test_an_expansion_outside_the_cited_span_gives_none() -> None:
    text = "Targets were split between 19 Immigration Compliance and Enforcement (ICE) teams."
    s, p = sentence(text)
    info = question("What does ICE stand for?", "definition")
    assert short_answer(info, s, 1, S_START + text.index("(ICE)"), s.end, p) is None


def test_real_question_analysis_and_entities() -> None:
    """End to end through spaCy: the question's type and the sentence's entities as tagged."""
    from bot.questions import analyse
    from index.nlp import entities

    text = "In 2015/16 the Home Office removed 7,200 people, up from 6,000 in 2014."
    found = entities([text])[0]
    ents = tuple(Entity(S_START + e.start, S_START + e.end, e.label) for e in found)
    t = frozenset(terms(text))
    s = Sentence(S_START, S_START + len(text), text, t, t, ents, frozenset(), None, None, 0, 0.5, 0.5, 0.5)
    _, p = sentence(text)
    got = answer(analyse("How many people did the Home Office remove in 2015/16?"), s, p, n=2)
    assert got is not None and (got.text, got.n) == ("7,200", 2)
