"""Server-side charts as inline SVG (no JavaScript, no CDN): the allocation burn-down."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

W, H = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 36


def burn_down_svg(data: dict[str, Any]) -> SafeString:
    """Budget (a line), GPU-hours used to date (a filled line) and the forecast at the
    current rate to the end date (dashed)."""
    start: dt.date = data["starts_on"]
    end: dt.date = data["ends_on"]
    budget_h = data["budget"] / 3600
    points = [(d, s / 3600) for d, s in data["points"]]
    forecast = [(d, s / 3600) for d, s in data["forecast"]]
    top = max([budget_h, *(v for _, v in points), *(v for _, v in forecast)]) * 1.1 or 1.0
    days = max((end - start).days, 1)

    def x(d: dt.date) -> float:
        return LEFT + (W - LEFT - RIGHT) * (d - start).days / days

    def y(v: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1 - v / top)

    def path(series: list[tuple[dt.date, float]]) -> str:
        return " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in series)

    ticks = format_html_join(
        "",
        '<line x1="{0}" x2="{1}" y1="{2}" y2="{2}" stroke="#e5e5e5"/>'
        '<text x="{3}" y="{4}" font-size="11" text-anchor="end" fill="#666">{5}</text>',
        (
            (
                LEFT,
                W - RIGHT,
                f"{y(top * f / 4):.1f}",
                LEFT - 6,
                f"{y(top * f / 4) + 4:.1f}",
                f"{top * f / 4:,.0f}",
            )
            for f in range(5)
        ),
    )
    used = ""
    if points:
        area = f"{x(points[0][0]):.1f},{y(0):.1f} {path(points)} {x(points[-1][0]):.1f},{y(0):.1f}"
        used = format_html(
            '<polygon points="{}" fill="#0d6efd" fill-opacity="0.15"/>'
            '<polyline points="{}" fill="none" stroke="#0d6efd" stroke-width="2"/>',
            area,
            path(points),
        )
    ahead = ""
    if forecast:
        ahead = format_html(
            '<polyline points="{}" fill="none" stroke="#6c757d" stroke-width="2" '
            'stroke-dasharray="6 4"/>',
            path(forecast),
        )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-label="Burn-down: GPU-hours used against the budget">'
        "{ticks}"
        '<line x1="{l}" x2="{r}" y1="{by}" y2="{by}" stroke="#dc3545" '
        'stroke-width="2"/>'
        '<text x="{r}" y="{bty}" font-size="11" text-anchor="end" fill="#dc3545">'
        "budget {bh} GPU-h</text>"
        "{used}{ahead}"
        '<text x="{l}" y="{dy}" font-size="11" fill="#666">{start}</text>'
        '<text x="{r}" y="{dy}" font-size="11" text-anchor="end" fill="#666">{end}</text>'
        '<text x="12" y="{my}" font-size="11" fill="#666" '
        'transform="rotate(-90 12 {my})" text-anchor="middle">GPU-hours</text>'
        "</svg>",
        w=W,
        h=H,
        ticks=ticks,
        l=LEFT,
        r=W - RIGHT,
        by=f"{y(budget_h):.1f}",
        bty=f"{y(budget_h) - 4:.1f}",
        bh=f"{budget_h:,.0f}",
        used=used,
        ahead=ahead,
        dy=H - 12,
        start=start.isoformat(),
        end=end.isoformat(),
        my=H // 2,
    )
