"""repair: trimesh's fixes (merged vertices, no degenerate or duplicate faces,
consistent winding and outward normals, holes filled), and on request one watertight
solid made by manifold3d: every closed body united, overlaps and self-intersections
resolved, as a printer needs it."""

from __future__ import annotations

from typing import Any

import manifold3d
import numpy as np
import trimesh

from transmute_common.errors import InvalidInput


def repair(
    mesh: trimesh.Trimesh, fill_holes: bool, solid: bool
) -> tuple[trimesh.Trimesh, dict[str, Any]]:
    faces, vertices = len(mesh.faces), len(mesh.vertices)
    mesh.merge_vertices()
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    trimesh.repair.fix_winding(mesh)
    trimesh.repair.fix_normals(mesh)
    if fill_holes:
        trimesh.repair.fill_holes(mesh)
    details: dict[str, Any] = {"bodies_before": int(mesh.body_count)}
    if solid:
        mesh = one_solid(mesh)
    watertight = bool(mesh.is_watertight)
    return mesh, {
        **details,
        "faces_before": faces,
        "faces_after": len(mesh.faces),
        "vertices_before": vertices,
        "vertices_after": len(mesh.vertices),
        "watertight": watertight,
        "volume": round(float(mesh.volume), 6) if watertight else None,
    }


def one_solid(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The union of the mesh's bodies; each must be closed once repaired."""
    solids = []
    # repair=False: holes are filled (or not) by the fill_holes option alone.
    for n, body in enumerate(mesh.split(only_watertight=False, repair=False)):
        made = manifold3d.Manifold(
            manifold3d.Mesh(
                vert_properties=np.asarray(body.vertices, dtype=np.float32),
                tri_verts=np.asarray(body.faces, dtype=np.uint32),
            )
        )
        if made.status() != manifold3d.Error.NoError:
            raise InvalidInput(
                f"body {n + 1} is not a closed surface even after repair "
                f"({made.status().name}): it cannot be made a solid",
                code="not_solid",
            )
        solids.append(made)
    union = manifold3d.Manifold.batch_boolean(solids, manifold3d.OpType.Add).to_mesh()
    return trimesh.Trimesh(
        np.asarray(union.vert_properties)[:, :3].astype(np.float64),
        np.asarray(union.tri_verts),
        process=False,
    )
