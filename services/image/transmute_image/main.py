"""Entry point: ``transmute-image`` (or ``python -m transmute_image``)."""

import uvloop

from transmute_common.runtime import serve_converter
from transmute_image.config import ImageSettings


def main() -> None:
    uvloop.run(serve_converter("image", "transmute_image.engine:ImageConverter", ImageSettings()))


if __name__ == "__main__":
    main()
