"""Read a mesh's size without slicing it, and say what is wrong with it in words.

Only what the checks need is read (triangle count and bounding box); PrusaSlicer reads
the mesh again, properly, when it slices.
"""

from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import defusedxml.ElementTree as ET

from jobs.base import AnalysisError, Bounds, FileRejected

MAX_MESH_BYTES = 200 * 1024 * 1024
"""Larger meshes are refused before slicing: PrusaSlicer would need gigabytes for them,
and nothing printable in a café needs that many triangles."""
INCH_SUSPECT_MM = 5.0
"""A model whose largest side is under this was most likely drawn in inches (a 1.2 mm
tall "vase"): ×25.4 is offered, never applied silently."""
MM_PER_INCH = 25.4
SKIRT_ROOM_MM = 8.0


@dataclass(frozen=True)
class MeshInfo:
    triangles: int
    bounds: Bounds

    @property
    def size(self) -> tuple[float, float, float]:
        return self.bounds.size


def _bounds(xs: list[float], ys: list[float], zs: list[float]) -> Bounds:
    return Bounds(
        min_x=min(xs), min_y=min(ys), min_z=min(zs), max_x=max(xs), max_y=max(ys), max_z=max(zs)
    )


def _binary_stl(data: bytes) -> MeshInfo | None:
    if len(data) < 84:
        return None
    (count,) = struct.unpack_from("<I", data, 80)
    if 84 + 50 * count != len(data):
        return None
    if count == 0:
        return MeshInfo(0, Bounds(min_x=0, min_y=0, max_x=0, max_y=0))
    import numpy as np

    records = np.frombuffer(data, dtype=np.uint8, offset=84).reshape(count, 50)
    vertices = records[:, 12:48].copy().view("<f4").reshape(count * 3, 3)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    return MeshInfo(
        count,
        Bounds(
            min_x=float(lo[0]), min_y=float(lo[1]), min_z=float(lo[2]),
            max_x=float(hi[0]), max_y=float(hi[1]), max_z=float(hi[2]),
        ),
    )  # fmt: skip


_VERTEX = re.compile(rb"^\s*vertex\s+(\S+)\s+(\S+)\s+(\S+)", re.MULTILINE)
_OBJ_VERTEX = re.compile(rb"^v\s+(\S+)\s+(\S+)\s+(\S+)", re.MULTILINE)
_OBJ_FACE = re.compile(rb"^f\s", re.MULTILINE)


def _points(matches: list[tuple[bytes, bytes, bytes]]) -> MeshInfo | None:
    if not matches:
        return None
    try:
        xs, ys, zs = ([float(m[i]) for m in matches] for i in range(3))
    except ValueError as exc:
        raise AnalysisError(f"a vertex is not a number: {exc}") from exc
    return MeshInfo(0, _bounds(xs, ys, zs))


def _ascii_stl(data: bytes) -> MeshInfo:
    info = _points(_VERTEX.findall(data))
    if info is None:
        return MeshInfo(0, Bounds(min_x=0, min_y=0, max_x=0, max_y=0))
    return MeshInfo(data.count(b"endfacet"), info.bounds)


def _obj(data: bytes) -> MeshInfo:
    info = _points(_OBJ_VERTEX.findall(data))
    faces = len(_OBJ_FACE.findall(data))
    if info is None or faces == 0:
        return MeshInfo(0, Bounds(min_x=0, min_y=0, max_x=0, max_y=0))
    return MeshInfo(faces, info.bounds)


def _3mf(path: Path) -> MeshInfo:
    """Vertices of every object, build transforms ignored (PrusaSlicer applies them;
    the box is for the unit and emptiness checks, and the bed check uses the G-code)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".model")]
            if not names:
                raise AnalysisError("this 3MF holds no 3D model part")
            xs: list[float] = []
            ys: list[float] = []
            zs: list[float] = []
            triangles = 0
            for name in names:
                root = ET.fromstring(archive.read(name))
                for el in root.iter():
                    tag = el.tag.rsplit("}", 1)[-1]
                    if tag == "vertex":
                        xs.append(float(el.get("x", "0")))
                        ys.append(float(el.get("y", "0")))
                        zs.append(float(el.get("z", "0")))
                    elif tag == "triangle":
                        triangles += 1
    except (zipfile.BadZipFile, ET.ParseError, ValueError) as exc:
        raise AnalysisError(f"not a readable 3MF file: {exc}") from exc
    if not xs or not triangles:
        return MeshInfo(0, Bounds(min_x=0, min_y=0, max_x=0, max_y=0))
    return MeshInfo(triangles, _bounds(xs, ys, zs))


def read_mesh(path: Path, file_type: str) -> MeshInfo:
    """Triangle count and box of a model file, refusing oversized files unread."""
    size = path.stat().st_size
    if size > MAX_MESH_BYTES:
        raise FileRejected(
            f"this model is {size / 1e6:.0f} MB; meshes above {MAX_MESH_BYTES // 2**20} MB are "
            "refused before slicing (simplify it, e.g. with a decimate step, and send it again)"
        )
    if file_type == "3mf":
        return _3mf(path)
    data = path.read_bytes()
    if file_type == "obj":
        return _obj(data)
    binary = _binary_stl(data)
    if binary is not None:
        return binary
    if data.lstrip()[:5].lower() != b"solid":
        raise AnalysisError("not an STL file: neither binary (size mismatch) nor ASCII")
    return _ascii_stl(data)


def check_mesh(info: MeshInfo, bed: tuple[float, float, float], scale: float = 1.0) -> list[str]:
    """Why this mesh cannot be sliced as it is (empty, inch-sized, larger than the bed),
    each with what to do; an empty list when it can."""
    if info.triangles == 0:
        return ["the model is empty: it holds no triangles"]
    sx, sy, sz = (s * scale for s in info.size)
    if max(sx, sy, sz) < INCH_SUSPECT_MM:
        return [
            f"the model is only {sx:.1f} × {sy:.1f} × {sz:.1f} mm: it was probably drawn in "
            f"inches; send it again with scale={MM_PER_INCH} to print it "
            f"{sx * MM_PER_INCH:.0f} × {sy * MM_PER_INCH:.0f} × {sz * MM_PER_INCH:.0f} mm"
        ]
    # Either flat orientation fits; PrusaSlicer does not rotate, so X and Y are taken as given.
    ratios = (sx / bed[0], sy / bed[1], sz / bed[2])
    if max(ratios) > 1.0:
        # The offered scale leaves room for the skirt PrusaSlicer draws around the part
        # (6 mm away by default): a part scaled to the bed's exact width would not fit.
        room = (bed[0] - 2 * SKIRT_ROOM_MM, bed[1] - 2 * SKIRT_ROOM_MM, bed[2])
        fit = int(1000 * min(r / s for r, s in zip(room, (sx, sy, sz), strict=True))) / 1000
        fit *= scale
        return [
            f"the model is {sx:.0f} × {sy:.0f} × {sz:.0f} mm and the bed is "
            f"{bed[0]:.0f} × {bed[1]:.0f} × {bed[2]:.0f} mm; send it again with scale={fit:g} "
            "to print it scaled down to fit (it is never scaled without asking)"
        ]
    return []
