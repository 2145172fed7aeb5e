"""Percentiles as the benchmarks report them."""
from __future__ import annotations


def pct(values: list[float], p: float, digits: int = 3) -> float:
    """The p-th percentile by nearest rank over the sorted values (NaN when there are none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))], digits)
