"""The one image definition and skaffold.yaml, checked against the services that exist.
No Docker engine runs here, so the Dockerfile's install step is run for real for each
service into a temporary environment instead: the image gets exactly that."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.delivery.conftest import CHART, ROOT, STACK, render, service_names

PACKAGE_DIRS = {
    name: ROOT / ("gateway" if name == "gateway" else f"services/{name}")
    for name in service_names()
}
DOCKERFILE = ROOT / "Dockerfile"
DEBIAN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def build_stage_runs() -> list[list[str]]:
    """The RUN instructions of the build stage, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    [build] = [stage for stage in text.split("\nFROM ") if " AS build\n" in stage]
    lines = [line for line in build.splitlines() if line.startswith("RUN ")]
    return [shlex.split(line.removeprefix("RUN ")) for line in lines]


def test_one_image_definition_for_every_service() -> None:
    copies = sorted(
        str(p.relative_to(ROOT))
        for p in ROOT.glob("**/Dockerfile*")
        if ".venv" not in p.parts and p != DOCKERFILE
    )
    assert copies == []  # a new service adds no Dockerfile of its own
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1))
    # The web app's build, the services' build, the runtime.
    assert len(re.findall(r"^FROM ", text, re.M)) == 3
    assert re.search(r"^ARG SERVICE$", text, re.M)
    final_stage = text.split("\nFROM ")[-1]
    assert "USER 10001:10001" in final_stage
    assert "pip install" not in final_stage and "uv " not in final_stage  # no build tools
    assert re.search(r'^ENTRYPOINT \["transmute-service"\]$', text, re.M)


@pytest.mark.parametrize("name", sorted(service_names()))
def test_every_service_has_the_entry_point_the_image_runs(name: str) -> None:
    script = tomllib.loads((PACKAGE_DIRS[name] / "pyproject.toml").read_text())
    assert f"transmute-{name}" in script["project"]["scripts"]
    assert script["project"]["name"] == f"transmute-{name}"
    packages = PACKAGE_DIRS[name] / "system-packages.txt"
    if packages.exists():
        names = [ln.split("#")[0].strip() for ln in packages.read_text().splitlines()]
        assert all(DEBIAN_PACKAGE.match(n) for n in names if n)


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests", "charts", "web/node_modules", "web/dist"} <= set(ignored)


def test_the_gateway_image_serves_the_web_app_built_as_make_builds_it() -> None:
    text = DOCKERFILE.read_text()
    web = next(stage for stage in text.split("\nFROM ") if " AS web\n" in stage)
    runs = [ln.removeprefix("RUN ").split() for ln in web.splitlines() if ln.startswith("RUN ")]
    assert runs == [["npm", "ci", "--no-audit", "--no-fund"], ["npm", "run", "build"]]
    build_script = (ROOT / "scripts" / "build-web.sh").read_text()
    assert "npm ci" in build_script and "npm run --silent build" in build_script
    assert "mv /opt/web /opt/venv/web" in text
    assert re.search(r"TRANSMUTE_WEB_DIR=/opt/venv/web", text.split("\nFROM ")[-1])


@pytest.mark.parametrize("name", sorted(service_names()))
def test_image_install_step_gives_a_runnable_service(name: str, tmp_path: Path, uv: str) -> None:
    [argv] = [run for run in build_stage_runs() if run[:2] == ["uv", "sync"]]
    argv = [uv, *(a.replace("${SERVICE}", name) for a in argv[1:])]
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"), "UV_LINK_MODE": "copy"}
    subprocess.run([*argv, "--quiet"], cwd=ROOT, env=env, check=True, timeout=300)
    venv = tmp_path / "venv"
    script = tomllib.loads((PACKAGE_DIRS[name] / "pyproject.toml").read_text())
    target = script["project"]["scripts"][f"transmute-{name}"]
    assert (venv / "bin" / f"transmute-{name}").exists()
    module = target.split(":")[0]
    # No development tools in any image; the MongoDB driver only in the jobs service's.
    absent = ["pytest", "grpc_tools", "mypy"] + ([] if name == "jobs" else ["pymongo"])
    present = ["pymongo"] if name == "jobs" else []
    check = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"import {module}, importlib.util as u; "
            f"print(all(u.find_spec(m) is None for m in {absent!r}) and "
            f"all(u.find_spec(m) is not None for m in {present!r}))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "True", absent
    site = next((venv / "lib").glob("python3.11/site-packages"))
    assert not list(site.glob("*.pth")) or all(
        str(ROOT) not in p.read_text() for p in site.glob("*.pth")
    )  # wheels, not sources


def test_skaffold_builds_every_service_and_deploys_the_chart(helm: str) -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    artifacts = {a["image"]: a for a in config["build"]["artifacts"]}
    assert set(artifacts) == {f"transmute-{s}" for s in service_names()}
    for name in service_names():
        art = artifacts[f"transmute-{name}"]
        assert (ROOT / art["context"] / art["docker"]["dockerfile"]) == DOCKERFILE
        assert art["docker"]["buildArgs"] == {"SERVICE": name}
    [release] = config["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"]) == STACK
    overrides = release["setValueTemplates"]
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key, template in overrides.items():
        _, _, service, field = key.split(".")
        assert service in chart_values["services"] and field == "image"
        assert template == "{{.IMAGE_FULLY_QUALIFIED_transmute_" + service + "}}"
    assert {k.split(".")[2] for k in overrides} == service_names()
    [dev] = [p for p in config["profiles"] if p["name"] == "dev"]
    forwards = {f["resourceName"]: f for f in dev["portForward"]}
    services = {d["metadata"]["name"] for d in render(helm, CHART) if d["kind"] == "Service"}
    assert "transmute-gateway" in services and forwards["transmute-gateway"]["port"] == 8080
    assert "transmute-grafana" in forwards
