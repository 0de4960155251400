"""What the PDF service declares it can do. Built without any engine, so the service
can say it even where an engine cannot load."""

from transmute_common.converter import Capabilities, Conversion
from transmute_common.handoff import Handoff, Intake
from transmute_pdf.options import OPTION_SPECS

MAX_MERGE = 100
MAX_IMAGES = 500
# PDF in, PDF out.
PDF_OPERATIONS = [
    "compress",
    "split",
    "rotate",
    "reorder",
    "delete",
    "linearize",
    "protect",
    "unlock",
    "sanitize",
    "metadata",
]
IMAGE_TARGETS = ["png", "jpeg"]
# Rendered as PNG here, encoded by the image service through its Convert API.
HANDED_OFF_TARGETS = ["webp", "avif"]
HANDOFFS = [Handoff("to_images", frozenset(HANDED_OFF_TARGETS), via="png", service="image")]
# Opened by LibreOffice (office_to_pdf).
OFFICE_INPUTS = ["docx", "doc", "odt", "rtf", "xlsx", "ods", "pptx", "odp", "html"]
# Lossless into a PDF as they are (img2pdf embeds the JPEG or PNG data).
IMAGE_INPUTS = ["jpeg", "png"]
# Made PNG by the image service first.
TAKEN_IN = ["webp", "avif", "gif", "tiff", "bmp", "heic"]
INTAKES = [Intake("from_images", frozenset(TAKEN_IN), via="png", service="image")]

CAPABILITIES = Capabilities(
    service="pdf",
    conversions=[
        *(Conversion(operation=op, inputs=["pdf"], outputs=["pdf"]) for op in PDF_OPERATIONS),
        Conversion(operation="merge", inputs=["pdf"], outputs=["pdf"], max_inputs=MAX_MERGE),
        Conversion(
            operation="to_images", inputs=["pdf"], outputs=IMAGE_TARGETS + HANDED_OFF_TARGETS
        ),
        Conversion(operation="to_text", inputs=["pdf"], outputs=["txt"]),
        Conversion(operation="ocr", inputs=["pdf"], outputs=["pdf"]),
        Conversion(operation="to_docx", inputs=["pdf"], outputs=["docx"]),
        Conversion(operation="summarize", inputs=["pdf"], outputs=["txt"]),
        Conversion(operation="translate", inputs=["pdf"], outputs=["txt"]),
        Conversion(operation="office_to_pdf", inputs=OFFICE_INPUTS, outputs=["pdf"]),
        # The same, as a plain conversion: a DOCX asked for as PDF needs no operation.
        Conversion(operation="convert", inputs=OFFICE_INPUTS, outputs=["pdf"]),
        Conversion(
            operation="from_images",
            inputs=IMAGE_INPUTS + TAKEN_IN,
            outputs=["pdf"],
            max_inputs=MAX_IMAGES,
        ),
    ],
    options=OPTION_SPECS,
)
