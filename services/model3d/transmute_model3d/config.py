"""3D service settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from pydantic import Field

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
