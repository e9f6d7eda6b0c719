"""despatch.imports: a library imported without optional integrations Despatch never uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from despatch.imports import import_without


def test_the_library_takes_its_not_installed_branch_and_the_package_imports_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "despatch_test_lib.py").write_text(
        "try:\n    import despatch_test_extra\n    HAS_EXTRA = True\n"
        "except ImportError:\n    HAS_EXTRA = False\n",
        encoding="utf-8",
    )
    (tmp_path / "despatch_test_extra.py").write_text("VALUE = 7\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        lib = import_without("despatch_test_lib", ("despatch_test_extra",))
        assert lib.HAS_EXTRA is False and "despatch_test_extra" not in sys.modules
        import despatch_test_extra  # the package itself still imports afterwards

        assert despatch_test_extra.VALUE == 7
        # Imported once: a second call returns the same module, and an already-imported
        # package is never hidden.
        assert import_without("despatch_test_lib", ("despatch_test_extra",)) is lib
        del sys.modules["despatch_test_lib"]
        assert import_without("despatch_test_lib", ("despatch_test_extra",)).HAS_EXTRA is True
    finally:
        for name in ("despatch_test_lib", "despatch_test_extra"):
            sys.modules.pop(name, None)


def test_another_thread_imports_the_hidden_package_while_the_library_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server imports Gradio (and pandas) in a worker thread while questions are answered:
    a package hidden from the library's import must still import in that other thread, and the
    library must still not see it."""
    import threading

    (tmp_path / "despatch_slow_lib.py").write_text(
        "import despatch_slow_gate\n"
        "despatch_slow_gate.entered.set()\n"
        "assert despatch_slow_gate.go.wait(30)\n"  # the other thread imports meanwhile
        "try:\n    import despatch_slow_extra\n    HAS_EXTRA = True\n"
        "except ImportError:\n    HAS_EXTRA = False\n",
        encoding="utf-8",
    )
    (tmp_path / "despatch_slow_gate.py").write_text(
        "import threading\nentered = threading.Event()\ngo = threading.Event()\n", encoding="utf-8"
    )
    (tmp_path / "despatch_slow_extra.py").write_text("VALUE = 8\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ("despatch_slow_lib", "despatch_slow_gate", "despatch_slow_extra")
    try:
        import despatch_slow_gate

        result: dict[str, Any] = {}
        worker = threading.Thread(
            target=lambda: result.update(lib=import_without("despatch_slow_lib", ("despatch_slow_extra",)))
        )
        worker.start()
        assert despatch_slow_gate.entered.wait(30)
        import despatch_slow_extra  # in this thread, during the library's import

        assert despatch_slow_extra.VALUE == 8
        despatch_slow_gate.go.set()
        worker.join(30)
        # The library read sys.modules after this thread's import: it sees the package then.
        assert result["lib"].HAS_EXTRA is True
        assert not any(type(f).__name__ == "_Hidden" for f in sys.meta_path)  # the finder is gone
    finally:
        for name in names:
            sys.modules.pop(name, None)


def test_a_server_s_bot_answers_without_importing_torch_scikit_learn_or_pandas(founding_store: Any) -> None:
    """What `despatch serve` loads before its first answer (the bot with the default scorer and
    ONNX embedder, spaCy, the trees) imports none of the three, and answers as usual."""
    settings, _ = founding_store
    code = (
        "import sys\n"
        "from bot.assembly import assemble\n"
        "from despatch.settings import load_settings\n"
        f"settings = load_settings(store={str(settings.store)!r})\n"
        "bot = assemble(settings).bot()\n"
        "answer = bot.ask('What target did the Home Office set for voluntary departures in 2015/16?')\n"
        "print(answer.answer)\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'pandas') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    answer, imported = done.stdout.strip().splitlines()[-2:]
    assert "12,000" in answer and "[1]" in answer
    assert imported == "[]"
