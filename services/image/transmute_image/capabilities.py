"""What the image service declares it can do. Built without the engine (no libvips),
so the service can say it even where the engine cannot load."""

from transmute_common.converter import Capabilities, Conversion
from transmute_image.options import OPTION_SPECS

INPUTS = ["jpeg", "png", "webp", "avif", "gif", "tiff", "bmp", "heic", "svg"]
OUTPUTS = ["jpeg", "png", "webp", "avif", "gif", "tiff"]

CAPABILITIES = Capabilities(
    service="image",
    conversions=[Conversion(operation="convert", inputs=INPUTS, outputs=OUTPUTS)],
    options=OPTION_SPECS,
)
