"""Despatch: answers about parliamentary debate coverage, every claim cited.

Shared foundations live here: settings (`despatch.settings`), the exception tree
(`despatch.errors`), offline set-up (`despatch.offline`) and the
layers above them: `index` (read, chunk, embed, store), `bot` (retrieve, answer, cite: the
answering pipeline, whose parts `bot.assembly` builds), `web` (the chat, the API, the CMS
documents API, the widget) beside `evals`, then `bench`, and the entry points in `entry` (the
CLI is `entry.cli`).
"""

__version__ = "0.1.0"
