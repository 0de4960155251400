"""PDF service settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from typing import Any

from pydantic import Field, SecretStr

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
    # LibreOffice, for office_to_pdf; empty: `soffice` found on PATH. It is driven by the
    # Python that holds LibreOffice's `uno` module (Debian: python3-uno).
    soffice_path: str = ""
    office_python: str = "/usr/bin/python3"
    # Each worker's LibreOffice is replaced after this many documents.
    office_recycle_documents: int = Field(default=200, ge=1)
    # An office archive (DOCX, XLSX, ODT...) that unpacks to more is refused.
    max_archive_entries: int = Field(default=10_000, ge=1)
    max_archive_bytes: int = Field(default=1024**3, ge=1)
    # Tesseract languages ocr may use (Debian: tesseract-ocr-<lang>); others are refused.
    ocr_languages: list[str] = ["eng"]
    # summarize and translate: an OpenAI-compatible chat-completions endpoint (the
    # base URL, e.g. https://api.example.com/v1). Empty: summarize is extractive and
    # translate is not offered. The key comes from a Secret in the chart.
    ai_url: str = ""
    ai_model: str = "gpt-4o-mini"
    ai_key: SecretStr = SecretStr("")
    ai_timeout_seconds: float = Field(default=60.0, gt=0)
    ai_retries: int = Field(default=3, ge=0, le=10)
    ai_backoff_seconds: float = Field(default=1.0, ge=0)
    # Per request: the document is cut into pieces that fit.
    ai_max_input_tokens: int = Field(default=6000, ge=100)
    ai_max_output_tokens: int = Field(default=800, ge=16)

    def engine_settings(self) -> dict[str, Any]:
        settings = super().engine_settings()
        settings["ai_key"] = self.ai_key.get_secret_value()  # the engine calls the model
        return settings
