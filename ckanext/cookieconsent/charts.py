"""A small server-side SVG chart for the dashboard: no script, no third-party library."""

from __future__ import annotations

from typing import Any

WIDTH = 640
HEIGHT = 200
MARGIN = 32
PALETTE = ("#1a5a96", "#b04600", "#2e7d32", "#6a1b9a", "#00695c", "#ad1457")


def answers_by_day(stats: dict[str, Any]) -> dict[str, Any]:
    """Share of visitors allowing each category, day by day, as SVG polylines (0-100 %)."""
    days = list(stats["days"])
    categories = sorted(stats["categories"])
    if not days:
        return {"days": [], "series": [], "width": WIDTH, "height": HEIGHT}
    step = (WIDTH - 2 * MARGIN) / max(len(days) - 1, 1)
    series = []
    for index, category in enumerate(categories):
        points = []
        for position, day in enumerate(days):
            counts = stats["days"][day].get(category)
            if not counts:
                continue
            share = counts["allowed"] / (counts["allowed"] + counts["refused"])
            x = MARGIN + position * step
            y = HEIGHT - MARGIN - share * (HEIGHT - 2 * MARGIN)
            points.append(f"{x:.1f},{y:.1f}")
        series.append(
            {"category": category, "points": " ".join(points),
             "colour": PALETTE[index % len(PALETTE)]}
        )  # fmt: skip
    return {"days": days, "series": series, "width": WIDTH, "height": HEIGHT, "margin": MARGIN}
