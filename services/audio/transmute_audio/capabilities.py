"""What the audio service declares it can do. Built without FFmpeg, so the service can
say it even where the engine cannot run."""

from transmute_audio.options import OPTION_SPECS
from transmute_common.converter import Capabilities, Conversion

AUDIO_INPUTS = ["mp3", "aac", "m4a", "opus", "ogg", "flac", "wav", "aiff", "wma", "amr"]
# Containers read for their (first) audio track.
VIDEO_INPUTS = ["mp4", "m4v", "mov", "mkv", "webm", "avi"]
INPUTS = AUDIO_INPUTS + VIDEO_INPUTS
OUTPUTS = ["mp3", "m4a", "alac", "opus", "ogg", "flac", "wav", "aiff"]
PREVIEW_OUTPUTS = ["opus", "mp3"]

CAPABILITIES = Capabilities(
    service="audio",
    conversions=[
        Conversion(operation="convert", inputs=INPUTS, outputs=OUTPUTS),
        # A short clip for players: ``duration`` seconds from ``start``.
        Conversion(operation="preview", inputs=INPUTS, outputs=PREVIEW_OUTPUTS),
    ],
    options=OPTION_SPECS,
)
