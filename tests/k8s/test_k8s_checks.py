"""Every kustomization renders, matches its schemas and follows the house policy; and each
check rejects a deliberately broken fixture, so none of them can pass by accident."""

from __future__ import annotations

from pathlib import Path

import pytest
from k8s_manifests import (
    FIXTURES,
    K8S,
    OVERLAYS,
    RenderError,
    expectations,
    load_file,
    render,
    undocumented_secrets,
)
from k8s_policy import policy_violations
from k8s_schema import schema_errors


def fixture_files(folder: str, pattern: str = "*.yaml") -> list[Path]:
    return sorted((FIXTURES / folder).glob(pattern))


def assert_reports_exactly(reported: list[str], fixture: Path) -> None:
    """Each expected problem is reported, and nothing else is."""
    expected = expectations(fixture)
    missing = [e for e in expected if not any(e in line for line in reported)]
    unexpected = [line for line in reported if not any(e in line for e in expected)]
    assert not missing, f"{fixture.name}: not reported: {missing}; reported: {reported}"
    assert not unexpected, f"{fixture.name}: reported beyond the fixture's intent: {unexpected}"


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_overlay_renders(rendered, overlay):
    """kubectl kustomize builds the overlay into named objects."""
    objects = rendered(overlay)
    assert objects, f"{overlay} rendered nothing"
    assert all(obj.get("metadata", {}).get("name") for obj in objects)


@pytest.mark.parametrize("overlay", ["dev", "prod", "loadtest"])
def test_overlay_puts_everything_in_its_namespace(rendered, overlay):
    """Nothing lands in `default` or another namespace by accident."""
    objects = rendered(overlay)
    [namespace] = [obj["metadata"]["name"] for obj in objects if obj["kind"] == "Namespace"]
    stray = [f"{obj['kind']}/{obj['metadata']['name']}" for obj in objects
             if obj["kind"] != "Namespace" and obj["metadata"].get("namespace") != namespace]
    assert not stray


@pytest.mark.parametrize("fixture", sorted((FIXTURES / "kustomize").iterdir()),
                         ids=lambda path: path.name)
def test_render_check_rejects_broken_kustomization(fixture):
    """A kustomization that cannot build fails the render check with kustomize's reason."""
    if not expectations(fixture / "kustomization.yaml"):
        assert render(fixture)
        return
    with pytest.raises(RenderError) as refused:
        render(fixture)
    for expected in expectations(fixture / "kustomization.yaml"):
        assert expected in str(refused.value)


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_overlay_matches_schemas(rendered, overlay):
    """kubernetes-validate --strict for built-in kinds, shipped CRD schemas for the rest."""
    assert schema_errors(rendered(overlay)) == []


@pytest.mark.parametrize("fixture", fixture_files("schema"), ids=lambda path: path.stem)
def test_schema_check_rejects_broken_fixture(fixture):
    assert_reports_exactly(schema_errors(load_file(fixture)), fixture)


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_overlay_follows_policy(rendered, overlay):
    """Probes, requests and limits, hardened security contexts, pinned images, exact RBAC."""
    assert policy_violations(rendered(overlay)) == []


@pytest.mark.parametrize("fixture", fixture_files("policy"), ids=lambda path: path.stem)
def test_policy_check_rejects_broken_fixture(fixture):
    assert_reports_exactly(policy_violations(load_file(fixture)), fixture)


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_secret_to_create_is_documented(rendered, overlay):
    """Each Secret the manifests use but do not create is named in k8s/README.md."""
    readme = (K8S / "README.md").read_text()
    assert undocumented_secrets(rendered(overlay), readme) == []


@pytest.mark.parametrize("fixture", fixture_files("secrets"), ids=lambda path: path.stem)
def test_secret_documentation_check_rejects_broken_fixture(fixture):
    readme = (K8S / "README.md").read_text()
    assert_reports_exactly(undocumented_secrets(load_file(fixture), readme), fixture)
