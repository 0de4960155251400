"""What arrives on the bus is not trusted: a repeated delivery leaves a finished job's
outputs alone, a forged message touches nothing, a missing input fails its job."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import convert, final_state, objects_under, wait_for
from transmute_common.bus import (
    MSG_ID,
    TENANT_HEADER,
    Bus,
    ConversionRequest,
    conversion_subject,
)
from transmute_common.jobs import FileRef
from transmute_common.jobs_client import JobsClient
from transmute_common.settings import Settings

pytestmark = pytest.mark.e2e


def publish(mesh: Mesh, request: ConversionRequest) -> None:
    """Puts a conversion request on the bus as a redelivery or a forger would: with a
    message id JetStream has not seen."""

    async def send() -> None:
        bus = Bus(Settings(nats_url=f"nats://127.0.0.1:{mesh.nats_port}"))
        await bus.connect("test")
        try:
            await bus.js.publish(
                conversion_subject(request.service, uuid.uuid4().hex),
                request.model_dump_json().encode(),
                headers={MSG_ID: uuid.uuid4().hex, TENANT_HEADER: request.tenant},
            )
        finally:
            await bus.close()

    asyncio.run(send())


def upload_ref(file_id: str, name: str, **more: object) -> FileRef:
    return FileRef(
        key=f"tenants/default/uploads/{file_id}", name=name, content_type="image/png", **more
    )


def outcome(mesh: Mesh, job_id: str) -> str:
    """The converter's last logged outcome for a job ("" before there is one)."""
    assert mesh.log_dir is not None
    found = ""
    for line in (mesh.log_dir / "image.log").read_text(errors="replace").splitlines():
        if job_id in line and '"job_processed"' in line:
            found = json.loads(line)["outcome"]
    return found


def test_a_repeated_delivery_leaves_a_finished_job_alone(api: httpx.Client, mesh: Mesh) -> None:
    done = final_state(api, convert(api, images.png(60, 40), "webp", name="keep.png").json()["id"])
    assert done["status"] == "succeeded"
    before = objects_under(mesh, f"tenants/default/jobs/{done['id']}/")
    job = api.get(f"/v1/jobs/{done['id']}").json()
    inputs = [
        upload_ref(i["file_id"], i["name"], size=i["size"], sha256=i["sha256"])
        for i in job["inputs"]
    ]
    request = ConversionRequest(
        job_id=done["id"],
        tenant="default",
        service="image",
        operation="convert",
        inputs=inputs,
        target="webp",
        output_prefix=f"tenants/default/jobs/{done['id']}/",
    )
    publish(mesh, request)
    wait_for(lambda: outcome(mesh, done["id"]) == "already_succeeded", timeout=20)
    assert objects_under(mesh, f"tenants/default/jobs/{done['id']}/") == before
    download = api.get(done["outputs"][0]["url"])
    assert download.status_code == 200 and len(download.content) == done["outputs"][0]["size"]


@pytest.mark.parametrize("job_id", ["0" * 32, "../../x"])
def test_a_forged_message_touches_nothing(api: httpx.Client, mesh: Mesh, job_id: str) -> None:
    convert(api, images.png(8, 8), "png")  # something of the tenant's is stored
    before = objects_under(mesh, "tenants/")
    forged = ConversionRequest(
        job_id=job_id,
        tenant="default",
        service="image",
        operation="convert",
        inputs=[upload_ref("none", "x.png")],
        target="png",
        output_prefix="tenants/",  # ignored: converters derive it from the job id
    )
    publish(mesh, forged)
    wait_for(lambda: outcome(mesh, job_id).startswith("refused:"), timeout=20)
    assert set(objects_under(mesh, "tenants/")) >= set(before)


def test_a_missing_input_fails_its_job(api: httpx.Client, mesh: Mesh) -> None:
    async def create() -> str:
        jobs = JobsClient(f"127.0.0.1:{mesh.jobs_port}")
        try:
            job, _ = await jobs.create(
                tenant="default",
                service="image",
                operation="convert",
                inputs=[
                    FileRef(
                        key=f"tenants/default/uploads/{uuid.uuid4().hex}",
                        name="gone.png",
                        content_type="image/png",
                    )
                ],
                target="webp",
                options={},
            )
        finally:
            await jobs.close()
        return job.id

    job_id = asyncio.run(create())
    job = api.get(f"/v1/jobs/{job_id}").json()
    publish(
        mesh,
        ConversionRequest(
            job_id=job_id,
            tenant="default",
            service="image",
            operation="convert",
            inputs=[upload_ref(job["inputs"][0]["file_id"], "gone.png")],
            target="webp",
            output_prefix=f"tenants/default/jobs/{job_id}/",
        ),
    )
    done = final_state(api, job_id)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "input_missing"
