"""No import circle among breakfix's modules, counting the imports inside functions: a lazy import that closes a
circle is still a circle (``lint-imports`` checks circles between the sibling packages; this checks modules)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

import breakfix

SRC = Path(breakfix.__file__).parent

# run in a fresh interpreter, so that the package found is the one on its sys.path (PYTHONPATH)
FIND = """
import json, sys
import grimp

graph = grimp.build_graph(sys.argv[1], cache_dir=None)
circles = set()
for module in sorted(graph.modules):
    for imported in sorted(graph.find_modules_directly_imported_by(module)):
        back = graph.find_shortest_chain(importer=imported, imported=module)
        if back:  # module -> imported -> ... -> module
            circles.add(tuple(sorted(set(back))))
print(json.dumps(sorted(circles)))
"""


def circles(package: str, path: Path | None = None) -> list[list[str]]:
    """The import circles among ``package``'s modules (each as its sorted modules), read by grimp, which counts every
    import statement, inside functions and ``TYPE_CHECKING`` blocks included."""
    env = {"PYTHONPATH": str(path)} if path is not None else {}
    out = subprocess.run(
        [sys.executable, "-c", FIND, package], capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    return json.loads(out.stdout)


def test_breakfix_has_no_import_circle() -> None:
    assert grimp.__version__  # the graph is grimp's (import-linter's), not a home-made one
    assert circles("breakfix") == []


def test_a_planted_lazy_circle_is_found(tmp_path: Path) -> None:
    # a copy of breakfix in which the bottom module imports the CLI inside a function: the test above must fail on it
    copy = tmp_path / "breakfix"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    types = copy / "types.py"
    types.write_text(types.read_text() + "\n\ndef _planted() -> None:\n    from breakfix.cli import app  # noqa\n")
    found = circles("breakfix", tmp_path)
    assert found and all("breakfix.types" in c and "breakfix.cli" in c for c in found)


def test_a_circle_between_two_modules_of_a_small_package_is_found(tmp_path: Path) -> None:
    pkg = tmp_path / "circled"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from circled import b\n    return b\n")
    (pkg / "b.py").write_text("from circled import a\n")
    (pkg / "c.py").write_text("from circled import a\n")
    assert circles("circled", tmp_path) == [["circled.a", "circled.b"]]
