"""``transmute``: convert files from a shell or a CI job.

    transmute convert photos/ *.png --to webp -o out/ --option width=800
    transmute formats
    transmute jobs list | watch ID | cancel ID | download ID [-o DIR]

The server and key come from --url/--api-key, TRANSMUTE_URL/TRANSMUTE_API_KEY, or
~/.config/transmute/config.toml (``url = ...``, ``api_key = ...``). Exit status: 0 when
every job succeeded, 1 when any failed, 2 for a usage error.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from transmute_client.aio import AsyncClient
from transmute_client.errors import ApiError
from transmute_client.models import Job

CONFIG = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "transmute/config.toml"
err = Console(stderr=True)


class JobRequest(NamedTuple):
    target: str
    options: dict[str, Any]
    operation: str
    cache: bool
    webhook_url: str = ""


@dataclass
class Settings:
    url: str
    api_key: str | None
    as_json: bool


@dataclass
class Result:
    path: Path
    status: str = "pending"
    job_id: str = ""
    outputs: list[str] = field(default_factory=list)
    size_before: int = 0
    size_after: int = 0
    seconds: float = 0.0
    error: str = ""

    def view(self) -> dict[str, Any]:
        return {**self.__dict__, "path": str(self.path)}


def _config() -> dict[str, Any]:
    try:
        return tomllib.loads(CONFIG.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _files(paths: tuple[str, ...]) -> list[Path]:
    """Files named, found in named directories, or matched by glob patterns."""
    found: list[Path] = []
    for item in paths:
        matches = glob.glob(item, recursive=True) if any(c in item for c in "*?[") else [item]
        for match in map(Path, matches):
            if match.is_dir():
                found += sorted(p for p in match.rglob("*") if p.is_file())
            elif match.is_file():
                found.append(match)
            else:
                raise click.UsageError(f"no such file or directory: {item}")
    if not found:
        raise click.UsageError("no files to convert")
    return found


def _option(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"expected name=value, got {text!r}", param_hint="--option")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


@click.group()
@click.option("--url", envvar="TRANSMUTE_URL", help="gateway URL [default: http://127.0.0.1:8080]")
@click.option("--api-key", envvar="TRANSMUTE_API_KEY", help="API key (tm_...)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output, no progress")
@click.pass_context
def main(ctx: click.Context, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Transmute from the command line."""
    config = _config()
    ctx.obj = Settings(
        url or config.get("url") or "http://127.0.0.1:8080",
        api_key or config.get("api_key"),
        as_json,
    )


def _client(settings: Settings) -> AsyncClient:
    return AsyncClient(settings.url, settings.api_key, timeout=600)


def _emit(settings: Settings, data: Any, table: Table | None) -> None:
    if settings.as_json or table is None:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        Console().print(table)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--to", "target", required=True, help="target format, e.g. webp")
@click.option("-o", "--output", "out_dir", default=".", type=click.Path(file_okay=False))
@click.option("--option", "options", multiple=True, help="name=value (JSON values), repeatable")
@click.option("--operation", default="convert", show_default=True)
@click.option("-j", "--parallel", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--no-cache", is_flag=True, help="convert again even if a result is kept")
@click.option("--webhook-url", default="", help="receives each job's final state, signed")
@click.pass_obj
def convert(
    settings: Settings,
    paths: tuple[str, ...],
    target: str,
    out_dir: str,
    options: tuple[str, ...],
    operation: str,
    parallel: int,
    no_cache: bool,
    webhook_url: str,
) -> None:
    """Convert files (directories and globs too), N at a time, each with its progress."""
    files = _files(paths)
    opts = dict(_option(o) for o in options)
    request = JobRequest(target, opts, operation, not no_cache, webhook_url)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    sized = [(f, f.stat().st_size) for f in files]
    results = asyncio.run(_convert_all(settings, sized, request, out_dir, parallel))
    table = Table("file", "status", "output", "before", "after", "seconds", "error")
    for r in results:
        table.add_row(
            str(r.path), r.status, ", ".join(r.outputs), str(r.size_before), str(r.size_after),
            f"{r.seconds:.1f}", r.error,
        )  # fmt: skip
    _emit(settings, [r.view() for r in results], table)
    sys.exit(0 if all(r.status == "succeeded" for r in results) else 1)


async def _convert_all(
    settings: Settings,
    files: list[tuple[Path, int]],
    request: JobRequest,
    out_dir: str,
    parallel: int,
) -> list[Result]:
    limit = asyncio.Semaphore(parallel)
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[state]}"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=settings.as_json,
    )
    async with _client(settings) as client:

        async def one(path: Path, size: int) -> Result:
            result = Result(path, size_before=size)
            task = bars.add_task(path.name, total=size, state="waiting")
            async with limit:
                start = time.monotonic()
                try:
                    await _convert_one(client, bars, task, result, request, out_dir)
                except ApiError as exc:
                    result.status, result.error = "failed", f"{exc.code}: {exc.message}"
                    bars.update(task, state=f"[red]{exc.code}")
                result.seconds = time.monotonic() - start
            return result

        with bars:
            return list(await asyncio.gather(*(one(p, s) for p, s in files)))


async def _convert_one(
    client: AsyncClient,
    bars: Progress,
    task: TaskID,
    result: Result,
    request: JobRequest,
    out_dir: str,
) -> None:
    bars.update(task, state="uploading")
    uploaded = await client.upload(
        result.path, lambda sent, total: bars.update(task, completed=sent)
    )
    job = await client.submit(
        [uploaded.id],
        request.target,
        request.options,
        request.operation,
        cache=request.cache,
        webhook_url=request.webhook_url,
    )
    result.job_id = job.id
    bars.reset(task, total=100)

    def show(event: Job) -> None:
        bars.update(task, completed=event.percent, state=f"{event.phase} {event.percent:.0f}%")

    job = await client.wait(job.id, show)
    result.status = job.status
    if job.status != "succeeded":
        result.error = (
            f"{(job.error or {}).get('code', '')}: {(job.error or {}).get('message', '')}"
        )
        bars.update(task, state=f"[red]{job.status}")
        return
    for output in job.outputs:
        saved = await client.download(job, output.name, out_dir)
        result.outputs.append(str(saved))
        result.size_after += saved.stat().st_size
    bars.update(task, completed=100, state="[green]done")


@main.command()
@click.pass_obj
def formats(settings: Settings) -> None:
    """What the converters read and write, and their options."""
    services = asyncio.run(_call(settings, lambda c: c.formats()))
    table = Table("service", "operation", "inputs", "outputs")
    for service in services:
        for conversion in service.get("conversions", []):
            table.add_row(
                service["service"],
                conversion.get("operation", "convert"),
                ", ".join(conversion.get("inputs", [])),
                ", ".join(conversion.get("outputs", [])),
            )
    _emit(settings, services, table)


async def _call(settings: Settings, action: Any) -> Any:
    async with _client(settings) as client:
        try:
            return await action(client)
        except ApiError as exc:
            err.print(f"[red]{exc.code}[/red]: {exc.message}")
            sys.exit(1)


@main.group()
def jobs() -> None:
    """The tenant's jobs."""


@jobs.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.pass_obj
def list_jobs(settings: Settings, limit: int) -> None:
    """Recent jobs, newest first."""
    found, _ = asyncio.run(_call(settings, lambda c: c.jobs(limit)))
    table = Table("id", "status", "service", "operation", "target", "percent")
    for job in found:
        table.add_row(
            job.id, job.status, job.service, job.operation, job.target, f"{job.percent:.0f}"
        )
    _emit(settings, [j.raw for j in found], table)


@jobs.command()
@click.argument("job_id")
@click.pass_obj
def watch(settings: Settings, job_id: str) -> None:
    """Follow a job to its end; exit 1 unless it succeeded."""

    def show(job: Job) -> None:
        if not settings.as_json:
            err.print(f"{job.status} {job.phase} {job.percent:.0f}%")

    job = asyncio.run(_call(settings, lambda c: c.wait(job_id, show)))
    _emit(settings, job.raw, None)
    sys.exit(0 if job.status == "succeeded" else 1)


@jobs.command()
@click.argument("job_id")
@click.pass_obj
def cancel(settings: Settings, job_id: str) -> None:
    """Cancel a queued or running job."""
    job = asyncio.run(_call(settings, lambda c: c.cancel(job_id)))
    _emit(settings, job.raw, None)


@jobs.command()
@click.argument("job_id")
@click.option("-o", "--output", "out_dir", default=".", type=click.Path(file_okay=False))
@click.pass_obj
def download(settings: Settings, job_id: str, out_dir: str) -> None:
    """Save every output of a job."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)

    async def fetch(client: AsyncClient) -> list[str]:
        job = await client.job(job_id)
        return [str(await client.download(job, o.name, out_dir)) for o in job.outputs]

    saved = asyncio.run(_call(settings, fetch))
    _emit(settings, saved, None)
