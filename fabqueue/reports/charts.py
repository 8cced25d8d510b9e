"""Small server-side SVG bar charts, no script, no external file: a page embeds the SVG
as is, a PDF prints it. Each chart carries its title and a text summary for screen
readers (``<title>``/``<desc>``, ``role="img"``); the table beneath it is the full
text alternative.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from babel.numbers import format_decimal

LOCALE = "fr_FR"
PALETTE = ("#1b7f3b", "#c0392b", "#e67e22", "#7f8c8d", "#2c6fbb", "#8e44ad")
"""Distinguishable in greyscale print as well: dark, mid and light tones alternate."""
WIDTH, HEIGHT = 640, 280
LEFT, BOTTOM, TOP = 56, 48, 36


def number(value: float, digits: int = 1) -> str:
    return format_decimal(round(value, digits), locale=LOCALE)


def _ticks(top: float) -> list[float]:
    if top <= 0:
        return [0.0]
    step = 10 ** len(str(int(top))) / 10
    while top / step > 6:
        step *= 2
    return [i * step for i in range(int(top // step) + 1)]


def bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    unit: str = "",
    key: str = "chart",
) -> str:
    """Stacked vertical bars, one per label; ``series`` are (name, one value per label).
    ``key`` makes the ids of its title and summary unique on a page of several charts."""
    totals = [sum(s[1][i] for s in series) for i in range(len(labels))]
    top = max(totals, default=0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(labels), 1)
    scale = plot_h / (top * 1.05)
    summary = "; ".join(
        f"{lab} : {number(t)}{(' ' + unit) if unit else ''}"
        for lab, t in zip(labels, totals, strict=True)
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{key}-t {key}-d" width="100%" font-family="sans-serif" font-size="11">',
        f'<title id="{key}-t">{escape(title)}</title>',
        f'<desc id="{key}-d">{escape(summary)}</desc>',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in _ticks(top * 1.05):
        y = HEIGHT - BOTTOM - tick * scale
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{number(tick, 2)}</text>'
        )
    for i, label in enumerate(labels):
        x, base = LEFT + i * slot + slot * 0.15, float(HEIGHT - BOTTOM)
        for j, (name, values) in enumerate(series):
            h = values[i] * scale
            if h > 0:
                base -= h
                out.append(
                    f'<rect x="{x:.1f}" y="{base:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(label)} — {escape(name)} : '
                    f"{number(values[i])}</title></rect>"
                )
        out.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 14}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    out.extend(_legend(series))
    out.append("</svg>")
    return "".join(out)


def _legend(series: Sequence[tuple[str, Sequence[float]]]) -> list[str]:
    if len(series) < 2:
        return []
    out = []
    for j, (name, _) in enumerate(series):
        x = LEFT + j * 110
        out.append(
            f'<rect x="{x}" y="{HEIGHT - 18}" width="10" height="10" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 9}">{escape(name)}</text>'
        )
    return out
