"""HTML for answers and their sources. Every piece of document text, title, speaker and
question is escaped here: nothing from a document or a reader ever becomes markup."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from bot.citations import MARKER
from bot.records import Answer, Citation

CONTEXT_CHARS = 160

DocumentText = Callable[[str], str | None]


def answer_html(answer: Answer) -> str:
    """The answer text, escaped, with each marker ``[n]`` styled to match source ``n``; the short
    answer (the exact answering span) first, in bold."""
    text = MARKER.sub(r'<sup class="despatch-marker">[\1]</sup>', escape(answer.answer))
    short = answer.short_answer
    if short is None or answer.refused:
        return text
    lead = (
        f'<strong class="despatch-short">{escape(short.text)}</strong>'
        f'<sup class="despatch-marker">[{short.n}]</sup>'
    )
    return f"{lead}<br>{text}"


def source_html(c: Citation, document_text: DocumentText) -> str:
    """One numbered source: title (a link to the source's page when it has an http(s) URL),
    date, byline, speaker, column, and the quote highlighted in its context."""
    column = f"col. {c.column}" if c.column else ""
    title = escape(c.title)
    if c.url and c.url.lower().startswith(("https://", "http://")):
        href = escape(c.url, quote=True)
        title = (
            f'<a class="despatch-link" href="{href}" target="_blank" rel="noopener noreferrer">{title}</a>'
        )
    rest = (c.date or "undated", c.byline or "", c.speaker or "", column)
    meta = " · ".join([title, *(escape(x) for x in rest if x)])
    text = document_text(c.doc_id)
    if text is None or text[c.start : c.end] != c.quote:
        passage = f"<mark>{escape(c.quote)}</mark>"
    else:
        lo = max(0, c.start - CONTEXT_CHARS)
        hi = min(len(text), c.end + CONTEXT_CHARS)
        before = ("…" if lo else "") + text[lo : c.start]
        after = text[c.end : hi] + ("…" if hi < len(text) else "")
        passage = f"{escape(before)}<mark>{escape(c.quote)}</mark>{escape(after)}"
    return (
        f'<li class="despatch-source" id="source-{c.n}"><span class="despatch-n">[{c.n}]</span> '
        f'<span class="despatch-meta">{meta}</span><blockquote>{passage}</blockquote></li>'
    )


def sources_html(answer: Answer, document_text: DocumentText) -> str:
    """The numbered sources (or, for a refusal, the related passages) as an HTML list."""
    cites = answer.related if answer.refused else answer.citations
    if not cites:
        return ""
    heading = "Related passages (they do not answer the question)" if answer.refused else "Sources"
    items = "".join(source_html(c, document_text) for c in cites)
    return f'<p><strong>{heading}</strong></p><ol class="despatch-sources">{items}</ol>'


def message_html(answer: Answer, document_text: DocumentText) -> str:
    """A whole assistant message: refusal badge, answer, sources."""
    badge = (
        '<p class="despatch-refused"><strong>Not in the indexed coverage.</strong></p>'
        if answer.refused
        else ""
    )
    return f"{badge}<p>{answer_html(answer)}</p>{sources_html(answer, document_text)}"


CSS = """
.despatch-short { font-size: 1.1em; }
.despatch-marker { color: #8a1c1c; font-weight: 600; }
.despatch-sources { padding-left: 0; list-style: none; }
.despatch-source { margin: 0.4em 0; }
.despatch-n { color: #8a1c1c; font-weight: 600; }
.despatch-meta { color: #555; font-size: 0.9em; }
.despatch-source blockquote { margin: 0.2em 0 0 1.2em; font-size: 0.92em; }
.despatch-source mark { background: #fff2a8; }
.despatch-refused { color: #8a1c1c; }
"""


def text_answer(answer: Answer) -> str:
    """The answer and its numbered sources, for a terminal."""
    lines = [answer.answer, ""]
    if answer.short_answer is not None and not answer.refused:
        lines = [f"Answer: {answer.short_answer.text} [{answer.short_answer.n}]", *lines]
    sources = answer.related if answer.refused else answer.citations
    if sources:
        lines.append("Related passages:" if answer.refused else "Sources:")
    for c in sources:
        who = f" — {c.speaker}" if c.speaker else ""
        column = f", col. {c.column}" if c.column else ""
        lines.append(f"[{c.n}] {c.title} ({c.date or 'undated'}{column}){who}")
        if c.url:
            lines.append(f"    {c.url}")
        lines.append(f"    “{c.quote}”")
    return "\n".join(lines).rstrip()
