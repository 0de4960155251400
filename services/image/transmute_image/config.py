"""Image service settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from pydantic import Field

from transmute_common.runtime import ConverterSettings


class ImageSettings(ConverterSettings):
    grpc_port: int = 50061
    # Decompression-bomb guard: width x height x frames of the decoded image.
    max_pixels: int = Field(default=268_402_689, ge=1)  # libvips' own default, 16383^2
