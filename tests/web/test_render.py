"""web/render.py: answers and their numbered sources as HTML (markers, the short answer, links,
meta, the quote in its context) and as terminal text; hostile document, title, speaker and URL
text is escaped, never markup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.records import Answer, Citation, ShortAnswer
from web.render import CONTEXT_CHARS, answer_html, message_html, source_html, sources_html, text_answer

HOSTILE = "<script>window.pwned = 1</script>"
DOC = (
    "date 2019-03-01\nThe Zanzibar ferry committee met on Tuesday. "
    f'{HOSTILE} Its chair said licences would be capped at 40 & "more". It meets again in May.'
)
QUOTE = 'Its chair said licences would be capped at 40 & "more".'


def _cite(n: int = 1, text: str = DOC, quote: str = QUOTE, **fields: Any) -> Citation:
    start = text.index(quote)
    return Citation(
        title=fields.pop("title", "Ferry licences"),
        source="ferry.txt",
        n=n,
        doc_id=fields.pop("doc_id", "d1"),
        chunk_id="c1",
        quote=quote,
        start=start,
        end=start + len(quote),
        score=0.9,
        **fields,
    )


def _answer(text: str, citations: list[Citation], refused: bool = False, **extra: Any) -> Answer:
    return Answer(
        question="How many licences?",
        resolved_question="How many licences?",
        answer=text,
        refused=refused,
        answerer="extractive",
        citations=[] if refused else citations,
        related=citations if refused else [],
        **extra,
    )


def test_answer_text_is_escaped_and_markers_are_styled() -> None:
    answer = _answer(f'Licences are capped at 40 & "more" [1]. {HOSTILE} [2]', [_cite()])
    assert answer_html(answer) == (
        'Licences are capped at 40 &amp; &quot;more&quot; <sup class="despatch-marker">[1]</sup>. '
        '&lt;script&gt;window.pwned = 1&lt;/script&gt; <sup class="despatch-marker">[2]</sup>'
    )


def test_the_short_answer_leads_in_bold_unless_the_answer_is_a_refusal() -> None:
    short = ShortAnswer(text="<i>40</i>", n=2, start=0, end=9)
    answered = _answer("They are capped at 40. [2]", [_cite()], short_answer=short)
    assert answer_html(answered) == (
        '<strong class="despatch-short">&lt;i&gt;40&lt;/i&gt;</strong><sup class="despatch-marker">[2]</sup>'
        '<br>They are capped at 40. <sup class="despatch-marker">[2]</sup>'
    )
    refused = _answer("The coverage doesn't say.", [_cite()], refused=True, short_answer=short)
    assert answer_html(refused) == "The coverage doesn&#x27;t say."


def test_a_source_shows_its_meta_and_its_quote_in_context() -> None:
    cite = _cite(
        n=3,
        date="2019-03-01",
        byline="By <b>Amina</b>",
        speaker="<img src=x onerror=alert(1)>",
        column="171",
    )
    html = source_html(cite, {"d1": DOC}.get)
    assert html == (
        '<li class="despatch-source" id="source-3"><span class="despatch-n">[3]</span> '
        '<span class="despatch-meta">Ferry licences · 2019-03-01 · By &lt;b&gt;Amina&lt;/b&gt; · '
        "&lt;img src=x onerror=alert(1)&gt; · col. 171</span><blockquote>"
        "date 2019-03-01\nThe Zanzibar ferry committee met on Tuesday. "
        "&lt;script&gt;window.pwned = 1&lt;/script&gt; "
        "<mark>Its chair said licences would be capped at 40 &amp; &quot;more&quot;.</mark>"
        " It meets again in May.</blockquote></li>"
    )


def test_an_undated_source_says_so_and_leaves_out_missing_fields() -> None:
    html = source_html(_cite(), {"d1": DOC}.get)
    assert '<span class="despatch-meta">Ferry licences · undated</span>' in html
    assert "col." not in html


def test_only_http_urls_become_links_and_they_are_attribute_escaped() -> None:
    text = {"d1": DOC}.get
    linked = source_html(_cite(url='https://example.org/a?x=1&y="2"><script>'), text)
    assert (
        '<a class="despatch-link" href="https://example.org/a?x=1&amp;y=&quot;2&quot;&gt;&lt;script&gt;" '
        'target="_blank" rel="noopener noreferrer">Ferry licences</a>'
    ) in linked
    assert 'href="HTTP://EXAMPLE.ORG/x"' in source_html(_cite(url="HTTP://EXAMPLE.ORG/x"), text)
    for url in ("javascript:alert(1)", "data:text/html,<script>x</script>", "//example.org/x", "ftp://x"):
        html = source_html(_cite(url=url, title="<b>Ferry</b>"), text)
        assert "<a " not in html and "href" not in html, url
        assert '<span class="despatch-meta">&lt;b&gt;Ferry&lt;/b&gt; · undated</span>' in html


def test_the_context_is_cut_at_context_chars_with_ellipses() -> None:
    quote = "The toll rose to 3 pounds."
    long = "x" * (CONTEXT_CHARS + 1) + quote + "y" * (CONTEXT_CHARS + 40)
    html = source_html(_cite(text=long, quote=quote), {"d1": long}.get)
    expected = "…" + "x" * CONTEXT_CHARS + f"<mark>{quote}</mark>" + "y" * CONTEXT_CHARS + "…"
    assert f"<blockquote>{expected}</blockquote>" in html
    # Exactly CONTEXT_CHARS on each side reaches both ends of the document: no ellipsis.
    exact = "x" * CONTEXT_CHARS + quote + "y" * CONTEXT_CHARS
    html = source_html(_cite(text=exact, quote=quote), {"d1": exact}.get)
    assert f"<blockquote>{exact.replace(quote, f'<mark>{quote}</mark>')}</blockquote>" in html


def test_a_quote_its_document_no_longer_holds_is_shown_alone() -> None:
    cite = _cite()
    changed = DOC.replace("capped", "limited")
    edited: dict[str, str] = {"d1": changed}
    gone: dict[str, str] = {}
    getters: tuple[Callable[[str], str | None], ...] = (edited.get, gone.get)
    for document_text in getters:  # edited since, or gone from the index
        html = source_html(cite, document_text)
        assert html.endswith(
            "<blockquote><mark>Its chair said licences would be capped at 40 &amp; &quot;more&quot;.</mark>"
            "</blockquote></li>"
        )
        assert "Zanzibar" not in html


def test_sources_are_headed_by_what_they_are_and_absent_when_there_are_none() -> None:
    text = {"d1": DOC}.get
    cites = [_cite(1), _cite(2, title="Second")]
    answered = sources_html(_answer("Capped at 40. [1] [2]", cites), text)
    assert answered.startswith('<p><strong>Sources</strong></p><ol class="despatch-sources">')
    assert answered.endswith("</li></ol>")
    assert answered.count('<li class="despatch-source"') == 2
    assert answered.index('id="source-1"') < answered.index('id="source-2"')
    refused = sources_html(_answer("No.", cites, refused=True), text)
    assert refused.startswith("<p><strong>Related passages (they do not answer the question)</strong></p>")
    assert sources_html(_answer("No.", [], refused=True), text) == ""
    assert sources_html(_answer("Nothing cited.", []), text) == ""


def test_a_refused_message_has_its_badge_and_related_passages() -> None:
    text = {"d1": DOC}.get
    refused = message_html(_answer("The coverage doesn't answer this.", [_cite()], refused=True), text)
    assert refused.startswith(
        '<p class="despatch-refused"><strong>Not in the indexed coverage.</strong></p>'
        "<p>The coverage doesn&#x27;t answer this.</p><p><strong>Related passages"
    )
    answered = message_html(_answer("Capped at 40. [1]", [_cite()]), text)
    assert answered.startswith(
        '<p>Capped at 40. <sup class="despatch-marker">[1]</sup></p><p><strong>Sources'
    )
    assert "despatch-refused" not in answered
    assert "<script>" not in refused + answered


def test_a_real_answer_renders_its_short_answer_and_quote_in_context(founding_bot: Any) -> None:
    answer = founding_bot.ask("What was the 2015/16 target?")
    html = message_html(answer, founding_bot.document_text)
    assert html.startswith(
        '<p><strong class="despatch-short">12,000</strong><sup class="despatch-marker">[1]</sup><br>'
        'For 2015/16, the annual target was raised to 12,000. <sup class="despatch-marker">[1]</sup></p>'
    )
    assert (
        "<mark>For 2015/16, the annual target was raised to 12,000.</mark> These targets were split "
        "between the 19 ICE teams across the UK."
    ) in html
    assert '<span class="despatch-meta">Rudd removal targets · 2018-04-26</span>' in html


def test_text_answer_for_a_terminal() -> None:
    short = ShortAnswer(text="40", n=1, start=0, end=2)
    cites = [
        _cite(1, date="2019-03-01", url="https://example.org/ferry", speaker="Mary Okafor", column="171"),
        _cite(2, title="Minutes"),
    ]
    answered = _answer("Licences are capped at 40. [1] [2]", cites, short_answer=short)
    assert text_answer(answered) == (
        "Answer: 40 [1]\n"
        "Licences are capped at 40. [1] [2]\n"
        "\n"
        "Sources:\n"
        "[1] Ferry licences (2019-03-01, col. 171) — Mary Okafor\n"
        "    https://example.org/ferry\n"
        f"    “{QUOTE}”\n"
        "[2] Minutes (undated)\n"
        f"    “{QUOTE}”"
    )
    refused = _answer("Not covered.", cites[1:], refused=True, short_answer=short)
    assert text_answer(refused) == f"Not covered.\n\nRelated passages:\n[2] Minutes (undated)\n    “{QUOTE}”"
    assert text_answer(_answer("Nothing cited.", [])) == "Nothing cited."
