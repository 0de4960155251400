"""Settings every converter service has. Kept apart from the runtime so an engine,
built inside a worker process, reads its settings without loading the service's
network stack (NATS, gRPC, the store clients)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field

from transmute_common.settings import Settings
from transmute_common.worker_process import WorkerLimits


class ConverterSettings(Settings):
    concurrency: int = Field(default=2, ge=1)
    convert_timeout_seconds: float = Field(default=300.0, gt=0)
    # Limits of each worker and of every process its engine starts (0: none).
    worker_memory_bytes: int = Field(default=4 * 1024**3, ge=0)  # address space
    worker_file_bytes: int = Field(default=8 * 1024**3, ge=0)  # largest file written
    worker_cpu_seconds: int = Field(default=600, ge=0)  # CPU time per job
    worker_processes: int = Field(default=256, ge=0)  # per user; root is exempt
    work_dir: Path = Path(tempfile.gettempdir())
    progress_interval_seconds: float = 0.5
    # How long a finished conversion waits for the jobs service to record it.
    settle_retry_seconds: float = Field(default=300.0, ge=0)

    def engine_settings(self) -> dict[str, Any]:
        """What an engine may know of the settings: everything but the shared
        infrastructure (addresses, URLs, credentials)."""
        return self.model_dump(mode="json", exclude=set(Settings.model_fields))

    def worker_limits(self) -> WorkerLimits:
        return WorkerLimits(
            memory_bytes=self.worker_memory_bytes,
            file_bytes=self.worker_file_bytes,
            cpu_seconds=self.worker_cpu_seconds,
            processes=self.worker_processes,
        )

    # On SIGTERM: how long conversions in flight may finish before they are handed back
    # to the stream (keep it below the pod's terminationGracePeriodSeconds).
    stop_grace_seconds: float = Field(default=10.0, ge=0)
