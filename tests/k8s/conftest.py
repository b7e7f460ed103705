"""Fixtures for the Kubernetes packaging checks: each kustomization rendered once per session."""

from __future__ import annotations

from typing import Any

import pytest
from k8s_manifests import OVERLAYS, render


@pytest.fixture(scope="session")
def rendered() -> Any:
    """A function: overlay name -> its rendered objects (rendered once, then reused)."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def get(name: str) -> list[dict[str, Any]]:
        if name not in cache:
            cache[name] = render(OVERLAYS[name])
        return cache[name]

    return get
