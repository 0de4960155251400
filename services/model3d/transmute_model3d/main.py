"""Entry point: ``transmute-model3d`` (or ``python -m transmute_model3d``)."""

import uvloop

from transmute_common.runtime import serve_converter
from transmute_model3d.capabilities import CAPABILITIES, INTAKES
from transmute_model3d.config import Model3dSettings

ENGINE = "transmute_model3d.engine:Model3dConverter"  # built in each worker, never here


def main() -> None:
    uvloop.run(serve_converter("model3d", ENGINE, CAPABILITIES, Model3dSettings(), intakes=INTAKES))


if __name__ == "__main__":
    main()
