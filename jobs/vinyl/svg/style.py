"""Just enough CSS to know what an SVG shows: ``display``, ``visibility``, ``fill``,
``stroke``, ``fill-rule`` and the opacities, from presentation attributes, ``<style>`` sheets (type,
class and id selectors, descendant and child combinators) and ``style`` attributes.

External style sheets are never fetched: a cutter service must not reach out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PROPERTIES = (
    "display", "visibility", "fill", "stroke", "fill-rule", "transform",
    "opacity", "fill-opacity", "stroke-opacity",
)  # fmt: skip
INHERITED = frozenset(
    {"visibility", "fill", "stroke", "fill-rule", "fill-opacity", "stroke-opacity"}
)

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_COMPOUND = re.compile(r"^(\*|[a-zA-Z][\w-]*)?((?:[#.][\w-]+)*)$")


def parse_declarations(text: str) -> dict[str, str]:
    """``a: b; c: d`` -> {'a': 'b', 'c': 'd'} for the properties we use."""
    out: dict[str, str] = {}
    for part in _COMMENT.sub("", text).split(";"):
        name, sep, value = part.partition(":")
        name = name.strip().lower()
        if sep and name in PROPERTIES:
            out[name] = value.replace("!important", "").strip()
    return out


@dataclass(frozen=True)
class _Compound:
    tag: str | None
    ids: tuple[str, ...]
    classes: tuple[str, ...]

    def matches(self, node: NodeInfo) -> bool:
        return (
            (self.tag is None or self.tag == node.tag)
            and all(i == node.id for i in self.ids)
            and all(c in node.classes for c in self.classes)
        )


@dataclass(frozen=True)
class _Rule:
    chain: tuple[tuple[str, _Compound], ...]
    """(combinator to the previous compound, compound) from left to right."""
    specificity: tuple[int, int, int]
    order: int
    declarations: dict[str, str]


@dataclass(frozen=True)
class NodeInfo:
    tag: str
    id: str | None
    classes: frozenset[str]


@dataclass
class StyleSheet:
    rules: list[_Rule] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, css: str) -> None:
        css = _COMMENT.sub("", css)
        if "@import" in css:
            self.warnings.append("an external style sheet (@import) was not loaded")
        # @media and other at-rule blocks are dropped whole: they do not apply to a cut.
        css = re.sub(r"@[\w-]+[^{;]*;", "", css)
        css = _drop_at_blocks(css)
        for m in re.finditer(r"([^{}]+)\{([^{}]*)\}", css):
            decls = parse_declarations(m.group(2))
            if not decls:
                continue
            for selector in m.group(1).split(","):
                rule = _parse_selector(selector.strip(), len(self.rules), decls)
                if rule is not None:
                    self.rules.append(rule)

    def matching(self, path: list[NodeInfo]) -> dict[str, str]:
        """Declarations that apply to ``path[-1]`` (``path`` = ancestors then the node),
        lowest priority first, merged."""
        hits = [r for r in self.rules if _matches(r.chain, path)]
        hits.sort(key=lambda r: (r.specificity, r.order))
        out: dict[str, str] = {}
        for rule in hits:
            out.update(rule.declarations)
        return out


def _drop_at_blocks(css: str) -> str:
    out = []
    i = 0
    while i < len(css):
        at = css.find("@", i)
        if at < 0:
            out.append(css[i:])
            break
        out.append(css[i:at])
        brace = css.find("{", at)
        if brace < 0:
            break
        depth, j = 0, brace
        while j < len(css):
            if css[j] == "{":
                depth += 1
            elif css[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        i = j + 1
    return "".join(out)


def _parse_selector(text: str, order: int, decls: dict[str, str]) -> _Rule | None:
    tokens = re.findall(r">|[^\s>]+", text)
    chain: list[tuple[str, _Compound]] = []
    combinator = " "
    ids = classes = tags = 0
    for tok in tokens:
        if tok == ">":
            combinator = ">"
            continue
        m = _COMPOUND.match(tok)
        if m is None:
            return None  # attribute selectors, pseudo-classes…: not for a cut file
        tag = m.group(1) if m.group(1) not in (None, "*") else None
        parts = re.findall(r"([#.])([\w-]+)", m.group(2))
        comp = _Compound(
            tag=tag,
            ids=tuple(v for k, v in parts if k == "#"),
            classes=tuple(v for k, v in parts if k == "."),
        )
        ids += len(comp.ids)
        classes += len(comp.classes)
        tags += tag is not None
        chain.append((combinator, comp))
        combinator = " "
    if not chain:
        return None
    return _Rule(tuple(chain), (ids, classes, tags), order, decls)


def _matches(chain: tuple[tuple[str, _Compound], ...], path: list[NodeInfo]) -> bool:
    if not chain or not path or not chain[-1][1].matches(path[-1]):
        return False
    if len(chain) == 1:
        return True
    combinator = chain[-1][0]
    rest = chain[:-1]
    if combinator == ">":
        return _matches(rest, path[:-1])
    return any(_matches(rest, path[:i]) for i in range(len(path) - 1, 0, -1))


@dataclass(frozen=True)
class Computed:
    """The style of one element once the cascade and inheritance are done."""

    display_none: bool = False
    visible: bool = True
    fill: str = "black"
    stroke: str = "none"
    fill_rule: str = "nonzero"
    transform: str | None = None
    """A CSS ``transform`` (SVG 2); it replaces the ``transform`` attribute."""
    opacity: float = 1.0
    """The product of the element's and its ancestors' ``opacity`` (a group at 0 hides
    everything in it, whatever the children say)."""
    fill_opacity: float = 1.0
    stroke_opacity: float = 1.0

    @property
    def paints(self) -> bool:
        return self.filled or self.stroked

    @property
    def filled(self) -> bool:
        return not _is_none(self.fill) and self.fill_opacity > 0 and self.opacity > 0

    @property
    def stroked(self) -> bool:
        return not _is_none(self.stroke) and self.stroke_opacity > 0 and self.opacity > 0


def _is_none(paint: str) -> bool:
    return paint.strip().lower() in ("none", "transparent")


def _alpha(text: str | None, default: float) -> float:
    """An opacity value (``0.5`` or ``50%``), clamped to 0…1; unreadable: ``default``."""
    if text is None:
        return default
    text = text.strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return default
    return min(1.0, max(0.0, value)) if value == value else default


def compute(
    parent: Computed, attributes: dict[str, str], sheet: dict[str, str], inline: str | None
) -> Computed:
    """Presentation attributes < style sheet < ``style`` attribute; then inheritance."""
    decl: dict[str, str] = {
        k: v for k, v in attributes.items() if k in PROPERTIES and k != "transform"
    }
    decl.update(sheet)
    if inline:
        decl.update(parse_declarations(inline))
    values = {
        "visibility": "visible" if parent.visible else "hidden",
        "fill": parent.fill,
        "stroke": parent.stroke,
        "fill-rule": parent.fill_rule,
        "fill-opacity": str(parent.fill_opacity),
        "stroke-opacity": str(parent.stroke_opacity),
    }
    for name, value in decl.items():
        value = value.strip()
        if value == "inherit" or (value in ("", "initial", "unset") and name in INHERITED):
            continue
        values[name] = value
    display = decl.get("display", "inline").strip().lower()
    return Computed(
        display_none=display == "none",
        visible=values["visibility"].lower() not in ("hidden", "collapse"),
        fill=values["fill"],
        stroke=values["stroke"],
        fill_rule="evenodd" if values["fill-rule"].lower() == "evenodd" else "nonzero",
        transform=decl.get("transform"),
        opacity=parent.opacity * _alpha(decl.get("opacity"), 1.0),
        fill_opacity=_alpha(values["fill-opacity"], parent.fill_opacity),
        stroke_opacity=_alpha(values["stroke-opacity"], parent.stroke_opacity),
    )
