"""The package layout keeps its promises: no import cycle between modules, pure measures, no oversized module."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "videocoach"
MAX_LINES = 700
# what the measures may not import, directly (checked on the source) or when imported (checked in a subprocess)
HEAVY = ("torch", "cv2", "streamlit", "sqlite3", "ffmpeg", "onnxruntime", "ctranslate2", "faster_whisper", "sklearn")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every videocoach module this file imports, at any depth of the file (function-level imports count too)."""
    out: set[str] = set()
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        # a package's __init__ imported on the way to a submodule is not an edge of its own
        graph[name] = {m for m in _imports(path) if m in modules and m != name and not PACKAGE.joinpath(
            *m.split(".")[1:], "__init__.py").exists()}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle():
    graph = _graph()
    assert len(graph) > 30  # the walk found the package
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_import_cycle_among_the_eval_scripts():
    """eval/ scripts import each other by bare name (they put their folder on sys.path)."""
    folder = PACKAGE.parent / "eval"
    names = {p.stem for p in folder.glob("*.py")}
    graph = {p.stem: {m.split(".")[0] for m in _imports(p)} & names - {p.stem} for p in folder.glob("*.py")}
    assert len(graph) > 3
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_over_the_limit():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines()))
            > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_measures_import_nothing_heavy_in_source():
    for path in (PACKAGE / "measures").rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top not in HEAVY, f"{path.name} imports {name}"
            if top == "videocoach":
                assert name.startswith(("videocoach.core", "videocoach.measures")), f"{path.name} imports {name}"


def test_measures_import_nothing_heavy_when_loaded():
    import subprocess
    import sys

    code = ("import sys, pkgutil, importlib, videocoach.measures as m\n"
            "for i in pkgutil.iter_modules(m.__path__): importlib.import_module('videocoach.measures.' + i.name)\n"
            f"print(sorted(h for h in {HEAVY!r} if h in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == "[]", out


def test_every_package_says_what_it_may_import():
    for init in PACKAGE.rglob("__init__.py"):
        if init.parent.name in ("data", "pages"):
            continue
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert doc, f"{init} has no docstring"
        if init.parent != PACKAGE and init.parent.name != "ui":
            assert "May import" in doc, f"{init} does not say what it may import"
