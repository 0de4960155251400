"""Audio benchmarks: the whole mesh against the bare FFmpeg command with the same
arguments (built by the audio engine's own command builder), and the audio service's
peak memory (service + workers + FFmpeg) on an hour of WAV."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import threading
import time
from pathlib import Path

import httpx

from bench.common import MIB, report, wait_final
from scripts.mesh import Mesh
from tests import media
from transmute_audio import command
from transmute_audio.options import AudioOptions
from transmute_audio.probe import probe


def bare_ffmpeg(src: Path, target: str, options: dict, out: Path) -> float:
    opts = AudioOptions.model_validate(options)
    info = probe(src, "wav")
    plan = command.Plan(src, "wav", info, target, opts, 0.0, info.duration_seconds, 2**40)
    args = command.convert_command(media.FFMPEG, plan, out, None)
    at = args.index("-progress")
    args = args[:at] + args[at + 2 :]  # the bare run does not report progress
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def through_mesh(client: httpx.Client, src: Path, target: str, options: dict) -> float:
    start = time.perf_counter()
    with src.open("rb") as f:
        resp = client.post(
            "/v1/convert",
            files={"file": (src.name, f)},
            data={"target": target, "options": json.dumps(options)},
        )
    resp.raise_for_status()
    job = wait_final(client, resp.json()["id"])
    assert job["status"] == "succeeded", job
    with client.stream("GET", job["outputs"][0]["url"], follow_redirects=True) as download:
        for _ in download.iter_bytes():
            pass
    return time.perf_counter() - start


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name is in parentheses and may hold spaces: split after it.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """Resident (RSS) and proportional (PSS: shared pages split among their users)."""
    values = {"Rss:": 0, "Pss:": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key = line.split()[0] if line.strip() else ""
            if key in values:
                values[key] = int(line.split()[1])
    except OSError:
        pass
    return values["Rss:"], values["Pss:"]


def tree_memory_mb(root: int) -> tuple[float, float]:
    rss = pss = 0
    for pid in descendants(root):
        r, p = memory_kib(pid)
        rss, pss = rss + r, pss + p
    return rss / 1024, pss / 1024


class PeakSampler:
    """Samples the memory of a process tree (service, its workers, FFmpeg)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(tree_memory_mb(self.pid))
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_audio(args: argparse.Namespace, work: Path) -> None:
    print("\nAudio (FFmpeg), embedded stores:", flush=True)
    minutes = 2 if args.quick else 10
    src = media.tone(
        work / "speech.wav",
        "wav",
        seconds=minutes * 60,
        source="anoisesrc=color=pink:amplitude=0.3",
    )
    # One worker: the memory row measures the service, its worker and FFmpeg.
    env = {"TRANSMUTE_MAX_UPLOAD_BYTES": str(4 * 1024 * MIB), "TRANSMUTE_CONCURRENCY": "1"}
    mesh = Mesh.on_free_ports(work / "state-audio", log_dir=work / "logs-audio", extra_env=env)
    mesh.start()
    try:
        with httpx.Client(base_url=mesh.url, timeout=900) as client:
            for label, target, options in (
                ("MP3 (V2)", "mp3", {"quality": "high"}),
                ("Opus 96k", "opus", {"quality": "medium"}),
            ):
                through_mesh(client, src, target, options)  # warm-up: worker, page cache
                # Alternating rounds, medians: one pair of runs on a shared 2-core
                # machine swings by 10 %.
                bares, wholes = [], []
                for _ in range(1 if args.quick else 3):
                    bares.append(bare_ffmpeg(src, target, options, work / f"bare.{target}"))
                    wholes.append(through_mesh(client, src, target, options))
                bare, whole = statistics.median(bares), statistics.median(wholes)
                name = f"(f) {minutes} min stereo WAV -> {label}"
                report(f"{name}, bare ffmpeg (median)", f"{bare:.2f} s")
                report(f"{name}, whole mesh, upload..download (median)", f"{whole:.2f} s")
                report(f"{name}, ratio mesh / bare", f"{whole / bare:.2f}", "target <= 1.05")
            hour = 6 if args.quick else 60
            big = media.tone(work / "hour.wav", "wav", seconds=hour * 60)
            pid = mesh.procs["audio"].pid
            idle_rss, idle_pss = tree_memory_mb(pid)
            with PeakSampler(pid) as sampler:
                through_mesh(client, big, "opus", {"quality": "medium"})
            peak_rss = max(r for r, _ in sampler.samples)
            peak_pss = max(p for _, p in sampler.samples)
            label = f"{hour} min WAV ({big.stat().st_size // MIB} MiB) -> Opus"
            report("(g) audio service idle, RSS / PSS", f"{idle_rss:.0f} / {idle_pss:.0f} MB")
            report(
                f"(g) peak RSS, service + worker + FFmpeg, {label}",
                f"{peak_rss:.0f} MB",
                "target <= 100 MB",
            )
            report(f"(g) peak PSS (shared pages counted once), {label}", f"{peak_pss:.0f} MB")
    finally:
        mesh.stop()
