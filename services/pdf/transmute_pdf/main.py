"""Entry point: ``transmute-pdf`` (or ``python -m transmute_pdf``)."""

import uvloop

from transmute_common.runtime import serve_converter
from transmute_pdf.capabilities import CAPABILITIES, HANDOFFS, INTAKES
from transmute_pdf.config import PdfSettings

ENGINE = "transmute_pdf.engine:PdfConverter"  # built in each worker, never here


def main() -> None:
    uvloop.run(
        serve_converter("pdf", ENGINE, CAPABILITIES, PdfSettings(), HANDOFFS, intakes=INTAKES)
    )


if __name__ == "__main__":
    main()
