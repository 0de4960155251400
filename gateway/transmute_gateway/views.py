"""Public JSON shapes of jobs and files."""

from __future__ import annotations

from typing import Any

from transmute_common.jobs import Job, job_to_json


def job_view(job: Job) -> dict[str, Any]:
    data = job_to_json(job)
    for public, ref in zip(data["inputs"], job.inputs, strict=True):
        public["file_id"] = ref.key.rsplit("/", 1)[-1]
    for out in data["outputs"]:
        out["url"] = f"/v1/jobs/{job.id}/outputs/{out['name']}"
    data["links"] = {"self": f"/v1/jobs/{job.id}", "events": f"/v1/jobs/{job.id}/events"}
    return data


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}
