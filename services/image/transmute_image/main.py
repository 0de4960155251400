"""Entry point: ``transmute-image`` (or ``python -m transmute_image``)."""

import uvloop

from transmute_common.runtime import serve_converter
from transmute_image.capabilities import CAPABILITIES
from transmute_image.config import ImageSettings

ENGINE = "transmute_image.engine:ImageConverter"  # built in each worker, never here


def main() -> None:
    uvloop.run(serve_converter("image", ENGINE, CAPABILITIES, ImageSettings()))


if __name__ == "__main__":
    main()
