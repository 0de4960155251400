"""Entry point: ``transmute-audio`` (or ``python -m transmute_audio``)."""

import uvloop

from transmute_audio.capabilities import CAPABILITIES
from transmute_audio.config import AudioSettings
from transmute_common.runtime import serve_converter

ENGINE = "transmute_audio.engine:AudioConverter"  # built in each worker, never here


def main() -> None:
    uvloop.run(serve_converter("audio", ENGINE, CAPABILITIES, AudioSettings()))


if __name__ == "__main__":
    main()
