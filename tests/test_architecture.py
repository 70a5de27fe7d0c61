"""The layout is a contract: the layers in ``pyproject.toml`` ([tool.importlinter]) and no import circles.

Both checks read the code's imports (grimp, import-linter's graph), including imports inside functions and
under ``TYPE_CHECKING``: a circle hidden in a function is still a circle.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter import configuration
from importlinter.application import use_cases

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "scheduler", "models")


def test_the_layer_contracts_hold(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    configuration.configure()  # what the lint-imports command does first (its logging set-up left out: it
    # would silence every logger that the rest of the suite's tests listen to)
    passed = use_cases.lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None)
    report = capsys.readouterr().out
    assert passed, report
    assert "broken" not in report.lower().replace("0 broken", "")


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan), a package and its own modules included:
    ``handlers/__init__`` importing ``handlers.common`` which imports ``handlers`` back is a circle too."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    circles = _circles(graph)
    details = [
        " -> ".join(chain)
        for group in circles
        for chain in [min(graph.find_shortest_chains(group[0], group[1], as_packages=False)
                          or {(group[0], group[1])}, key=len)]
    ]
    assert circles == [], "import circles:\n" + "\n".join(details)


def test_the_circle_check_sees_imports_inside_functions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above is only worth something if it finds a circle that only a function closes."""
    package = tmp_path / "circle_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle_probe import b\n")
    (package / "b.py").write_text("def late():\n    from circle_probe import a\n    return a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _circles(grimp.build_graph("circle_probe", cache_dir=None)) == [["circle_probe.a", "circle_probe.b"]]
