"""Dependencies point one way (design.md): no module of chopsticks takes part in an import cycle
at module level, and every module imports on its own, first, in a fresh interpreter."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

import chopsticks

PACKAGE = Path(chopsticks.__file__).parent


def module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def top_level_imports(module: str) -> set[str]:
    """chopsticks modules imported when `module` is imported (not inside functions, not for typing)."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, (ast.Import, ast.ImportFrom, ast.Try, ast.If)) else ():
            if isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0 and sub.module.startswith("chopsticks"):
                found.add(sub.module)
                found.update(f"{sub.module}.{a.name}" for a in sub.names)
            elif isinstance(sub, ast.Import):
                found.update(a.name for a in sub.names if a.name.startswith("chopsticks"))
    known = set(module_names())
    ancestors = {module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)}   # imported first anyway
    return {m for m in found if m in known and m != module and m not in ancestors}


def test_no_import_cycles():
    graph = {m: top_level_imports(m) for m in module_names()}
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for n in graph.get(m, ()):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_every_module_imports_on_its_own():
    # One fresh interpreter imports each module first in its own subinterpreter-like run.
    code = ("import importlib, subprocess, sys\n"
            "failed = []\n"
            "for name in sys.argv[1:]:\n"
            "    r = subprocess.run([sys.executable, '-c', f'import {name}'], capture_output=True, text=True)\n"
            "    if r.returncode: failed.append(name + ': ' + r.stderr.strip().splitlines()[-1])\n"
            "print('\\n'.join(failed))\n")
    skip = {"chopsticks.__main__"}
    # Shipped scenario files are user code run by `chopsticks run` (their parameters come from a
    # scenario config), not modules of the library.
    names = [m for m in module_names() if m not in skip and not m.startswith("chopsticks.scenarios.")]
    out = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=600).stdout
    assert out.strip() == "", out
