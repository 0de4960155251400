import asyncio

import pytest

from transmute_common.errors import Conflict, Unavailable
from transmute_common.jobs import Progress
from transmute_common.progress import ProgressReporter


async def test_sends_in_order_and_coalesces() -> None:
    sent: list[float] = []

    async def send(p: Progress) -> None:
        await asyncio.sleep(0.02)
        sent.append(p.percent)

    reporter = ProgressReporter(send, min_interval=0.05)
    await reporter.report(Progress(percent=1))
    await asyncio.sleep(0)  # the sender starts with the first report
    for pct in (10, 20, 30):
        await reporter.report(Progress(percent=pct))
    await asyncio.sleep(0.3)
    assert sent == [1, 30]  # the latest replaced the reports waiting behind the first


async def test_stop_drops_pending_reports() -> None:
    sent: list[float] = []

    async def send(p: Progress) -> None:
        sent.append(p.percent)

    reporter = ProgressReporter(send, min_interval=0.5)
    await reporter.report(Progress(percent=1))
    await asyncio.sleep(0.01)
    await reporter.report(Progress(percent=50))
    reporter.stop()
    await asyncio.sleep(0.6)
    assert sent == [1]


async def test_refusal_surfaces_at_next_report_and_outages_do_not() -> None:
    async def refuse(p: Progress) -> None:
        raise Conflict("cancelled", code="job_finished")

    reporter = ProgressReporter(refuse, min_interval=0)
    await reporter.report(Progress(percent=1))
    await asyncio.sleep(0.01)
    with pytest.raises(Conflict):
        await reporter.report(Progress(percent=2))

    async def down(p: Progress) -> None:
        raise Unavailable("jobs service down")

    reporter = ProgressReporter(down, min_interval=0)
    await reporter.report(Progress(percent=1))
    await asyncio.sleep(0.01)
    await reporter.report(Progress(percent=2))  # no exception
