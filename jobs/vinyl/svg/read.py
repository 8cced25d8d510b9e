"""SVG file -> cut paths in millimetres (SVG's frame: x right, y down).

This module owns what svgpathtools leaves out (research §5.2): physical units and the
90-dpi legacy Inkscape files, viewBox with preserveAspectRatio, nested transforms,
``<use>``/``<symbol>``, nested ``<svg>``, hidden content (attributes, styles, class
rules), document order, and text refused with a message. XML goes through defusedxml:
entity declarations are refused, external references are never fetched.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as StdET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET
import numpy as np
from numpy.typing import NDArray

from jobs.base import AnalysisError, FileRejected
from jobs.vinyl.flatten import TooComplex, flatten
from jobs.vinyl.geometry import CutPath, Drawing, clean, visible_contours
from jobs.vinyl.svg.path import Budget, OverBudget
from jobs.vinyl.svg.shapes import MAX_SEGMENTS, shape_subpaths
from jobs.vinyl.svg.style import Computed, NodeInfo, StyleSheet, compute
from jobs.vinyl.svg.units import (
    MM_PER_IN,
    Affine,
    LengthError,
    Viewport,
    apply,
    determinant,
    identity,
    legacy_ppi,
    parse_transform,
    parse_view_box,
    scale,
    to_mm,
    to_user,
    translate,
    view_box_transform,
)

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
INKSCAPE_VERSION = "{http://www.inkscape.org/namespaces/inkscape}version"

MAX_FILE_BYTES = 25 * 1024 * 1024
"""Cut files are outlines: anything bigger holds bitmaps or is not meant for a cutter."""
MAX_SHAPES = 50_000
"""Elements once every <use> is expanded (a few nested <use> can multiply into billions;
a cutting file holds a few thousand)."""
MAX_CONTOURS = 20_000
"""Closed or open contours: every subpath of a path counts. The stencil lettering page
holds 3,470; planning costs about 1.5 ms a contour (45,000 took 77 s to analyse)."""
MAX_POINTS = 2_000_000
MAX_EXTENT_MM = 100_000.0
"""100 m: beyond this the document's units are wrong, and flattening would never end."""
MAX_DEPTH = 200

_SKIP = frozenset(
    {
        "defs", "symbol", "clipPath", "mask", "pattern", "marker", "linearGradient",
        "radialGradient", "filter", "style", "script", "title", "desc", "metadata",
        "font", "font-face", "glyph", "missing-glyph", "cursor", "view", "animate",
        "set", "animateMotion", "animateTransform", "animateColor", "solidColor",
    }
)  # fmt: skip
_TEXT = frozenset({"text", "flowRoot", "textPath", "tspan", "textArea"})
_SHAPES = frozenset({"path", "rect", "circle", "ellipse", "line", "polyline", "polygon"})


@dataclass
class _Shape:
    ctrls: list[NDArray[np.float64]]
    closed: list[bool]
    style: Computed
    source: str


@dataclass
class _Pending:
    """A shape to cut, found by the walk; its geometry is read once the walk is over,
    so that text or a hidden bomb is refused before any path data is parsed."""

    el: StdET.Element
    tag: str
    ctm: Affine
    style: Computed
    vp: Viewport
    source: str


@dataclass
class _Context:
    ids: dict[str, StdET.Element]
    sheet: StyleSheet
    ppi: float
    pending: list[_Pending] = field(default_factory=list)
    shapes: list[_Shape] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    budget: Budget = field(default_factory=lambda: Budget(MAX_CONTOURS, MAX_SEGMENTS))

    def warn_once(self, key: str, message: str) -> None:
        n = self.counts.get(key, 0)
        self.counts[key] = n + 1
        if n == 0:
            self.warnings.append(message)


def _local(tag: Any) -> str | None:
    """The SVG element name, or None for other namespaces (Inkscape's, RDF…)."""
    if not isinstance(tag, str):
        return None  # comments, processing instructions
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return name if ns == SVG_NS else None
    return tag


def _parse(path: Path) -> StdET.Element:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FileRejected(
            f"the SVG is {size / 1e6:.1f} MB; cutting files are limited to "
            f"{MAX_FILE_BYTES / 1e6:.0f} MB (remove embedded images, or simplify the paths)"
        )
    with path.open("rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        raise AnalysisError("this is a compressed SVG (.svgz): save it as plain SVG")
    try:
        root = SafeET.parse(str(path)).getroot()
    except defusedxml.EntitiesForbidden:
        raise AnalysisError(
            "the SVG declares XML entities (<!ENTITY …>), which fabqueue refuses: they can "
            "blow up into gigabytes (the 'billion laughs' attack). Save the file again "
            "as plain SVG from your drawing program."
        ) from None
    except (defusedxml.ExternalReferenceForbidden, defusedxml.DTDForbidden):
        raise AnalysisError(
            "the SVG refers to external XML resources, which fabqueue never fetches"
        ) from None
    except StdET.ParseError as exc:
        raise AnalysisError(f"this is not well-formed XML ({exc})") from None
    except (ValueError, defusedxml.NotSupportedError) as exc:
        raise AnalysisError(f"this SVG cannot be read: {exc}") from None
    if not isinstance(root, StdET.Element) or _local(root.tag) != "svg":
        raise AnalysisError(f"this is not an SVG drawing: its root element is <{root.tag}>")
    return root


def read_svg(path: Path, tolerance_mm: float = 0.02) -> Drawing:
    """All that would be cut, in document order, flattened to ``tolerance_mm``."""
    root = _parse(path)
    ppi = legacy_ppi(root.get(INKSCAPE_VERSION))
    ids: dict[str, StdET.Element] = {}
    sheet = StyleSheet()
    for el in root.iter():
        el_id = el.get("id")
        if el_id is not None and el_id not in ids:
            ids[el_id] = el
        if _local(el.tag) == "style" and el.text:
            sheet.add(el.text)
    expanded = _expanded_size(root, ids)
    if expanded > MAX_SHAPES:
        raise FileRejected(
            f"the drawing holds more than {MAX_SHAPES:,} shapes once its <use> copies are "
            "expanded; that is not a cutting file"
        )
    ctx = _Context(ids=ids, sheet=sheet, ppi=ppi)
    ctx.warnings.extend(sheet.warnings)
    to_mm_m, vp, size = _root_transform(root, ppi)
    try:
        _walk_children(ctx, root, to_mm_m, Computed(), vp, [_info(root)], (), 0)
    except RecursionError:
        raise AnalysisError("the SVG is nested too deeply to be read") from None
    try:
        for item in ctx.pending:
            _shape_geometry(ctx, item)
    except OverBudget as exc:
        raise FileRejected(str(exc)) from None
    drawing = _flatten(ctx, tolerance_mm)
    if not drawing.paths and ctx.counts.get("image"):
        raise FileRejected(
            "this file is a picture: a cutter needs outlines. Trace it (Inkscape: Path ▸ "
            "Trace Bitmap) or ask for a vector file"
        )
    drawing.details["document_mm"] = size
    drawing.details["px_per_inch"] = ppi
    return drawing


def _expanded_size(root: StdET.Element, ids: dict[str, StdET.Element]) -> int:
    """How many elements the drawing holds with every <use> replaced by its target,
    counted without expanding anything (memoised per element; loops count once)."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(el: StdET.Element) -> int:
        key = id(el)
        if key in memo:
            return memo[key]
        if key in active:
            return 1
        active.add(key)
        total = 1
        for child in el:
            total += size(child)
            if total > MAX_SHAPES:
                break
        if _local(el.tag) == "use":
            href = el.get("href") or el.get(XLINK_HREF) or ""
            target = ids.get(href[1:]) if href.startswith("#") else None
            if target is not None:
                total += size(target)
        active.discard(key)
        memo[key] = total
        return total

    try:
        return size(root)
    except RecursionError:
        raise AnalysisError("the SVG is nested too deeply to be read") from None


def _root_transform(
    root: StdET.Element, ppi: float
) -> tuple[Affine, Viewport, tuple[float, float] | None]:
    view_box = parse_view_box(root.get("viewBox"))
    dims: list[float | None] = []
    for name in ("width", "height"):
        text = root.get(name)
        if text is None or text.strip().endswith("%"):
            dims.append(None)
            continue
        try:
            dims.append(to_mm(text, ppi)[0])
        except LengthError as exc:
            raise AnalysisError(f"the document {name} cannot be read: {exc}") from None
    w_mm, h_mm = dims
    if view_box is not None:
        vw, vh = view_box[2], view_box[3]
        # A missing size takes the other one's scale, else the viewBox in px.
        if w_mm is None and h_mm is None:
            w_mm, h_mm = vw * MM_PER_IN / ppi, vh * MM_PER_IN / ppi
        elif w_mm is None:
            assert h_mm is not None
            w_mm = h_mm * vw / vh
        elif h_mm is None:
            h_mm = w_mm * vh / vw
        assert w_mm is not None and h_mm is not None
        if w_mm <= 0 or h_mm <= 0:
            raise AnalysisError("the document has a zero or negative size")
        px = ppi / MM_PER_IN
        m = scale(1 / px) @ view_box_transform(
            view_box, w_mm * px, h_mm * px, root.get("preserveAspectRatio")
        )
        return m, Viewport(vw, vh, ppi), (w_mm, h_mm)
    px_w = (w_mm or 0) * ppi / MM_PER_IN or 100.0
    px_h = (h_mm or 0) * ppi / MM_PER_IN or 100.0
    size = (w_mm, h_mm) if w_mm and h_mm else None
    return scale(MM_PER_IN / ppi), Viewport(px_w, px_h, ppi), size


def _info(el: StdET.Element) -> NodeInfo:
    return NodeInfo(
        tag=_local(el.tag) or "",
        id=el.get("id"),
        classes=frozenset((el.get("class") or "").split()),
    )


def _style(ctx: _Context, el: StdET.Element, parent: Computed, path: list[NodeInfo]) -> Computed:
    sheet = ctx.sheet.matching(path) if ctx.sheet.rules else {}
    return compute(parent, dict(el.attrib), sheet, el.get("style"))


def _length(
    ctx: _Context, el: StdET.Element, name: str, axis: str, vp: Viewport, default: str
) -> float:
    text = el.get(name, default)
    try:
        return to_user(text, axis, vp)
    except LengthError as exc:
        ctx.warn_once(f"len-{name}", f"an element's {name} cannot be read ({exc}); used {default}")
        return to_user(default, axis, vp)


def _transform(
    ctx: _Context, el: StdET.Element, vp: Viewport, css: str | None = None
) -> Affine | None:
    text = css if css and css.strip() != "none" else el.get("transform")
    if not text:
        return identity()
    try:
        t = parse_transform(text)
    except ValueError as exc:
        ctx.warn_once("transform", f"a transform was ignored: {exc}")
        return identity()
    origin = el.get("transform-origin")
    if origin:
        ox, oy = _origin(origin, vp)
        t = translate(ox, oy) @ t @ translate(-ox, -oy)
    return t


def _origin(text: str, vp: Viewport) -> tuple[float, float]:
    words = text.replace(",", " ").split()[:2]
    keys = {"left": "0%", "center": "50%", "right": "100%", "top": "0%", "bottom": "100%"}
    vals = [keys.get(w, w) for w in words] + ["50%"] * (2 - len(words))
    if words and words[0] in ("top", "bottom"):
        vals = [vals[1] if len(words) > 1 else "50%", vals[0]]
    try:
        return to_user(vals[0], "x", vp), to_user(vals[1], "y", vp)
    except LengthError:
        return 0.0, 0.0


def _walk_children(
    ctx: _Context,
    el: StdET.Element,
    ctm: Affine,
    style: Computed,
    vp: Viewport,
    path: list[NodeInfo],
    uses: tuple[str, ...],
    depth: int,
) -> None:
    if _local(el.tag) == "switch":
        # Only the first child that is an SVG element renders (we evaluate no conditions).
        first = next((c for c in el if _local(c.tag) is not None), None)
        children = [first] if first is not None else []
    else:
        children = list(el)
    for child in children:
        _walk(ctx, child, ctm, style, vp, path, uses, depth + 1)


def _walk(
    ctx: _Context,
    el: StdET.Element,
    ctm: Affine,
    parent_style: Computed,
    vp: Viewport,
    parents: list[NodeInfo],
    uses: tuple[str, ...],
    depth: int,
) -> None:
    tag = _local(el.tag)
    if tag is None or tag in _SKIP:
        return
    if depth > MAX_DEPTH:
        raise AnalysisError(f"the SVG nests elements more than {MAX_DEPTH} deep")
    path = [*parents, _info(el)]
    style = _style(ctx, el, parent_style, path)
    if style.display_none:
        return
    if tag in _TEXT:
        _refuse_text(el)
        return  # empty text draws nothing
    local = _transform(ctx, el, vp, style.transform)
    m = ctm @ local if local is not None else ctm
    if el.get("clip-path") or el.get("mask"):
        ctx.warn_once("clip", "clipping paths and masks are not applied: whole shapes are cut")
    if tag in ("g", "a", "switch"):
        _walk_children(ctx, el, m, style, vp, path, uses, depth)
    elif tag == "svg":
        _nested_svg(ctx, el, m, style, vp, path, uses, depth, None)
    elif tag == "use":
        _use(ctx, el, m, style, vp, path, uses, depth)
    elif tag in _SHAPES:
        if style.visible:
            _shape(ctx, el, tag, m, style, vp)
    elif tag == "image":
        ctx.warn_once("image", "bitmap images cannot be cut and were left out")
    elif tag == "foreignObject":
        ctx.warn_once("foreign", "embedded non-SVG content (foreignObject) was left out")


def _refuse_text(el: StdET.Element) -> None:
    words = " ".join("".join(el.itertext()).split())
    if not words:
        return
    sample = f" “{words[:40]}{'…' if len(words) > 40 else ''}”"
    raise FileRejected(
        f"the design contains text{sample}. A cutter follows outlines, so the text must "
        "be turned into paths first: in Inkscape select everything, then Path ▸ Object to "
        "Path (Shift+Ctrl+C), and save again."
    )


def _nested_svg(
    ctx: _Context,
    el: StdET.Element,
    ctm: Affine,
    style: Computed,
    vp: Viewport,
    path: list[NodeInfo],
    uses: tuple[str, ...],
    depth: int,
    size: tuple[str | None, str | None] | None,
) -> None:
    """A nested <svg> (or a <symbol> instanced by <use>): a new viewport."""
    x = _length(ctx, el, "x", "x", vp, "0")
    y = _length(ctx, el, "y", "y", vp, "0")
    w_text = (size[0] if size else None) or el.get("width") or "100%"
    h_text = (size[1] if size else None) or el.get("height") or "100%"
    try:
        w = to_user(w_text, "x", vp)
        h = to_user(h_text, "y", vp)
    except LengthError:
        ctx.warn_once("svg-size", "a nested viewport with an unreadable size was left out")
        return
    if w <= 0 or h <= 0:
        return
    view_box = parse_view_box(el.get("viewBox"))
    m = ctm @ translate(x, y)
    if view_box is not None:
        m = m @ view_box_transform(view_box, w, h, el.get("preserveAspectRatio"))
        inner = Viewport(view_box[2], view_box[3], vp.ppi, vp.font_size)
    else:
        inner = Viewport(w, h, vp.ppi, vp.font_size)
    _walk_children(ctx, el, m, style, inner, path, uses, depth)


def _use(
    ctx: _Context,
    el: StdET.Element,
    ctm: Affine,
    style: Computed,
    vp: Viewport,
    path: list[NodeInfo],
    uses: tuple[str, ...],
    depth: int,
) -> None:
    href = el.get("href") or el.get(XLINK_HREF) or ""
    if not href.startswith("#"):
        if href:
            ctx.warn_once("use-ext", "a <use> pointing outside the file was left out")
        return
    target_id = href[1:]
    target = ctx.ids.get(target_id)
    if target is None:
        ctx.warn_once("use-missing", f"a <use> points to a missing element #{target_id}")
        return
    if target_id in uses or target is el or _contains(target, el):
        ctx.warn_once("use-loop", "a <use> that refers to itself was left out")
        return
    x = _length(ctx, el, "x", "x", vp, "0")
    y = _length(ctx, el, "y", "y", vp, "0")
    m = ctm @ translate(x, y)
    chain = (*uses, target_id)
    tag = _local(target.tag)
    if tag == "symbol":
        target_path = [*path, _info(target)]
        sym_style = _style(ctx, target, style, target_path)
        if sym_style.display_none:
            return
        local = _transform(ctx, target, vp)
        mm = m @ local if local is not None else m
        _nested_svg(
            ctx,
            target,
            mm,
            sym_style,
            vp,
            target_path,
            chain,
            depth + 1,
            (el.get("width"), el.get("height")),
        )
    elif tag == "svg":
        target_path = [*path, _info(target)]
        sub_style = _style(ctx, target, style, target_path)
        if not sub_style.display_none:
            local = _transform(ctx, target, vp)
            mm = m @ local if local is not None else m
            size = (el.get("width"), el.get("height"))
            _nested_svg(ctx, target, mm, sub_style, vp, target_path, chain, depth + 1, size)
    else:
        _walk(ctx, target, m, style, vp, path, chain, depth + 1)


def _contains(ancestor: StdET.Element, el: StdET.Element) -> bool:
    return any(e is el for e in ancestor.iter())


def _shape(
    ctx: _Context, el: StdET.Element, tag: str, m: Affine, style: Computed, vp: Viewport
) -> None:
    source = el.get("id") or tag
    if not style.paints:
        ctx.warn_once(
            "invisible", "invisible shapes (no fill or stroke, or fully transparent) were left out"
        )
        return
    if abs(determinant(m)) < 1e-12:
        ctx.warn_once("flat", "shapes squashed flat by their transform were left out")
        return
    if len(ctx.pending) >= MAX_SHAPES:
        raise FileRejected(
            f"the drawing holds more than {MAX_SHAPES:,} shapes once its <use> copies are "
            "expanded; that is not a cutting file"
        )
    ctx.pending.append(_Pending(el, tag, m, style, vp, source))


def _shape_geometry(ctx: _Context, item: _Pending) -> None:
    subpaths = shape_subpaths(item.el, item.tag, item.vp, item.source, ctx.warnings, ctx.budget)
    if not subpaths:
        return
    ctrls = [apply(item.ctm, sp.ctrl) for sp in subpaths]
    closed = [sp.closed for sp in subpaths]
    ctx.shapes.append(_Shape(ctrls, closed, item.style, item.source))


def _metres(mm: float) -> str:
    """A length for a refusal: digits up to a thousand kilometres, then a power of ten
    (1e308 is not worth 300 digits)."""
    m = mm / 1000
    return f"{m:,.0f} m" if m < 1e6 else f"about 10^{math.floor(math.log10(m))} m"


def _flatten(ctx: _Context, tol: float) -> Drawing:
    drawing = Drawing(warnings=ctx.warnings)
    all_ctrl = [c for s in ctx.shapes for c in s.ctrls]
    if not all_ctrl:
        return drawing
    stacked = np.concatenate(all_ctrl)
    if not np.all(np.isfinite(stacked)):
        raise FileRejected("the drawing has coordinates too large to compute with")
    lo, hi = stacked.reshape(-1, 2).min(axis=0), stacked.reshape(-1, 2).max(axis=0)
    extent = float(max(hi - lo))
    if extent > MAX_EXTENT_MM:
        raise FileRejected(
            f"the drawing spans {_metres(extent)}; nothing over {MAX_EXTENT_MM / 1000:.0f} m "
            "can be cut (check the document's units and size)"
        )
    try:
        polys = flatten(all_ctrl, tol, MAX_POINTS)
    except TooComplex as exc:
        raise FileRejected(f"{exc}; simplify the drawing before cutting") from None
    k = 0
    hidden = 0
    for shape in ctx.shapes:
        count = len(shape.ctrls)
        mine = polys[k : k + count]
        k += count
        # A filled shape's outline is closed whatever its data says.
        closes = [c or (shape.style.filled and not shape.style.stroked) for c in shape.closed]
        cleaned = [clean(p, c) for p, c in zip(mine, closes, strict=True)]
        kept = [c for c in cleaned if c is not None]
        if shape.style.filled and not shape.style.stroked and len(kept) > 1:
            before = len(kept)
            kept = visible_contours(kept, shape.style.fill_rule)
            hidden += before - len(kept)
        drawing.paths.extend(CutPath(p, c, shape.source) for p, c in kept)
    if hidden:
        drawing.warnings.append(
            f"{hidden} contour(s) that the fill rule makes invisible were not cut"
        )
    return drawing
