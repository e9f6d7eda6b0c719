"""Filters: what a scope restricts retrieval to (dates, a source, a speaker, a party, documents,
tags), and how a speaker or party named by a reader matches the names the index holds."""

from __future__ import annotations

from dataclasses import dataclass

from index.records import ChunkMeta, date_ord


@dataclass(frozen=True)
class Filters:
    """Optional restrictions on what is retrieved (a *scope*): ISO dates (inclusive), an exact
    source, a speaker (every word of it in the speaker's name, any case), a party (its name or
    the transcripts' abbreviation: "Labour" matches "Lab"), documents by id, and tags (a chunk
    with any of them passes)."""

    date_from: str | None = None
    date_to: str | None = None
    source: str | None = None
    speaker: str | None = None
    party: str | None = None
    doc_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Names are matched trimmed, and a blank one is no filter (not a filter that matches
        # nothing), whichever front end built the scope: the chat, the API or the CLI.
        for name in ("source", "speaker", "party"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, value.strip() or None)

    @property
    def empty(self) -> bool:
        return not any(
            (self.date_from, self.date_to, self.source, self.doc_ids, self.speaker, self.party, self.tags)
        )

    def range_error(self) -> str | None:
        """What is wrong with the date range, or ``None``: a range that ends before it starts
        matches nothing, so every front end refuses it (each adds how to fix it in its terms)
        rather than answer from no sources. Dates compare as days (``date_ord``)."""
        start, end = date_ord(self.date_from), date_ord(self.date_to)  # both checked YYYY-MM-DD
        if start is not None and end is not None and start > end:
            return f"the start date {self.date_from} is after the end date {self.date_to}"
        return None

    @property
    def by_person(self) -> bool:
        """Restricted by speaker or party, which Chroma cannot match (see ``allows``)."""
        return bool(self.speaker or self.party)

    def allows(self, meta: ChunkMeta) -> bool:
        d = meta.date_ord
        if self.date_from and (d is None or d < (date_ord(self.date_from) or 0)):
            return False
        if self.date_to and (d is None or d > (date_ord(self.date_to) or 0)):
            return False
        if self.doc_ids and meta.doc_id not in self.doc_ids:
            return False
        if self.tags and not set(self.tags) & set(meta.tags):
            return False
        if self.speaker and not speaker_matches(self.speaker, meta.speaker):
            return False
        if self.party and party_key(self.party) != party_key(meta.party):
            return False
        return not (self.source and meta.source != self.source)


_PARTY_ALIASES = {
    "lab": "labour",
    "lab co-op": "labour",
    "labour co-operative": "labour",
    "con": "conservative",
    "conservatives": "conservative",
    "tory": "conservative",
    "tories": "conservative",
    "ld": "liberal democrat",
    "lib dem": "liberal democrat",
    "lib dems": "liberal democrat",
    "libdem": "liberal democrat",  # how the Hansard transcripts label the party
    "libdems": "liberal democrat",
    "liberal democrats": "liberal democrat",
    "snp": "scottish national party",
    "pc": "plaid cymru",
    "dup": "democratic unionist party",
    "sdlp": "social democratic and labour party",
    "sf": "sinn fein",
    "sinn féin": "sinn fein",
    "green": "green party",
    "ind": "independent",
    "xb": "crossbench",
    "cb": "crossbench",
}


def party_key(party: str | None) -> str:
    """A party's name in one form for comparison ("Lab", "Labour" -> "labour")."""
    name = " ".join((party or "").casefold().replace("/", " ").split())
    return _PARTY_ALIASES.get(name, name)


def speaker_matches(wanted: str, speaker: str | None) -> bool:
    """Whether every word of ``wanted`` is a word of ``speaker`` (any case): "Hartley" and
    "alice hartley" match "Alice Hartley"."""
    have = name_words(speaker or "")
    words = name_words(wanted)
    return bool(words) and all(w in have for w in words)


def name_words(name: str) -> list[str]:
    """A name's words as names are compared: case-folded, hyphens as spaces, punctuation off."""
    # A phone's curly apostrophe is the same letter as a straight one: O’Brien is O'Brien.
    name = name.casefold().replace("’", "'").replace("-", " ")
    return [w.strip(".,'()") for w in name.split() if w.strip(".,'()")]
