"""What a user who only has the repository relies on: the locks, the Quick start, no outside
files."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ROLES = {"web": None, "scaler": "scaler", "loadtest": "loadtest", "backup": "backup",
         "all": "all", "test": "test"}
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)(\s*;\s*([^\\]+?))?\s*\\?$")


def declared(extra: str | None) -> list[Requirement]:
    """The project's requirements for `extra` (None: the base), following `peakshop[...]`."""
    project = PYPROJECT["project"]
    found = [Requirement(text) for text in project["dependencies"]]
    pending = [extra] if extra else []
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in project["optional-dependencies"][name]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "peakshop":
                pending += sorted(requirement.extras)
            else:
                found.append(requirement)
    return found


def pins(role: str) -> dict[str, list[tuple[str, str | None]]]:
    """name -> [(version, marker)] pinned in requirements/requirements-<role>.txt."""
    pinned: dict[str, list[tuple[str, str | None]]] = {}
    for line in (ROOT / "requirements" / f"requirements-{role}.txt").read_text().splitlines():
        match = PIN.match(line)
        if match:
            pinned.setdefault(canonicalize_name(match[1]), []).append((match[2], match[4]))
    return pinned


@pytest.mark.parametrize(("role", "extra"), ROLES.items())
def test_each_lock_pins_what_its_role_declares_within_the_ranges(role, extra):
    pinned = pins(role)
    for requirement in declared(extra):
        name = canonicalize_name(requirement.name)
        assert name in pinned, (f"{name} is declared but not in "
                                f"requirements/requirements-{role}.txt: run scripts/lock")
        for version, _ in pinned[name]:
            assert requirement.specifier.contains(version, prereleases=True), \
                f"{name}=={version} in requirements-{role}.txt is outside {requirement}"


@pytest.mark.parametrize("role", ROLES)
def test_every_pin_carries_its_hashes(role):
    lines = (ROOT / "requirements" / f"requirements-{role}.txt").read_text().splitlines()
    for number, line in enumerate(lines):
        if PIN.match(line):
            assert number + 1 < len(lines) and "--hash=sha256:" in lines[number + 1], line


def test_every_role_runs_the_versions_the_suite_tests():
    tested = pins("test")
    for role in ROLES:
        for name, versions in pins(role).items():
            assert {version for version, _ in versions} <= {v for v, _ in tested[name]}, \
                f"{name} differs between {role} and test"


def test_the_quick_start_is_two_commands_that_exist():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2, commands
    for command in commands:
        assert (ROOT / command.split()[0]).is_file(), command


OUTSIDE = "../" + "shared"  # a developers' folder beside the repository, never shipped


def test_nothing_leans_on_files_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    leaning = [path for path in tracked
               if path.endswith((".md", ".py", ".toml", ".yaml", ".sh")) or "/" not in path
               if (ROOT / path).is_file() and OUTSIDE in (ROOT / path).read_text()]
    assert leaning == [], "ship what these need inside the repository"
