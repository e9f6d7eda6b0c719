"""Server start-up: assemble the bot, warm it, and run the web app under uvicorn."""

from __future__ import annotations

from despatch.settings import Settings


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas for this process (``mallopt(M_ARENA_MAX)``), before the server
    starts its threads; each thread that meets a busy arena otherwise gets one of its own (up to
    8 per core), and memory freed there is kept. True when set; False on a C library without
    ``mallopt`` (not glibc) or for 0 (glibc's default)."""
    import ctypes
    import ctypes.util

    if arenas <= 0:
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    m_arena_max = -8  # glibc's <malloc.h>
    return bool(mallopt(m_arena_max, arenas))


def serve(settings: Settings, host: str, port: int) -> None:
    """Build the bot once and run the server until interrupted."""
    import os
    import shutil
    import signal
    import tempfile

    limit_malloc_arenas(settings.malloc_arenas)  # first: before any thread is started

    # Gradio's scratch folder, private to this process and removed when it stops (uploads are
    # refused, so nothing should land there); set before Gradio is imported.
    scratch = tempfile.mkdtemp(prefix="despatch-gradio-")
    os.environ["GRADIO_TEMP_DIR"] = scratch
    try:
        import uvicorn

        from bot.assembly import assemble
        from web.server import create_server, uvicorn_options

        # With the documents API on, a newsroom may start empty and push every story.
        parts = assemble(settings, create=settings.admin_token is not None)
        bot = parts.bot()
        # Pay the one-off costs before the first reader arrives: the retrieval view, Chroma
        # loading its HNSW segment, torch's first-inference set-up. Without this the first
        # questions after a start took seconds each (the benchmark's p99 tail).
        bot.ask("What does the coverage say?")
        indexer = parts.indexer()
        app = create_server(bot, settings, indexer)
        print(f"Despatch on http://{host}:{port}/ (widget: /widget, API: /api/ask, docs: /docs)", flush=True)
        # uvicorn re-raises SIGTERM after a graceful shutdown; with Python's default handler that
        # would kill the process before the scratch folder is removed.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            uvicorn.run(app, host=host, port=port, **uvicorn_options(settings))
        finally:
            indexer.close()  # a story still being prepared fails; the CMS sends it again
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
