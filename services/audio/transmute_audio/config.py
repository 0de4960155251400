"""Audio service settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from pydantic import Field

from transmute_common.converter_settings import ConverterSettings


class AudioSettings(ConverterSettings):
    grpc_port: int = 50062
    # A long recording converts for minutes: the runtime's time limit grows with it.
    convert_timeout_seconds: float = Field(default=1800.0, gt=0)
    # Longest input (by its header, and by what is decoded) that is converted.
    max_duration_seconds: float = Field(default=6 * 3600.0, gt=0)
    # Largest output file; FFmpeg stops writing there and the job fails output_too_large.
    max_output_bytes: int = Field(default=2 * 1024**3, ge=1)
    # The FFmpeg program; empty: the static build shipped in the imageio-ffmpeg wheel.
    ffmpeg_path: str = ""
