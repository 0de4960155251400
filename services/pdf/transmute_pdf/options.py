"""Options the PDF converter accepts, with their limits and the operations that read
them (the gateway refuses an option the operation does not read)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from transmute_common.converter import OptionSpec
from transmute_common.options import option, parse_options

MAX_PASSWORD = 127  # AES-256 (revision 6) passwords are at most 127 bytes of UTF-8
MAX_TEXT = 1000


class PdfOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pages: str | None = Field(default=None, max_length=MAX_TEXT)
    order: str | None = Field(default=None, max_length=MAX_TEXT)
    angle: int = 90
    level: Literal["lossless", "balanced", "strong"] = "balanced"
    image_quality: int = Field(default=75, ge=10, le=95)
    dpi: int = Field(default=150, ge=36, le=600)
    password: str | None = Field(default=None, max_length=MAX_PASSWORD)
    owner_password: str | None = Field(default=None, max_length=MAX_PASSWORD)
    metadata: Literal["keep", "strip"] = "keep"
    title: str | None = Field(default=None, max_length=MAX_TEXT)
    author: str | None = Field(default=None, max_length=MAX_TEXT)
    subject: str | None = Field(default=None, max_length=MAX_TEXT)
    keywords: str | None = Field(default=None, max_length=MAX_TEXT)
    bundle: bool = False
    language: str = Field(default="eng", pattern=r"^[a-z_]{3,16}(\+[a-z_]{3,16}){0,7}$")
    deskew: bool = True
    rotate_pages: bool = True
    sentences: int = Field(default=5, ge=1, le=50)
    to_language: str = Field(
        default="English", min_length=2, max_length=40, pattern=r"^[^\W\d_][\w ()-]*$"
    )

    @field_validator("angle")
    @classmethod
    def _right_angle(cls, value: int) -> int:
        if value % 90:
            raise ValueError("angle must be a multiple of 90")
        return value % 360

    @classmethod
    def parse(cls, options: dict[str, Any]) -> PdfOptions:
        return parse_options(cls, options)


def _spec(
    name: str,
    type_: Literal["integer", "number", "boolean", "string"],
    description: str,
    operations: list[str],
    **kw: Any,
) -> OptionSpec:
    return option(name, type_, description, operations=operations, **kw)


PAGE_RANGES = "Page ranges, e.g. `1-3,5,8-z` (`z` is the last page, `r2` the one before it)"
OPTION_SPECS = [
    _spec(
        "pages",
        "string",
        f"{PAGE_RANGES}. split: each range becomes one file (default: one per page); "
        "rotate, to_images, to_text: the pages to use (default: all); delete: the "
        "pages to remove",
        ["split", "rotate", "delete", "to_images", "to_text", "summarize", "translate"],
    ),
    _spec(
        "order",
        "string",
        "reorder: the new page order as page ranges, e.g. `3,1-2`, or `z-1` for "
        "reversed; pages not named are dropped",
        ["reorder"],
    ),
    _spec(
        "angle",
        "integer",
        "Clockwise rotation in degrees, a multiple of 90",
        ["rotate"],
        default="90",
        minimum=-270,
        maximum=270,
    ),
    _spec(
        "level",
        "string",
        "lossless: object streams, duplicates and unused objects removed; balanced: "
        "also images downsampled to `dpi` and recompressed as JPEG at `image_quality`; "
        "strong: the whole document rewritten by Ghostscript (pdfwrite) at `dpi`",
        ["compress"],
        default="balanced",
        choices=["lossless", "balanced", "strong"],
    ),
    _spec(
        "image_quality",
        "integer",
        "JPEG quality of recompressed images",
        ["compress"],
        default="75",
        minimum=10,
        maximum=95,
    ),
    _spec(
        "dpi",
        "integer",
        "compress: the resolution images are brought down to; to_images: the "
        "resolution pages are rendered at",
        ["compress", "to_images"],
        default="150",
        minimum=36,
        maximum=600,
    ),
    _spec(
        "password",
        "string",
        "protect: the password that opens the result (AES-256); any other operation: "
        "the password of an encrypted input. Never shown back by the API",
        [
            "compress",
            "merge",
            "split",
            "rotate",
            "reorder",
            "delete",
            "linearize",
            "protect",
            "unlock",
            "sanitize",
            "metadata",
            "to_images",
            "to_text",
            "ocr",
            "to_docx",
            "summarize",
            "translate",
        ],
    ),
    _spec(
        "owner_password",
        "string",
        "protect: the password that grants every permission (default: `password`)",
        ["protect"],
    ),
    _spec(
        "metadata",
        "string",
        "strip: remove the document information and XMP metadata",
        ["compress", "metadata", "sanitize"],
        default="keep",
        choices=["keep", "strip"],
    ),
    *(
        _spec(name, "string", f"metadata: set the document's {name}", ["metadata"])
        for name in ("title", "author", "subject", "keywords")
    ),
    _spec(
        "language",
        "string",
        "ocr: Tesseract languages joined by `+`, e.g. `eng+deu` (those installed: "
        "TRANSMUTE_OCR_LANGUAGES)",
        ["ocr"],
        default="eng",
    ),
    _spec("deskew", "boolean", "ocr: straighten skewed pages", ["ocr"], default="true"),
    _spec(
        "rotate_pages",
        "boolean",
        "ocr: turn pages the right way up when their text is sideways or upside down",
        ["ocr"],
        default="true",
    ),
    _spec(
        "sentences",
        "integer",
        "summarize: the longest summary, in sentences",
        ["summarize"],
        default="5",
        minimum=1,
        maximum=50,
    ),
    _spec(
        "to_language",
        "string",
        "translate: the language to translate into, e.g. `German` or `pt-BR`",
        ["translate"],
        default="English",
    ),
    _spec(
        "bundle",
        "boolean",
        "split, to_images (png, jpeg): one zip holding every file instead of one output per file",
        ["split", "to_images"],
        default="false",
    ),
]
