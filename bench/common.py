"""What every benchmark shares: the result table and waiting for a job."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

MIB = 1024 * 1024
RESULTS: list[tuple[str, str, str]] = []


def report(name: str, value: str, target: str = "") -> None:
    RESULTS.append((name, value, target))
    print(f"  {name:<58} {value:>18}  {target}", flush=True)


def service_python(service: str) -> str:
    """The Python of a venv holding only ``service`` and the shared library, installed
    as the image installs them (no dev tools, wheels): what the service runs with in the
    cluster. Kept outside the repository; refreshed from the sources on every call."""
    root = Path(__file__).resolve().parent.parent
    venv = Path.home() / ".cache" / "transmute" / "bench" / f"{service}-venv"
    uv = os.environ.get("UV") or str(Path.home() / ".local" / "bin" / "uv")
    package = f"transmute-{service}"
    fresh = ["--reinstall-package", package, "--reinstall-package", "transmute-common"]
    subprocess.run(
        [
            uv,
            "sync",
            "--frozen",
            "--no-dev",
            "--no-editable",
            "--quiet",
            "--package",
            package,
            *fresh,
        ],
        cwd=root,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_LINK_MODE": "copy"},
        check=True,
    )
    return str(venv / "bin" / "python")


def wait_final(client: httpx.Client, job_id: str) -> dict:
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=600) as resp:
        name = ""
        for line in resp.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == "final":
                job: dict = json.loads(line[6:])
                return job
    raise RuntimeError("event stream ended without a final event")
