"""The import graph points down only: despatch <- index <- bot <- web | evals <- bench <- entry
(the foundation, the index, the answering pipeline, then its delivery and the evaluations side by
side, neither importing the other, the benchmarks, the entry points), and no module imports
itself round a circle.

Every import counts, including those inside functions (imported lazily is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

from despatch.settings import PROJECT_ROOT

FLOORS = [{"despatch"}, {"index"}, {"bot"}, {"web", "evals"}, {"bench"}, {"entry"}]
LAYERS = [name for floor in FLOORS for name in sorted(floor)]
DATA_PACKAGES = {"prompts"}  # templates only; importable by any layer


def _imports(path: Path, submodules: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every import; with ``submodules``, also ``package.name`` for each name
    of a ``from package import name`` (it may be a module: ``from bot import citations``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if submodules:
                found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def upward_imports() -> list[str]:
    rank = {name: i for i, floor in enumerate(FLOORS) for name in floor}
    bad = []
    for layer in LAYERS:
        for path in sorted((PROJECT_ROOT / layer).rglob("*.py")):
            for lineno, module in _imports(path):
                top = module.split(".")[0]
                if top in rank and (rank[top] > rank[layer] or (rank[top] == rank[layer] and top != layer)):
                    bad.append(f"{path.relative_to(PROJECT_ROOT)}:{lineno} imports {module}")
    return bad


def test_no_import_points_up_the_layers() -> None:
    assert upward_imports() == []


def _tree_with(tmp_path: Path, monkeypatch, rel: str, source: str) -> None:  # type: ignore[no-untyped-def]
    """Point the checks at a copy of the tree in which ``rel`` holds ``source``."""
    import shutil

    for layer in LAYERS:
        shutil.copytree(PROJECT_ROOT / layer, tmp_path / layer, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / rel).write_text(source)
    monkeypatch.setattr(f"{__name__}.PROJECT_ROOT", tmp_path)


def test_the_check_sees_an_upward_import(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The check itself can fail: a copy of the tree with one upward import is caught."""
    _tree_with(
        tmp_path, monkeypatch, "index/bad.py", "def f():\n    from bot.core import Bot\n    return Bot\n"
    )
    assert upward_imports() == ["index/bad.py:2 imports bot.core"]


def test_the_check_sees_a_sideways_import(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Delivery and the evaluations share a floor: one importing the other is caught too."""
    _tree_with(tmp_path, monkeypatch, "evals/bad.py", "from web.render import message_html\n")
    assert upward_imports() == ["evals/bad.py:1 imports web.render"]


def module_cycles() -> list[list[str]]:
    """Every circle of imports between the project's modules (lazy imports count)."""
    modules = {}
    for layer in LAYERS:
        for path in sorted((PROJECT_ROOT / layer).rglob("*.py")):
            name = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    graph = {
        name: sorted({m for _, m in _imports(path, submodules=True) if m in modules and m != name})
        for name, path in modules.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    return cycles


def test_no_module_imports_itself_through_others() -> None:
    assert module_cycles() == []


def test_the_cycle_check_sees_a_circle(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _tree_with(
        tmp_path, monkeypatch, "index/documents.py", "def f():\n    from index.reading import read_file\n"
    )
    assert any("index.documents" in c and "index.reading" in c for c in module_cycles())


def test_despatch_holds_only_the_foundation() -> None:
    modules = {p.stem for p in (PROJECT_ROOT / "despatch").glob("*.py")}
    assert modules == {"__init__", "settings", "errors", "offline", "files", "imports"}


def test_only_the_assembly_goes_offline() -> None:
    callers = []
    for layer in [*LAYERS, "tests"]:
        for path in sorted((PROJECT_ROOT / layer).rglob("*.py")):
            if path.name == "test_layers.py":
                continue
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if "go_offline(" in line and not line.lstrip().startswith("def "):
                    callers.append(f"{path.relative_to(PROJECT_ROOT)}:{lineno}")
    assert callers == ["bot/assembly.py:" + str(_line_of("bot/assembly.py", "go_offline(settings)"))]


def _line_of(rel: str, needle: str) -> int:
    lines = (PROJECT_ROOT / rel).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def test_a_wheel_ships_the_prompts_and_the_fitted_model(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys
    import zipfile

    # Built from a copy of what the wheel is made of: a build writes build/ and *.egg-info
    # beside the sources, and the tests write nothing into the repository.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", *{n for f in FLOORS for n in f}, "prompts"):
        copy = shutil.copytree if (PROJECT_ROOT / name).is_dir() else shutil.copy
        copy(PROJECT_ROOT / name, source / name)  # type: ignore[operator]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=source,
        check=True,
    )
    (wheel,) = tmp_path.glob("despatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    prompts = {p.name for p in (PROJECT_ROOT / "prompts").glob("*.j2")}
    assert prompts and {f"prompts/{p}" for p in prompts} <= names
    assert {"bot/answerability.json", "bot/models/boosted.json", "bot/models/boosted.lgb.txt"} <= names
    assert {"entry/cli.py", "bot/assembly.py", "web/server.py", "web/widget/widget.js"} <= names
    assert {"web/widget/widget.html", "web/widget/embed.js", "web/widget/widget.css"} <= names
