"""Zip archives from clients (office documents, 3D model packages): refused before
unpacking when they would unpack to too much, and read no further than they claim."""

from __future__ import annotations

import zipfile
from pathlib import Path

from transmute_common.errors import InvalidInput

_CHUNK = 1024 * 1024


def check_archive(
    path: Path, max_entries: int, max_bytes: int, kind: str, damaged_code: str
) -> list[zipfile.ZipInfo]:
    """The archive's entries, once their count and unpacked size are within limits."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInput(f"the {kind} is a damaged archive", code=damaged_code) from exc
    unpacked = sum(e.file_size for e in entries)
    if len(entries) > max_entries or unpacked > max_bytes:
        raise InvalidInput(
            f"the {kind} unpacks to {len(entries)} entries and {unpacked} bytes, over "
            f"the limits of {max_entries} and {max_bytes}",
            code="archive_too_large",
        )
    return entries


def read_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bytes:
    """An entry's bytes, never more than its declared size (a forged size is a bomb)."""
    data = bytearray()
    with archive.open(entry) as f:
        while chunk := f.read(_CHUNK):
            data += chunk
            if len(data) > entry.file_size:
                raise InvalidInput(
                    f"{entry.filename} unpacks to more than it declares",
                    code="archive_too_large",
                )
    return bytes(data)
