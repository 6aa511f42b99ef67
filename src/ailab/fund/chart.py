"""A server-side SVG chart of the fund's capital over time (no JavaScript, no CDN)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils.html import escape

SERIES = [
    ("committed", "Committed", "#6c757d"),
    ("deployed", "Deployed", "#0d6efd"),
    ("realised", "Realised", "#198754"),
    ("available", "Available cash", "#fd7e14"),
]
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 720, 300, 90, 20, 20, 60


def _fmt(amount: Decimal) -> str:
    if abs(amount) >= 1_000_000:
        return f"{amount / 1_000_000:.1f}M"
    if abs(amount) >= 1_000:
        return f"{amount / 1_000:.0f}k"
    return f"{amount:.0f}"


def capital_svg(series: list[dict[str, Any]], currency: str) -> str:
    """Step lines for each cumulative series; empty string when there is nothing to draw."""
    if not series:
        return ""
    first: dt.date = series[0]["date"]
    last: dt.date = series[-1]["date"]
    span = max((last - first).days, 1)
    top = max(max(p[k] for k, *_ in SERIES) for p in series) or Decimal(1)
    low = min(Decimal(0), min(p["available"] for p in series))
    rng = (top - low) or Decimal(1)

    def x(day: dt.date) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * (day - first).days / span

    def y(v: Decimal) -> float:
        return PAD_T + float((top - v) / rng) * (H - PAD_T - PAD_B)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
        f'aria-label="Fund capital over time ({escape(currency)})" class="w-100">',
    ]
    for i in range(5):
        v = low + rng * i / 4
        parts.append(
            f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#dee2e6"/><text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{escape(currency)} {_fmt(v)}</text>'
        )
    for day in (first, last):
        parts.append(
            f'<text x="{x(day):.1f}" y="{H - PAD_B + 16}" font-size="11" '
            f'text-anchor="middle">{day.isoformat()}</text>'
        )
    for i, (key, label, colour) in enumerate(SERIES):
        points: list[str] = []
        prev: Decimal | None = None
        for p in series:
            if prev is not None:
                points.append(f"{x(p['date']):.1f},{y(prev):.1f}")
            points.append(f"{x(p['date']):.1f},{y(p[key]):.1f}")
            prev = p[key]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(points)}"/>'
        )
        lx = PAD_L + i * 150
        parts.append(
            f'<rect x="{lx}" y="{H - 22}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{H - 12}" font-size="12">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
