"""A small server-side SVG chart for the dashboard: no script, no third-party library, no
inline style (a strict Content-Security-Policy allows SVG presentation attributes only)."""

from __future__ import annotations

from typing import Any, TypedDict

WIDTH = 640
HEIGHT = 200
MARGIN = 32
PALETTE = ("#1a5a96", "#b04600", "#2e7d32", "#6a1b9a", "#00695c", "#ad1457")


class Point(TypedDict):
    x: float
    y: float
    day: str
    share: float  # 0-1: the share of answers allowing the category that day


class Series(TypedDict):
    category: str
    colour: str
    points: str  # for <polyline points="...">: nothing drawn below two points
    marks: list[Point]  # one mark per point: a single day still shows


class AxisLabel(TypedDict):
    x: float
    text: str
    anchor: str  # SVG text-anchor


class Cell(TypedDict):
    allowed: int
    refused: int
    share: float | None  # None: no answer about the category that day


class Row(TypedDict):
    day: str
    cells: list[Cell]  # in the order of `categories`


class Chart(TypedDict):
    width: int
    height: int
    margin: int
    days: list[str]
    categories: list[str]
    series: list[Series]
    labels: list[AxisLabel]
    rows: list[Row]  # the numbers behind the chart, for its data table


def _x(position: int, count: int) -> float:
    """Days spread over the plot's width; a single day in its middle."""
    if count == 1:
        return WIDTH / 2
    return MARGIN + position * (WIDTH - 2 * MARGIN) / (count - 1)


def _y(share: float) -> float:
    return HEIGHT - MARGIN - share * (HEIGHT - 2 * MARGIN)


def _cell(counts: dict[str, int] | None) -> Cell:
    if not counts:
        return {"allowed": 0, "refused": 0, "share": None}
    allowed, refused = counts["allowed"], counts["refused"]
    total = allowed + refused
    return {"allowed": allowed, "refused": refused, "share": allowed / total if total else None}


def answers_by_day(stats: dict[str, Any]) -> Chart:
    """Share of visitors allowing each category, day by day (0-100 %): a line and a mark
    per category, the first and last days on the x axis (one label for a single day), and
    the same numbers as rows for a data table."""
    days = list(stats["days"])
    categories = sorted(stats["categories"])
    rows: list[Row] = [
        {"day": day, "cells": [_cell(stats["days"][day].get(c)) for c in categories]}
        for day in days
    ]
    series: list[Series] = []
    for index, category in enumerate(categories):
        marks: list[Point] = []
        for position, row in enumerate(rows):
            share = row["cells"][index]["share"]
            if share is None:
                continue
            x, y = _x(position, len(days)), _y(share)
            marks.append({"x": round(x, 1), "y": round(y, 1), "day": row["day"], "share": share})
        series.append(
            {
                "category": category,
                "colour": PALETTE[index % len(PALETTE)],
                "points": " ".join(f"{m['x']:.1f},{m['y']:.1f}" for m in marks),
                "marks": marks,
            }
        )
    labels: list[AxisLabel] = []
    if len(days) == 1:
        labels.append({"x": WIDTH / 2, "text": days[0], "anchor": "middle"})
    elif days:
        labels.append({"x": MARGIN, "text": days[0], "anchor": "start"})
        labels.append({"x": WIDTH - MARGIN, "text": days[-1], "anchor": "end"})
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "margin": MARGIN,
        "days": days,
        "categories": categories,
        "series": series,
        "labels": labels,
        "rows": rows,
    }
