"""The module graph: every module of app/ imports alone in a fresh interpreter, and no module
imports another that (through any chain) imports it back."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The app modules a module imports, anywhere in it (functions and type-checking blocks too)."""
    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {r for t in targets if (r := resolve(t)) and r.startswith("app")}
    return found


def test_the_module_graph_has_no_cycle():
    known = modules()
    # The package root only re-exports create_app, which wires everything; nothing imports it back.
    graph = {name: imports_of(path, known) - {name, "app"} for name, path in known.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                pytest.fail("import cycle: " + " → ".join(trail[trail.index(other):] + [other]))
            if other not in state:
                visit(other, trail + [other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


# Run in a fresh interpreter: the libraries app/ uses are loaded once, then each module of app/ is
# imported in a forked child of that process, in which no module of app/ has been imported yet.
# Not even the package's __init__: it imports every module (create_app wires them all), so a child
# that ran it first would import the module under test as one of the whole application's, in
# __init__'s order, and find a module that works only because __init__ imported something else
# before it as good as any. The child's `app` is the package with its __init__ not run; its own
# names (create_app, which the job worker imports) are loaded from __init__ when first asked for.
ALONE = """
import os, sys, types
import flask, flask_login, flask_wtf, flask_migrate, flask_limiter, flask_sqlalchemy, sqlalchemy, wtforms  # noqa
import geopy, openpyxl, icalendar, chinese_calendar, psycopg, argon2, zxcvbn, prcoords  # noqa
PACKAGE = os.path.join(os.getcwd(), "app")


def bare_package():
    package = types.ModuleType("app")
    package.__path__ = [PACKAGE]
    package.__file__ = os.path.join(PACKAGE, "__init__.py")

    def own_name(name):
        if os.path.exists(os.path.join(PACKAGE, name + ".py")) or os.path.isdir(os.path.join(PACKAGE, name)):
            raise AttributeError(name)      # a module of the package: imported, or missing, as such
        with open(package.__file__, encoding="utf-8") as source:
            exec(compile(source.read(), package.__file__, "exec"), package.__dict__)
        return package.__dict__[name]

    package.__getattr__ = own_name
    return package


failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            if name != "app":
                sys.modules["app"] = bare_package()
            __import__(name)
        except BaseException as e:
            print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr)
            os._exit(1)
        os._exit(0)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        failed.append(name)
sys.exit(1 if failed else 0)
"""


@pytest.mark.slow
def test_every_module_imports_alone_in_a_fresh_interpreter():
    names = sorted(modules())
    # No deadline: on a loaded machine the imports took over ten minutes once, and a deadline made
    # that a failure. A hang would still end at CI's own limit.
    done = subprocess.run([sys.executable, "-c", ALONE, *names], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
