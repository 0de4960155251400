"""Audio and video containers recognised by their bytes, told apart from images."""

from pathlib import Path

import pytest

from tests import images, media
from transmute_audio.capabilities import INPUTS
from transmute_common.formats import format_of
from transmute_common.media_sniff import sniff_media
from transmute_gateway.sniff import sniff


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    work = tmp_path_factory.mktemp("sniff")
    return {f: media.tone(work / f"s.{f}", f).read_bytes()[:8192] for f in INPUTS}


@pytest.mark.parametrize("fmt", INPUTS)
def test_every_audio_input_is_named_by_its_bytes(fmt: str, samples: dict[str, bytes]) -> None:
    found = format_of(sniff(samples[fmt]))
    assert found is not None and found.name == fmt


def test_mp3_with_a_cover_in_its_id3_tag(tmp_path: Path) -> None:
    data = media.with_cover(tmp_path / "c.mp3", tmp_path).read_bytes()
    assert sniff(data[:8192]) == "audio/mpeg"


def test_flac_behind_an_id3_tag() -> None:
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10)
    assert sniff_media(tag + b"fLaC\x00\x00\x00\x22") == "audio/flac"


def test_images_in_iso_media_stay_images() -> None:
    avif: bytes = images.gradient(32, 32).heifsave_buffer(compression="av1")
    assert sniff(avif[:8192]) == "image/avif"
    assert sniff_media(avif) is None


@pytest.mark.parametrize(
    "text",
    [
        b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n",
        b"ffconcat version 1.0\nfile a.mp3\n",
        b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\n",
        b"hello, I am a text file named song.mp3\n",
        b"RIFF\x10\x00\x00\x00TEXT",
    ],
)
def test_playlists_and_other_text_are_not_media(text: bytes) -> None:
    assert sniff_media(text) is None
    assert format_of(sniff(text)) is None or format_of(sniff(text)).name not in INPUTS  # type: ignore[union-attr]
