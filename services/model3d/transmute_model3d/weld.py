"""Joining the corners an STL stores apart into shared vertices.

An STL lists every triangle's three corners on their own; corners that meet are written
with the same numbers. They are found by hashing each corner's exact bits (one linear
pass and one sort, where trimesh's general merge rounds and sorts three times), and every
group is checked afterwards to hold one point only; should a hash ever join two different
points, trimesh's merge does the work instead."""

from __future__ import annotations

import numpy as np
import trimesh

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mixed(bits: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every input bit moves every output bit (a coordinate
    read from float32 has its low 29 bits zero, which a plain product keeps)."""
    bits = bits ^ (bits >> np.uint64(30))
    bits *= np.uint64(0xBF58476D1CE4E5B9)
    bits ^= bits >> np.uint64(27)
    bits *= np.uint64(0x94D049BB133111EB)
    return bits ^ (bits >> np.uint64(31))


def weld(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The mesh with equal corners shared, vertices in order of first use."""
    corners = np.ascontiguousarray(mesh.vertices, dtype=np.float64) + 0.0  # -0.0 -> 0.0
    bits = corners.view(np.uint64)
    keys = _mixed(bits[:, 0])
    for column in (1, 2):
        keys = _mixed(keys * _GOLDEN ^ bits[:, column])
    _, first, group = np.unique(keys, return_index=True, return_inverse=True)
    if not (corners == corners[first[group]]).all():  # a hash collision: merge the slow way
        mesh.merge_vertices()
        return mesh
    order = np.argsort(first)  # groups by first use, as the file has them
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    faces = rank[group][mesh.faces]
    return trimesh.Trimesh(corners[first[order]], faces, process=False, metadata=mesh.metadata)
