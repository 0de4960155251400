"""3D model files told apart by their first bytes. Used by the gateway to accept a file
and by the 3D engine to check, before parsing, that the file still is what it was
accepted as.

- GLB: the ``glTF`` magic and container version 2.
- glTF (JSON): a JSON object that names ``"asset"`` and one of ``"scenes"``,
  ``"nodes"``, ``"meshes"``, ``"accessors"`` within its first 8 KiB.
- 3MF: a zip whose first entries name the ``3D/3dmodel.model`` part (a 3MF that puts
  it later is read as a zip package, which the 3D service opens the same way).
- PLY: a ``ply`` line, then a ``format`` line.
- OFF: an ``OFF`` keyword on the first line.
- ASCII STL: ``solid`` and, within the head, a ``facet normal``.
- OBJ: text whose every complete line is empty, a comment or an OBJ statement, with
  at least one vertex (``v``) line.
- Binary STL has no magic. The rule: an 80-byte header that does not start an ASCII
  STL, a triangle count of at least 1, and every 50-byte triangle record within the
  head made of finite coordinates under 1e9 in size and a normal that is zero or of
  unit length (random bytes and text fail this at the first record or within a few).
  The engine then requires the file to be exactly 84 + 50 x count bytes.

Every check is a bounded scan of at most the bytes given: nothing can backtrack."""

from __future__ import annotations

import math
import struct

STL = "model/stl"
OBJ = "model/obj"
PLY = "model/x-ply"
OFF = "model/x-off"
GLB = "model/gltf-binary"
THREEMF = "model/3mf"
GLTF = "model/gltf+json"
_GLTF_KEYS = (b'"scenes"', b'"nodes"', b'"meshes"', b'"accessors"')

_OBJ_STATEMENTS = {
    b"v", b"vt", b"vn", b"vp", b"f", b"l", b"p", b"o", b"g", b"s", b"usemtl", b"mtllib",
}  # fmt: skip
_STL_RECORD = struct.Struct("<12fH")
_MAX_COORDINATE = 1e9


def _obj(head: bytes) -> bool:
    lines = head.split(b"\n")
    if len(lines) > 1:
        lines = lines[:-1]  # the last may be cut by the head's end
    vertices = 0
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        keyword = line.split(None, 1)[0]
        if keyword not in _OBJ_STATEMENTS:
            return False
        vertices += keyword == b"v"
    return vertices > 0


def binary_stl_count(head: bytes) -> int | None:
    """The triangle count of a binary STL by the rule above, None if it is not one."""
    if len(head) < 84 + _STL_RECORD.size or _ascii_stl(head):
        return None
    count = int.from_bytes(head[80:84], "little")
    if count < 1:
        return None
    records = min(count, (len(head) - 84) // _STL_RECORD.size)
    for i in range(records):
        values = _STL_RECORD.unpack_from(head, 84 + i * _STL_RECORD.size)[:12]
        if not all(math.isfinite(v) and abs(v) < _MAX_COORDINATE for v in values):
            return None
        length = values[0] ** 2 + values[1] ** 2 + values[2] ** 2
        if length != 0 and not 0.81 <= length <= 1.21:
            return None
    return count


def _ascii_stl(head: bytes) -> bool:
    return head.lstrip().startswith(b"solid") and b"facet normal" in head


def sniff_model_magic(head: bytes) -> str | None:
    """Models with a signature: checked before other types (a 3MF is also a zip)."""
    if head[:4] == b"glTF" and head[4:8] == (2).to_bytes(4, "little"):
        return GLB
    if head[:4] == b"PK\x03\x04" and b"3D/3dmodel.model" in head:
        return THREEMF
    if head.startswith((b"ply\n", b"ply\r\n")) and b"\nformat " in head[:64]:
        return PLY
    first = head.lstrip()[:4]
    if first in (b"OFF\n", b"OFF\r", b"OFF ", b"OFF\t"):
        return OFF
    if _ascii_stl(head):
        return STL
    if _gltf(head):
        return GLTF
    return None


def _gltf(head: bytes) -> bool:
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return start[:1] == b"{" and b'"asset"' in head and any(k in head for k in _GLTF_KEYS)


def sniff_model(head: bytes) -> str | None:
    """The media type of a 3D model from its first bytes, None if it is not one."""
    magic = sniff_model_magic(head)
    if magic is not None:
        return magic
    if b"\0" not in head and _obj(head):
        return OBJ
    if binary_stl_count(head) is not None:
        return STL
    return None
