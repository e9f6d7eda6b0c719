"""Server start-up (entry/serve.py): a real `despatch serve`, stopped as a service manager stops it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port, wait_http


def test_despatch_serve_command(founding_store: Any, tmp_path: Path) -> None:
    settings, _ = founding_store
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "despatch"),
            "serve",
            "--port",
            str(port),
            "--store",
            str(settings.store),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 120, proc)
        first = httpx.get(f"http://127.0.0.1:{port}/")  # the chat may still be starting (web.late)
        assert first.status_code == 200 or (first.status_code == 503 and first.headers["retry-after"] == "2")
        wait_http(f"http://127.0.0.1:{port}/", 120, proc)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["chat"] == "ready"
        assert httpx.get(f"http://127.0.0.1:{port}/widget/").status_code == 200
        assert list(tmp_path.glob("despatch-gradio-*"))  # the server's private scratch folder
    finally:
        proc.terminate()  # SIGTERM, as a service manager stops it
        proc.wait(timeout=30)
    assert proc.returncode == 0 and not list(tmp_path.glob("despatch-gradio-*"))


def test_the_malloc_arena_cap_is_set_on_glibc_and_left_alone_for_zero() -> None:
    import platform

    from entry.serve import limit_malloc_arenas

    assert limit_malloc_arenas(0) is False  # glibc's default: nothing to set
    if platform.libc_ver()[0] == "glibc":
        assert limit_malloc_arenas(2) is True
