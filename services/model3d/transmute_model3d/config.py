"""3D service settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from typing import Any

from pydantic import Field, SecretStr

from transmute_common.converter_settings import ConverterSettings


class Model3dSettings(ConverterSettings):
    grpc_port: int = 50064
    # A model with more is refused (model_too_large): from the header where the format
    # states it (binary STL, PLY, OFF), before the model is read; otherwise once read.
    max_faces: int = Field(default=5_000_000, ge=1)
    max_vertices: int = Field(default=5_000_000, ge=1)
    # A zip package (a model with its materials and textures) that unpacks to more
    # entries or bytes is refused (archive_too_large) before it is unpacked.
    max_archive_entries: int = Field(default=1000, ge=1)
    max_archive_bytes: int = Field(default=1024**3, ge=1)
    # image_to_3d with backend=remote: a hosted image-to-3D API in fal.ai's queue style
    # (see transmute_model3d.remote). Empty: only the local height-field backend is
    # offered. The key comes from a Secret in the chart; the result is fetched only
    # from the API's host or those listed.
    image_to_3d_url: str = ""
    image_to_3d_key: SecretStr = SecretStr("")
    image_to_3d_timeout_seconds: float = Field(default=30.0, gt=0)
    image_to_3d_max_wait_seconds: float = Field(default=600.0, gt=0)
    image_to_3d_poll_seconds: float = Field(default=1.0, gt=0)
    image_to_3d_retries: int = Field(default=3, ge=0, le=10)
    image_to_3d_backoff_seconds: float = Field(default=1.0, ge=0)
    image_to_3d_result_hosts: list[str] = []
    image_to_3d_max_result_bytes: int = Field(default=256 * 1024**2, ge=1)

    def engine_settings(self) -> dict[str, Any]:
        settings = super().engine_settings()
        settings["image_to_3d_key"] = self.image_to_3d_key.get_secret_value()  # the engine calls
        return settings
