"""Audio and video containers told apart by their first bytes: ftyp brands, the EBML
DocType, RIFF and FORM types, ID3 and MPEG frame sync, the codec of an Ogg stream's
first packet. Used by the gateway to accept a file and by the audio engine to check,
before FFmpeg opens it, that the file still is what it was accepted as.

Every check is a bounded scan of at most the bytes given: nothing can backtrack."""

from __future__ import annotations

# ISO base media brands of still images (AVIF, HEIF): not audio, left to image sniffing.
_IMAGE_BRANDS = {b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx",
                 b"mif1", b"msf1"}  # fmt: skip
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
# MPEG audio layer (bits 2-1 of the second header byte): 01 = III, 10 = II.
_MPEG_LAYERS = {0b01, 0b10}


def _ftyp(head: bytes) -> str | None:
    major = head[8:12]
    size = int.from_bytes(head[0:4], "big")
    brands = {major} | {head[i : i + 4] for i in range(16, min(size, len(head), 256), 4)}
    if brands & _IMAGE_BRANDS and major not in (b"M4A ", b"M4V ", b"qt  ", b"isom", b"mp42"):
        return None
    if major in (b"M4A ", b"M4B ", b"M4P "):
        return "audio/mp4"
    if major in (b"M4V ", b"M4VH", b"M4VP"):
        return "video/x-m4v"
    if major == b"qt  ":
        return "video/quicktime"
    return "video/mp4"


def _ebml_doctype(head: bytes) -> str | None:
    """The DocType element (id 0x4282) of the EBML header, read within its first 64 bytes."""
    pos = head.find(b"\x42\x82", 4, 64)
    if pos < 0 or pos + 3 > len(head):
        return None
    length_byte = head[pos + 2]
    if not length_byte & 0x80:  # only the one-byte size form is used for DocType
        return None
    length = length_byte & 0x7F
    return head[pos + 3 : pos + 3 + length].decode("ascii", "replace")


def _ogg(head: bytes) -> str | None:
    if len(head) < 28:
        return None
    segments = head[26]
    packet = head[27 + segments : 27 + segments + 8]
    if packet.startswith(b"OpusHead"):
        return "audio/opus"
    if packet.startswith((b"\x01vorbis", b"\x7fFLAC")):
        return "audio/ogg"
    return None


def _id3_end(head: bytes) -> int:
    """Where the audio starts after an ID3v2 tag (its size is a 28-bit syncsafe int)."""
    size = 0
    for b in head[6:10]:
        size = (size << 7) | (b & 0x7F)
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


def _mpeg_audio(data: bytes) -> str | None:
    if len(data) < 2 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return None
    layer = (data[1] >> 1) & 0b11
    if layer in _MPEG_LAYERS:
        return "audio/mpeg"
    if layer == 0 and data[1] & 0xF6 == 0xF0:  # ADTS: 12-bit sync, layer 00
        return "audio/aac"
    return None


def sniff_media(head: bytes) -> str | None:
    """The media type of an audio or video file from its first bytes, or None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _ftyp(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        doctype = _ebml_doctype(head)
        return {"webm": "video/webm", "matroska": "video/x-matroska"}.get(doctype or "")
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(head[8:12])
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head.startswith(b"OggS"):
        return _ogg(head)
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return "audio/amr"
    if head.startswith(_ASF_GUID):
        return "audio/x-ms-wma"
    if head.startswith(b"ID3") and len(head) >= 10:
        after = head[_id3_end(head) :]
        if after.startswith(b"fLaC"):
            return "audio/flac"
        # A tag longer than the head hides the first frame: ID3v2 is MP3's own tag.
        return _mpeg_audio(after) if after else "audio/mpeg"
    return _mpeg_audio(head)
