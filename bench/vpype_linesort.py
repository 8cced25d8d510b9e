"""Run vpype's ``linesort --two-opt`` on polylines given by bench/vinyl.py.

Runs in a separate virtualenv that has vpype (it is not a fabqueue dependency):

    python3 -m venv /tmp/vpype-venv && /tmp/vpype-venv/bin/pip install vpype
    VPYPE_PYTHON=/tmp/vpype-venv/bin/python .venv/bin/python bench/vinyl.py --corpus

Input: ``.npz`` files of arrays ``p0, p1, …`` (N×2, mm), one per drawing. Output, for
each: the same file name with ``.sorted.npz``, the polylines in vpype's order and
direction.
"""

from __future__ import annotations

import sys

import numpy as np
import vpype as vp
import vpype_cli


def sort_one(path: str) -> None:
    data = np.load(path)
    lines = vp.LineCollection()
    for k in range(len(data.files)):
        pts = data[f"p{k}"]
        lines.append(pts[:, 0] + 1j * pts[:, 1])
    doc = vp.Document(lines)
    out = vpype_cli.execute("linesort --two-opt", document=doc)
    sorted_lines = out.layers[1]
    arrays = {f"p{k}": np.stack([ln.real, ln.imag], axis=1) for k, ln in enumerate(sorted_lines)}
    np.savez(path.replace(".npz", ".sorted.npz"), **arrays)  # type: ignore[arg-type]


if __name__ == "__main__":
    for name in sys.argv[1:]:
        sort_one(name)
