"""Image service settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from pydantic import Field

from transmute_common.converter_settings import ConverterSettings


class ImageSettings(ConverterSettings):
    grpc_port: int = 50061
    # Decompression-bomb guard: width x height x frames of the decoded image.
    max_pixels: int = Field(default=268_402_689, ge=1)  # libvips' own default, 16383^2
    # Frames of an animation converted to an animated format; more fail the job with
    # too_many_frames (libvips handles at most 10000 pages).
    max_frames: int = Field(default=1000, ge=1, le=10_000)
