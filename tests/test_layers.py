"""The arrows between packages point one way; these tests fail when an import turns one round.

    peakshop (the command) -> loadtests, scaler, shop -> common
    shop domains -> shop.core;  shop.core -> no domain

Imports are read from the source (ast), including those inside functions, so a lazy import
that crosses a layer is caught as well.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> dict[str, set[str]]:
    """Every module of `package` (a folder under the repository) -> the modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def crossings(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{module} imports {name}"
            for module, names in imported_modules(package).items()
            for name in sorted(names)
            if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)]


@pytest.mark.parametrize(("package", "forbidden"), [
    ("common", ("shop", "scaler", "loadtests", "peakshop")),
    ("shop", ("scaler", "loadtests", "peakshop")),
    ("scaler", ("shop", "loadtests", "peakshop")),
    ("loadtests", ("peakshop",)),
])
def test_package_imports_only_what_lies_below_it(package, forbidden):
    assert crossings(package, forbidden) == []


def test_the_live_scaler_does_not_import_the_simulator():
    live = {module: names for module, names in imported_modules("scaler").items()
            if not module.startswith("scaler/simulate/")}
    assert [f"{module} imports {name}" for module, names in live.items() for name in names
            if name.startswith("scaler.simulate")] == []


def test_core_knows_no_domain():
    domains = tuple(f"shop.{path.name}" for path in (ROOT / "shop").iterdir()
                    if path.is_dir() and (path / "__init__.py").exists() and path.name != "core")
    assert domains, "the shop's domains were not found"
    assert crossings("shop/core", domains) == []


def test_the_crossing_check_sees_a_lazy_import(tmp_path, monkeypatch):
    """The checker itself: an import inside a function is found too."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("def f():\n    from scaler.policy import x\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert crossings("pkg", ("scaler",)) == ["pkg/mod.py imports scaler.policy"]


def test_the_liveness_probe_imports_no_database_code(tmp_path):
    """`peakshop worker --check` runs every few seconds in every worker pod: it reads a file."""
    probe = ("import sys\n"
             "from peakshop.cli import cli\n"
             "try:\n"
             "    cli(['worker', '--check'], prog_name='peakshop')\n"
             "except SystemExit:\n"
             "    pass\n"
             "heavy = sorted(name for name in ('sqlalchemy', 'flask', 'shop.orders.models',\n"
             "               'kubernetes', 'locust') if name in sys.modules)\n"
             "print('HEAVY', heavy)\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PEAKSHOP_INSTANCE_PATH": str(tmp_path)})
    assert "no heartbeat" in result.stderr, result.stderr
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_the_edge_gate_imports_neither_flask_nor_the_database(tmp_path):
    """The gate (`shop.edge`) must start fast and stay up while the app behind it is down:
    it shares only the pure parts of the waiting room, never Flask or SQLAlchemy."""
    assert crossings("shop/edge", ("flask", "werkzeug", "sqlalchemy", "alembic")) == []
    probe = ("import sys\n"
             "import shop.edge.run, shop.edge.server\n"
             "from peakshop.cli import cli\n"
             "cli.get_command(None, 'gate')\n"
             "heavy = sorted(name for name in ('flask', 'werkzeug', 'sqlalchemy', 'alembic')\n"
             "               if name in sys.modules)\n"
             "print('HEAVY', heavy)\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
