"""3D models (STL, 3MF, OBJ): mesh checks, then PrusaSlicer's command line into G-code.

The G-code, not the model, is what the queue prices and the printer runs: a model is
checked here, sliced once per (model, machine, material, preset), and from then on it is
an ordinary G-code job.
"""

from jobs.models3d.make import mesh_words, model_to_gcode
from jobs.models3d.mesh import MAX_MESH_BYTES, MeshInfo, check_mesh, read_mesh
from jobs.models3d.slice import (
    SliceRequest,
    SliceResult,
    slice_model,
    slicer_available,
    trim_cache,
)

MODEL_TYPES = frozenset({"stl", "3mf", "obj"})

__all__ = [
    "MAX_MESH_BYTES",
    "MODEL_TYPES",
    "MeshInfo",
    "SliceRequest",
    "SliceResult",
    "check_mesh",
    "mesh_words",
    "model_to_gcode",
    "read_mesh",
    "slice_model",
    "slicer_available",
    "trim_cache",
]
