"""Welding an STL's separate corners: the same mesh as trimesh's own merge, faster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from tests.models import sphere, torus, write
from transmute_model3d import weld as weld_module
from transmute_model3d.weld import weld


def _corners(mesh: trimesh.Trimesh, tmp_path: Path) -> trimesh.Trimesh:
    """The mesh as an STL reads back: every triangle with its own three corners."""
    loaded = trimesh.load(write(mesh, tmp_path / "m.stl"), process=False)
    assert isinstance(loaded, trimesh.Trimesh)
    assert len(loaded.vertices) == 3 * len(loaded.faces)
    return loaded


@pytest.mark.parametrize("make", [sphere, lambda: torus(20_000)])
def test_welding_matches_trimesh_merge(make, tmp_path: Path) -> None:
    ours = weld(_corners(make(), tmp_path))
    theirs = trimesh.load(tmp_path / "m.stl")  # trimesh's load merges by rounding
    assert np.array_equal(ours.vertices, theirs.vertices)
    assert np.array_equal(ours.faces, theirs.faces)
    assert ours.is_watertight


def test_negative_zero_is_the_same_corner() -> None:
    corners = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [-0.0, 0, 0], [0, 1, 0], [0, 0, 1]])
    mesh = trimesh.Trimesh(corners, np.arange(6).reshape(2, 3), process=False)
    welded = weld(mesh)
    assert len(welded.vertices) == 4
    assert welded.faces.tolist() == [[0, 1, 2], [0, 2, 3]]


def test_a_hash_collision_falls_back_to_the_exact_merge(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No real collision can be found on demand: every corner is made to hash alike.
    monkeypatch.setattr(weld_module, "_mixed", lambda bits: np.zeros_like(bits))
    welded = weld(_corners(sphere(), tmp_path))
    assert len(welded.vertices) == len(sphere().vertices)
    assert welded.is_watertight
