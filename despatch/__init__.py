"""Despatch: answers about parliamentary debate coverage, every claim cited.

Shared foundations live here: settings (`despatch.settings`), the exception tree
(`despatch.errors`), offline set-up (`despatch.offline`) and the CLI (`despatch.cli`).
The pipeline stages are the packages `index` (read, chunk, embed, store) and `bot`
(retrieve, answer, cite, serve).
"""

__version__ = "0.1.0"
