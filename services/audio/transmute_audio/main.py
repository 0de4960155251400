"""Entry point: ``transmute-audio`` (or ``python -m transmute_audio``)."""

import uvloop

from transmute_audio.capabilities import CAPABILITIES
from transmute_audio.config import AudioSettings
from transmute_common.runtime import serve_converter

# Built in this process: the engine only starts FFmpeg, confined (no Python worker).
ENGINE = "transmute_audio.engine:AudioConverter"


def main() -> None:
    uvloop.run(serve_converter("audio", ENGINE, CAPABILITIES, AudioSettings(), host="programs"))


if __name__ == "__main__":
    main()
