import pytest

from transmute_common import jobs as model
from transmute_common.errors import Conflict
from transmute_common.jobs import FileRef, Job, JobError, JobStatus, Progress


def new_job() -> Job:
    return Job(
        tenant="default",
        service="image",
        target="webp",
        inputs=[FileRef(key="tenants/default/uploads/x", name="a.jpg")],
        options={"width": 10, "nested": {"q": 2.5}},
    ).with_ttl(60)


def test_first_progress_starts_the_job_and_bumps_version() -> None:
    job = new_job()
    running = model.report_progress(job, 1, Progress(percent=5, phase="fetch"))
    assert running.status is JobStatus.RUNNING
    assert running.started_at is not None
    assert running.attempts == 1
    assert running.version == job.version + 1


def test_progress_never_goes_backwards() -> None:
    job = model.report_progress(new_job(), 1, Progress(percent=60, phase="convert"))
    again = model.report_progress(job, 2, Progress(percent=1, phase="fetch"))
    assert again.progress.percent == 60
    assert again.progress.phase == "fetch"
    assert again.attempts == 2


@pytest.mark.parametrize(
    "finish",
    [
        lambda j: model.complete(j, []),
        lambda j: model.fail(j, JobError(code="x", message="y")),
        model.cancel,
    ],
)
def test_terminal_states_are_final(finish) -> None:  # type: ignore[no-untyped-def]
    done = finish(new_job())
    assert done.status.terminal
    with pytest.raises(Conflict):
        model.report_progress(done, 1, Progress(percent=1))
    others = [
        lambda j: model.complete(j, []),
        lambda j: model.fail(j, JobError(code="a", message="b")),
        model.cancel,
    ]
    for other in others:
        try:
            result = other(done)
        except Conflict:
            continue
        assert result is done  # only the same transition repeats, as a no-op


def test_complete_sets_outputs_and_full_progress() -> None:
    out = FileRef(key="tenants/default/jobs/1/a.webp", name="a.webp", size=3)
    done = model.complete(new_job(), [out])
    assert done.status is JobStatus.SUCCEEDED
    assert done.outputs == [out]
    assert done.progress.percent == 100
    assert done.finished_at is not None


def test_protobuf_round_trip_keeps_everything() -> None:
    job = model.fail(
        model.report_progress(new_job(), 2, Progress(percent=30, phase="convert")),
        JobError(code="invalid_image", message="bad"),
    )
    back = model.job_from_pb(model.job_to_pb(job))
    assert back == job
    assert isinstance(back.options["width"], int)


def test_protobuf_round_trip_keeps_speed_details_and_error_details() -> None:
    running = model.report_progress(
        new_job(), 1, Progress(percent=40, phase="convert", rate=12.5, eta_seconds=8.0)
    )
    assert (running.progress.rate, running.progress.eta_seconds) == (12.5, 8.0)
    assert model.job_from_pb(model.job_to_pb(running)) == running
    details = {"input": {"codec": "pcm_s16le", "duration_seconds": 2.5}, "size_ratio": 0.08}
    out = FileRef(key="tenants/default/jobs/1/a.mp3", name="a.mp3", size=3, details=details)
    done = model.complete(running, [out])
    assert model.job_from_pb(model.job_to_pb(done)).outputs[0].details == details
    failed = model.fail(
        new_job(), JobError(code="invalid_audio", message="bad", details={"engine_log": "x"})
    )
    assert model.job_from_pb(model.job_to_pb(failed)).error == failed.error
    # Progress without a speed stays without one (proto3 optional, not 0).
    plain = model.report_progress(new_job(), 1, Progress(percent=5, phase="fetch"))
    assert model.job_from_pb(model.job_to_pb(plain)).progress.rate is None


def test_public_json_hides_object_keys() -> None:
    data = model.job_to_json(model.complete(new_job(), [FileRef(key="secret/key", name="a.webp")]))
    assert "key" not in data["outputs"][0]
    assert "key" not in data["inputs"][0]
    assert data["status"] == "succeeded"


def test_a_cached_result_is_named_after_the_new_jobs_input() -> None:
    earlier = model.complete(
        new_job(),
        [
            FileRef(key="tenants/default/jobs/e/a.webp", name="a.webp"),
            FileRef(key="tenants/default/jobs/e/other.txt", name="other.txt"),
        ],
    )
    job = new_job().model_copy(
        update={"inputs": [FileRef(key="tenants/default/uploads/y", name="holiday.photo.jpg")]}
    )
    cached = model.from_cache(job, earlier)
    assert cached.cached and cached.status is JobStatus.SUCCEEDED
    assert [(f.name, f.key) for f in cached.outputs] == [
        ("holiday.photo.webp", "tenants/default/jobs/e/a.webp"),  # the same stored object
        ("other.txt", "tenants/default/jobs/e/other.txt"),
    ]


def test_webhook_state_round_trips_and_keeps_the_newest_attempts() -> None:
    job = model.complete(new_job(), [])
    at = model.utcnow()
    for n in range(model.MAX_WEBHOOK_ATTEMPTS_KEPT + 5):
        job = model.webhook_attempt(
            job, model.WebhookAttempt(at=at, status_code=500 + n % 3, error="HTTP 500"), "pending"
        )
    job = model.webhook_attempt(job, model.WebhookAttempt(at=at, status_code=200), "delivered")
    assert job.webhook is not None and job.webhook.state == "delivered"
    assert len(job.webhook.attempts) == model.MAX_WEBHOOK_ATTEMPTS_KEPT
    assert job.webhook.attempts[-1].status_code == 200 and job.webhook.delivered_at == at
    back = model.job_from_pb(model.job_to_pb(job.model_copy(update={"webhook_url": "https://x/y"})))
    assert back.webhook == job.webhook and back.webhook_url == "https://x/y"
