"""A converter killed in the middle of a job: after a restart the job still succeeds,
with exactly one output."""

from __future__ import annotations

import signal

import httpx
import pytest
import pyvips

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import convert, final_state, objects_under, wait_for

pytestmark = pytest.mark.e2e


def noisy_jpeg(width: int, height: int) -> bytes:
    """Noise is slow to encode: AVIF of this takes seconds, time enough to kill mid-way."""
    bands = [pyvips.Image.gaussnoise(width, height).cast("uchar") for _ in range(3)]
    data: bytes = bands[0].bandjoin(bands[1:]).jpegsave_buffer(Q=90)
    return data


def test_sigkill_of_the_image_converter_mid_job(api: httpx.Client, mesh: Mesh) -> None:
    resp = convert(api, noisy_jpeg(3000, 2200), "avif")
    job_id = resp.json()["id"]
    wait_for(lambda: api.get(f"/v1/jobs/{job_id}").json()["progress"]["phase"] == "convert")
    mesh.kill("image", signal.SIGKILL)
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
    mesh.start_service("image")
    done = final_state(api, job_id)
    assert done["status"] == "succeeded", done
    assert done["attempts"] >= 2
    assert len(done["outputs"]) == 1
    assert len(objects_under(mesh, f"tenants/default/jobs/{job_id}")) == 1
    out = api.get(done["outputs"][0]["url"]).content
    assert images.dimensions(out)[:2] == (3000, 2200)
