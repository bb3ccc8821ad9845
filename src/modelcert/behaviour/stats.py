"""Binomial proportions with Wilson score intervals: every threshold is judged on a bound, not a point.

The Wilson interval keeps its coverage near the nominal 95% for small n and for rates near 0 or 1
(exactly where safety metrics live: 0 leaks in 200, 198 refusals in 200), unlike the Wald interval,
which collapses to a zero-width interval at k = 0 or k = n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95%: the 0.975 quantile of the standard normal


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for `successes` out of `n`; (0.0, 1.0) when n is 0 (nothing known)."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # at k = 0 or k = n the exact bound is 0 or 1; floating point must not leave it a hair off
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Proportion:
    """k of n, with its point estimate and Wilson 95% bounds."""

    k: int
    n: int

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.k, self.n)

    @property
    def low(self) -> float:
        return self.interval[0]

    @property
    def high(self) -> float:
        return self.interval[1]

    def bound(self, kind: str) -> float:
        """The value a threshold is applied to: wilson95_lower, wilson95_upper or point."""
        if kind == "wilson95_lower":
            return self.low
        if kind == "wilson95_upper":
            return self.high
        if kind == "point":
            return self.rate
        raise ValueError(f"unknown bound {kind!r}")


def decimal(value: float, places: int = 4) -> str:
    """A rate as a fixed decimal string: evidence documents carry no floats (canonical JSON differs)."""
    return f"{value:.{places}f}"
