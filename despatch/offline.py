"""Process-wide set-up that keeps Despatch off the network at run time."""

from __future__ import annotations

import os

from despatch.settings import Settings


def go_offline(settings: Settings) -> None:
    """Forbid hub downloads and telemetry; point tiktoken at the project cache.

    Called only by ``bot.assembly.offline`` (which ``assemble`` calls first), before any model is
    loaded.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(settings.tiktoken_cache)
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"] = "1"
    # numpy's OpenBLAS threads spin after each matrix product (exact dense search) and take the
    # cores from torch's next inference: select took 128 ms instead of 69 at 8.6k chunks on 2
    # cores. Read when numpy loads, which the entry points do after this call.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
