"""Inputs people bring, made in the tests: meshes (binary/ASCII STL, OBJ, 3MF, OpenSCAD),
PDFs and pictures rendered from the SVG corpus; and the geometry comparisons."""

from __future__ import annotations

import itertools
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from jobs.vinyl.svg.read import read_svg
from tests.support.factories import CORPUS

LOGO = CORPUS / "svg" / "inkcut" / "path_ordering-rect.svg"
"""64 small squares on a 100 mm page, all inside their viewport (a stroked drawing)."""


def filled(svg: Path, out: Path) -> Path:
    """The same drawing with its shapes filled black: what a printed logo looks like."""
    out.write_text(svg.read_text().replace('fill="none"', 'fill="#000"'))
    return out


_BOX_FACES = [
    (0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4),
    (1, 2, 6), (1, 6, 5), (2, 3, 7), (2, 7, 6), (3, 0, 4), (3, 4, 7),
]  # fmt: skip


def box_triangles(x: float, y: float, z: float) -> list[tuple[tuple[float, float, float], ...]]:
    v = [(0, 0, 0), (x, 0, 0), (x, y, 0), (0, y, 0), (0, 0, z), (x, 0, z), (x, y, z), (0, y, z)]
    return [tuple(tuple(float(c) for c in v[i]) for i in f) for f in _BOX_FACES]  # type: ignore[misc]


def binary_stl(path: Path, triangles: list[tuple[tuple[float, float, float], ...]]) -> Path:
    with path.open("wb") as fh:
        fh.write(b"fabqueue test".ljust(80, b"\0") + struct.pack("<I", len(triangles)))
        for tri in triangles:
            fh.write(struct.pack("<3f", 0, 0, 0))
            for vertex in tri:
                fh.write(struct.pack("<3f", *vertex))
            fh.write(b"\0\0")
    return path


def ascii_stl(path: Path, triangles: list[tuple[tuple[float, float, float], ...]]) -> Path:
    lines = ["solid test"]
    for tri in triangles:
        lines += ["facet normal 0 0 0", "outer loop"]
        lines += [f"vertex {a:e} {b:e} {c:e}" for a, b, c in tri]
        lines += ["endloop", "endfacet"]
    path.write_text("\n".join([*lines, "endsolid test", ""]))
    return path


def box_obj(path: Path, x: float, y: float, z: float) -> Path:
    v = [(0, 0, 0), (x, 0, 0), (x, y, 0), (0, y, 0), (0, 0, z), (x, 0, z), (x, y, z), (0, y, z)]
    lines = [f"v {a} {b} {c}" for a, b, c in v]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in _BOX_FACES]
    path.write_text("\n".join(lines) + "\n")
    return path


def box_3mf(path: Path, x: float, y: float, z: float) -> Path:
    v = [(0, 0, 0), (x, 0, 0), (x, y, 0), (0, y, 0), (0, 0, z), (x, 0, z), (x, y, z), (0, y, z)]
    vertices = "".join(f'<vertex x="{a}" y="{b}" z="{c}"/>' for a, b, c in v)
    triangles = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in _BOX_FACES)
    model = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<model unit="millimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
        f'<resources><object id="1" type="model"><mesh><vertices>{vertices}</vertices>'
        f"<triangles>{triangles}</triangles></mesh></object></resources>"
        '<build><item objectid="1"/></build></model>'
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="model" '
        'ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Target="/3D/3dmodel.model"'
        ' Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>'
        "</Relationships>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", rels)
        archive.writestr("3D/3dmodel.model", model)
    return path


def openscad(path: Path, code: str) -> Path:
    """An STL made by Debian's OpenSCAD, as a model site would have made it."""
    source = path.with_suffix(".scad")
    source.write_text(code)
    subprocess.run(
        ["openscad", "-o", str(path), str(source)], check=True, capture_output=True, timeout=120
    )
    return path


def sphere_mesh(path: Path, radius: float, segments: int) -> Path:
    """A closed UV sphere as binary STL; ``segments`` sets its size (≈4·s² triangles)."""
    theta = np.linspace(0, np.pi, segments + 1)
    phi = np.linspace(0, 2 * np.pi, 2 * segments + 1)
    grid = np.stack(
        [
            np.outer(np.sin(theta), np.cos(phi)),
            np.outer(np.sin(theta), np.sin(phi)),
            np.outer(np.cos(theta), np.ones_like(phi)),
        ],
        axis=-1,
    ) * radius + np.array([radius, radius, radius])
    a, b = grid[:-1, :-1], grid[1:, :-1]
    c, d = grid[1:, 1:], grid[:-1, 1:]
    tris = np.concatenate([np.stack([a, b, c], axis=2), np.stack([a, c, d], axis=2)])
    tris = tris.reshape(-1, 3, 3).astype("<f4")
    records = np.zeros(len(tris), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    records["v"] = tris
    with path.open("wb") as fh:
        fh.write(b"sphere".ljust(80, b"\0") + struct.pack("<I", len(tris)))
        fh.write(records.tobytes())
    return path


def html_pdf(html: str, out: Path, base: Path) -> Path:
    from weasyprint import HTML

    HTML(string=html, base_url=str(base)).write_pdf(out)
    return out


def logo_pdf(out: Path, svg: Path = LOGO, width_mm: float = 100, pages: int = 1) -> Path:
    """The logo as a vector PDF at ``width_mm``, on ``pages`` pages, plus a line of text."""
    page = (
        f'<div style="page-break-after: always"><img src="{svg.as_uri()}" '
        f'style="display:block;width:{width_mm}mm"></div>'
    )
    style = f"<style>@page {{ size: {width_mm}mm {width_mm}mm; margin: 0 }}</style>"
    return html_pdf(f"<html>{style}<body>{page * pages}</body></html>", out, svg.parent)


def text_pdf(out: Path, text: str) -> Path:
    style = "<style>@page { size: 200mm 60mm; margin: 10mm } p { font: 30mm sans-serif }</style>"
    return html_pdf(f"<html>{style}<body><p>{text}</p></body></html>", out, out.parent)


def render_png(pdf: Path, out_stem: Path, width_px: int) -> Path:
    subprocess.run(
        [
            "pdftocairo",
            "-png",
            "-singlefile",
            "-scale-to-x",
            str(width_px),
            "-scale-to-y",
            "-1",
            str(pdf),
            str(out_stem),
        ],
        check=True,
        capture_output=True,
    )
    return out_stem.with_suffix(".png")


def outline_points(svg: Path, step_mm: float = 0.05) -> np.ndarray:
    """Every outline of the drawing, sampled every ``step_mm`` (mm, y down)."""
    drawing = read_svg(svg)
    samples = []
    for path in drawing.paths:
        pts = path.points
        for a, b in itertools.pairwise(pts):
            n = max(1, int(np.ceil(np.hypot(*(b - a)) / step_mm)))
            t = np.linspace(0, 1, n, endpoint=False)[:, None]
            samples.append(a + (b - a) * t)
    assert samples, f"no outline in {svg}"
    return np.concatenate(samples)


def normalised(points: np.ndarray, width_mm: float) -> np.ndarray:
    """Moved to the origin and scaled so the drawing's box is ``width_mm`` wide."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    return (points - lo) * (width_mm / (hi[0] - lo[0]))


def hausdorff(a: np.ndarray, b: np.ndarray) -> float:
    return float(max(cKDTree(b).query(a)[0].max(), cKDTree(a).query(b)[0].max()))


def width_mm(points: np.ndarray) -> float:
    return float(points[:, 0].max() - points[:, 0].min())


def with_slicing(profiles_dir: Path) -> Path:
    """A test profile folder with the repository's PrusaSlicer profiles beside it."""
    import shutil

    from tests.support.factories import REPO

    shutil.copytree(REPO / "profiles" / "slicing", profiles_dir / "slicing", dirs_exist_ok=True)
    return profiles_dir


class LiveServer:
    """The app served by uvicorn on a loopback port, in a thread: for clients that need a
    real socket (octorest, curl, raw byte-for-byte requests). The app is already started
    by its TestClient (which holds the node's lease): uvicorn only serves it."""

    def __init__(self, app: object) -> None:
        import threading

        import uvicorn

        from tests.support.service import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        from tests.support.waiting import wait_for

        self.thread.start()
        wait_for(lambda: self.server.started, timeout=30, what="uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def raw_request(port: int, head: bytes, body: bytes, expect_continue: bool) -> tuple[int, bytes]:
    """Send ``head`` and ``body`` exactly as given; with ``Expect: 100-continue`` wait for
    the interim answer first, as libcurl does. Returns (status, response body)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        if expect_continue:
            interim = sock.recv(1024)
            assert interim.startswith(b"HTTP/1.1 100"), interim
        sock.sendall(body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        header, _, rest = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(rest) < length:
            rest += sock.recv(65536)
    return int(header.split(b" ", 2)[1]), rest
