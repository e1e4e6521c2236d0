#!/usr/bin/env python3
"""Statistics for the bench scripts, with the definitions of vmm/base/stats.hpp.

As a module: median(values), percentile(values, q), linear_fit(xs, ys).
As a command, reading one JSON value on stdin and printing one JSON value:
    stats.py median       [numbers]              -> number
    stats.py percentile Q [numbers]              -> number (0 <= Q <= 1)
    stats.py fit          [[x, y], ...]          -> {"slope": s, "intercept": i}
Standard library only.

percentile: nearest rank, the k-th smallest of n with k = ceil(q * n) clamped
to [1, n] (q * n compared with a 1e-9 tolerance). median: the middle value for
odd n, the mean of the two middle values for even n. fit: ordinary least
squares y = intercept + slope * x.
"""
import json
import math
import sys


def nearest_rank(q, n):
    """The 1-based rank of the q-percentile among n values.

    >>> [nearest_rank(q, 10) for q in (0, 0.5, 0.9, 0.99, 1)]
    [1, 5, 9, 10, 10]
    >>> nearest_rank(0.9, 70)  # 0.9 * 70 = 63.000000000000007
    63
    """
    if n == 0:
        return 0
    x = min(max(q, 0.0), 1.0) * n
    k = math.floor(x)
    if k < x - 1e-9:
        k += 1
    return min(max(k, 1), n)


def percentile(values, q):
    """The nearest-rank q-percentile of values.

    >>> percentile([5, 1, 4, 2, 3], 0.5)
    3
    """
    v = sorted(values)
    if not v:
        raise ValueError("percentile of no values")
    return v[nearest_rank(q, len(v)) - 1]


def median(values):
    """The median of values.

    >>> median([3, 1, 2]), median([4, 1, 3, 2])
    (2, 2.5)
    """
    v = sorted(values)
    if not v:
        raise ValueError("median of no values")
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


def linear_fit(xs, ys):
    """(slope, intercept) of the least-squares line.

    >>> [round(v, 9) for v in linear_fit([0, 1, 2, 3], [1, 3, 2, 4])]
    [0.8, 1.3]
    """
    n = min(len(xs), len(ys))
    if n < 2:
        raise ValueError("a fit needs two points")
    mx = sum(xs[:n]) / n
    my = sum(ys[:n]) / n
    sxx = sum((x - mx) ** 2 for x in xs[:n])
    if sxx == 0:
        raise ValueError("a fit needs two distinct x")
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs[:n], ys[:n]))
    slope = sxy / sxx
    return slope, my - slope * mx


def main(argv):
    if len(argv) < 2 or argv[1] not in ("median", "percentile", "fit"):
        print(__doc__, file=sys.stderr)
        return 2
    data = json.load(sys.stdin)
    if argv[1] == "median":
        out = median(data)
    elif argv[1] == "percentile":
        out = percentile(data, float(argv[2]))
    else:
        slope, intercept = linear_fit([p[0] for p in data], [p[1] for p in data])
        out = {"slope": slope, "intercept": intercept}
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
