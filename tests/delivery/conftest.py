"""Helpers for the delivery tests: a real helm binary and rendered manifests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import find_binary

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "transmute"
STACK = ROOT / "charts" / "transmute-stack"
KUBE_VERSION = "1.30.0"
# The charts have no default passwords: tests render them with these keys.
SECRETS = {
    "transmute": CHART / "ci" / "test-values.yaml",
    "transmute-stack": STACK / "dev-values.yaml",
}


@pytest.fixture(scope="session")
def helm() -> str:
    return find_binary("helm", "helm (built from source by 'make servers')")


def run_helm(helm: str, *args: str, cwd: Path | None = None) -> str:
    result = subprocess.run([helm, *args], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def render(
    helm: str, chart: Path, *args: str, release: str = "transmute", secrets: bool = True
) -> list[dict[str, Any]]:
    keys = ["-f", str(SECRETS[chart.name])] if secrets else []
    out = run_helm(
        helm, "template", release, str(chart), "--kube-version", KUBE_VERSION, *keys, *args
    )
    return [doc for doc in yaml.safe_load_all(out) if doc]


def service_names() -> set[str]:
    """Every service the repository has: the gateway and each package under services/."""
    names = {
        p.name
        for p in (ROOT / "services").iterdir()
        if (p / "pyproject.toml").exists() and p.name != "common"
    }
    return names | {"gateway"}
