"""Despatch: answers about parliamentary debate coverage, every claim cited.

Shared foundations live here: settings (`despatch.settings`), the exception tree
(`despatch.errors`), offline set-up (`despatch.offline`) and the
layers above them: `index` (read, chunk, embed, store), `bot` (retrieve, answer, cite, serve),
`evals` and `bench`, and the entry points in `entry` (the CLI is `entry.cli`).
"""

__version__ = "0.1.0"
