"""image_to_3d: each picture of a job (a batch) becomes a model, by the local height
field (relief.py) or by the hosted API (remote.py), held to the face limit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import trimesh

from transmute_common.converter import ConversionTask, OutputFile, ProgressFn
from transmute_common.errors import InvalidArgument
from transmute_common.formats import format_of
from transmute_common.model_sniff import sniff_model
from transmute_model3d.config import Model3dSettings
from transmute_model3d.decimate import decimate
from transmute_model3d.load import Limits, check_counts, counts, load
from transmute_model3d.options import Model3dOptions
from transmute_model3d.relief import height_field_solid, read_grey
from transmute_model3d.remote import RemoteImageTo3D, RemoteSettings

# Writes a model (and its thumbnail if asked): mesh, task, options, file stem,
# details, thumbnail stem.
Write = Callable[
    [trimesh.Trimesh, ConversionTask, Model3dOptions, str, dict[str, Any], str], list[OutputFile]
]


class PictureModels:
    def __init__(self, config: Model3dSettings, limits: Limits) -> None:
        self.config, self.limits = config, limits
        self._remote_client: RemoteImageTo3D | None = None

    def run(
        self, task: ConversionTask, opts: Model3dOptions, progress: ProgressFn, write: Write
    ) -> list[OutputFile]:
        """One solid per picture (a batch), each decimated to face_limit if given."""
        outputs: list[OutputFile] = []
        total = len(task.inputs)
        for n, picture in enumerate(task.inputs):
            if opts.backend == "remote":
                mesh, details = self._generated(task, n, opts, progress)
            else:
                heights = read_grey(picture.path)
                mesh = height_field_solid(
                    heights, opts.width, opts.depth, opts.base, opts.mode == "lithophane"
                )
                details = {
                    "backend": "local",
                    "picture": {"width": heights.shape[1], "height": heights.shape[0]},
                    "mode": opts.mode,
                    "watertight": bool(mesh.is_watertight),
                }
            if opts.face_limit is not None and len(mesh.faces) > opts.face_limit:
                mesh, details["decimation"] = decimate(mesh, opts)
            check_counts(
                len(mesh.vertices), len(mesh.faces), self.limits.max_vertices, self.limits.max_faces
            )
            stem = Path(picture.name).stem or f"model-{n + 1}"
            name = f"{n + 1}-{stem}"
            outputs += write(mesh, task, opts, name, details, f"{name}-thumbnail")
            progress((n + 1) / total, f"{n + 1} of {total}")
        return outputs

    def _generated(
        self, task: ConversionTask, n: int, opts: Model3dOptions, progress: ProgressFn
    ) -> tuple[trimesh.Trimesh, dict[str, Any]]:
        """The model the hosted API makes of picture ``n``, read like an upload."""
        if not self.config.image_to_3d_url:
            raise InvalidArgument(
                "no image-to-3D API is configured: use backend local",
                code="invalid_options",
            )
        total = len(task.inputs)

        def report(fraction: float, message: str) -> None:
            progress((n + fraction) / total, f"{n + 1} of {total}: {message}")

        data = self._remote().generate(task.inputs[n].path, opts.face_limit, report)
        found = sniff_model(data[:8192])
        named = format_of(found) if found else None
        fmt = named.name if named is not None else "glb"
        model = task.output_dir / f"generated-{n + 1}.{fmt}"
        model.write_bytes(data)
        mesh = load(model, fmt, self.limits)
        model.unlink()
        return mesh, {"backend": "remote", "generated": counts(mesh)}

    def _remote(self) -> RemoteImageTo3D:
        c = self.config
        if self._remote_client is None:
            self._remote_client = RemoteImageTo3D(
                RemoteSettings(
                    url=c.image_to_3d_url,
                    key=c.image_to_3d_key.get_secret_value(),
                    timeout=c.image_to_3d_timeout_seconds,
                    max_wait=c.image_to_3d_max_wait_seconds,
                    poll=c.image_to_3d_poll_seconds,
                    retries=c.image_to_3d_retries,
                    backoff=c.image_to_3d_backoff_seconds,
                    max_result_bytes=c.image_to_3d_max_result_bytes,
                    result_hosts=tuple(c.image_to_3d_result_hosts),
                )
            )
        return self._remote_client
