"""Server-made SVG charts for the console: plain markup, no script, no library, a few kilobytes each.

Each chart is an ``<svg role="img">`` with a ``<title>`` (what a screen reader says); the numbers are also in the
page's tables, so nothing is only in a picture. Colours and text are set by attributes, not inline styles (the
console's Content-Security-Policy allows no inline style).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

ROW_H, LABEL_W, BAR_W, PAD = 22, 150, 320, 6
COL_W, CHART_H = 18, 140
COLOURS = ("#0b5cad", "#d4a72c", "#b42318", "#1a7f37", "#6e40c9", "#4f5b66")


def horizontal_bars(items: Sequence[tuple[str, float]], *, title: str, unit: str = "") -> Markup:
    """One bar per (label, value), longest first as given; the value printed after the bar."""
    if not items:
        return Markup("")
    top = max(value for _, value in items) or 1.0
    height = len(items) * ROW_H + PAD
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {LABEL_W + BAR_W + 80} {height}" '
             f'width="{LABEL_W + BAR_W + 80}" height="{height}"><title>{escape(title)}</title>']
    for row, (label, value) in enumerate(items):
        y = row * ROW_H + PAD
        width = max(1.0, BAR_W * value / top)
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end" font-size="12" fill="#1b1f24">'
                     f"{escape(label[:24])}</text>"
                     f'<rect x="{LABEL_W}" y="{y + 3}" width="{width:.1f}" height="{ROW_H - 8}" fill="{COLOURS[0]}"/>'
                     f'<text x="{LABEL_W + width + 6:.1f}" y="{y + 14}" font-size="12" fill="#1b1f24">'
                     f"{_number(value)}{escape(unit)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_columns(columns: Sequence[tuple[str, Sequence[float]]], *, series: Sequence[str], title: str) -> Markup:
    """One column per (label, values): the values stacked bottom-up in the order of ``series``, with a legend.
    Labels are printed under every seventh column (days of a month stay readable)."""
    if not columns:
        return Markup("")
    top = max(sum(values) for _, values in columns) or 1.0
    width = max(320, len(columns) * COL_W + 60)
    height = CHART_H + 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}"><title>{escape(title)}</title>',
             f'<text x="4" y="12" font-size="11" fill="#4f5b66">{_number(top)}</text>',
             f'<line x1="40" y1="{CHART_H + 10}" x2="{width}" y2="{CHART_H + 10}" stroke="#c9d1d9"/>']
    for index, (label, values) in enumerate(columns):
        x, base = 44 + index * COL_W, CHART_H + 10.0
        for part, value in enumerate(values):
            h = CHART_H * value / top
            if h > 0:
                base -= h
                parts.append(f'<rect x="{x}" y="{base:.1f}" width="{COL_W - 4}" height="{h:.1f}" '
                             f'fill="{COLOURS[part % len(COLOURS)]}"><title>{escape(label)}: {escape(series[part])} '
                             f"{_number(value)}</title></rect>")
        if index % 7 == 0 or index == len(columns) - 1:
            parts.append(f'<text x="{x}" y="{CHART_H + 24}" font-size="10" fill="#4f5b66">{escape(label[5:])}</text>')
    for part, name in enumerate(series):
        x = 44 + part * 150
        parts.append(f'<rect x="{x}" y="{CHART_H + 36}" width="10" height="10" fill="{COLOURS[part % len(COLOURS)]}"/>'
                     f'<text x="{x + 14}" y="{CHART_H + 45}" font-size="11" fill="#1b1f24">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:,.1f}"
