"""Percentiles and medians, without numpy (the harness imports nothing heavy)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (0–100) of `values`, interpolated linearly; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float | None]) -> float | None:
    """The median of the values that were measured; None if none was."""
    measured = [value for value in values if value is not None]
    return statistics.median(measured) if measured else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def latency_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and p99 in milliseconds."""
    return {
        f"p{q}_ms": None if (value := percentile(seconds, q)) is None else value * 1000
        for q in (50, 95, 99)
    }
