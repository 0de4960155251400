"""Schemathesis against the running gateway: every check (server errors, documented
status codes, response schemas and headers, Allow on 405, negative and positive data,
use after free, ...), the stateful phase included, must find nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts.mesh import Mesh

pytestmark = pytest.mark.e2e
CONFIG = Path(__file__).with_name("schemathesis.toml")
BUDGET_SECONDS = 45


def test_schemathesis_finds_no_failure(mesh: Mesh) -> None:
    binary = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(binary),
            "--config-file",
            str(CONFIG),
            "run",
            f"{mesh.url}/openapi.json",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-time",
            str(BUDGET_SECONDS),
            "--workers",
            "2",
            "--request-timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=BUDGET_SECONDS * 4,
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    assert "generated" in summary  # it did generate and send test cases
