"""PDF service settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from pydantic import Field

from transmute_common.converter_settings import ConverterSettings


class PdfSettings(ConverterSettings):
    grpc_port: int = 50063
    convert_timeout_seconds: float = Field(default=600.0, gt=0)
    # Documents with more pages are refused (page_limit) before any work on them.
    max_pages: int = Field(default=5000, ge=1)
    # Pixels of one rendered page (to_images): 600 DPI A3 is about 70 megapixels.
    max_page_pixels: int = Field(default=100_000_000, ge=1)
    # Ghostscript, for `compress` at level strong; empty: `gs` found on PATH.
    ghostscript_path: str = ""
