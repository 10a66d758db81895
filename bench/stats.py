"""Statistics over repeated runs: bootstrap median intervals, Mann-Whitney U, headline metrics.

Standard library only; every result is deterministic (seeded bootstrap, exact integer counting).
"""

import math
import random
import statistics
from dataclasses import dataclass
from functools import lru_cache
from itertools import zip_longest

from bench.metrics import percentile

EXACT_MAX = 20  # per side: exact U distribution without ties (the DP costs ~(n1*n2)**2/4)
EXACT_TIES_MAX = 25  # both sides together: exact conditional distribution with ties (as Go's benchstat)
TOO_FEW = "too few runs"
UNDERPOWERED = "too few runs to reach alpha"
RUN_METRICS = ("inversions", "inverted_starts", "kendall_tau_distance", "throughput_per_s", "starvation_ms")
CLASS_METRICS = (("wait_p50_ms", ("wait_ms", "p50")), ("wait_p99_ms", ("wait_ms", "p99")),
                 ("throughput_per_s", ("throughput_per_s",)))


@dataclass(frozen=True)
class Summary:
    """Median of repeated measurements and a confidence interval of that median."""

    median: float
    ci_low: float
    ci_high: float
    n: int

    def to_dict(self):
        return {"median": self.median, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}


def summarize(values, confidence=0.95, resamples=2000, seed=0):
    """Median and percentile-bootstrap confidence interval of the median."""
    v = sorted(map(float, values))  # sorted: the interval must not depend on run order
    if not v:
        raise ValueError("summary of no values")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    median = float(statistics.median(v))
    if len(v) == 1 or v[0] == v[-1]:
        return Summary(median, median, median, len(v))
    rng, n, half = random.Random(seed), len(v), len(v) // 2
    draws = rng.choices(v, k=n * resamples)  # one call: the same stream as one call per resample
    medians = []
    for lo in range(0, n * resamples, n):
        r = sorted(draws[lo:lo + n])
        medians.append(r[half] if n % 2 else (r[half - 1] + r[half]) / 2)
    medians.sort()
    tail = (1 - confidence) / 2 * 100
    return Summary(median, percentile(medians, tail), percentile(medians, 100 - tail), n)


def _doubled_ranks(values):
    """Midranks times two (integers, so ties stay exact) in input order, and the tie group sizes."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks, ties, i = [0] * len(values), [], 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in order[i:j + 1]:
            ranks[k] = i + j + 2  # twice the mean of the 1-based ranks i+1 .. j+1
        ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


@lru_cache(maxsize=None)
def _u_counts(m, n):
    """Orderings of m a's and n b's (no ties) per U = 0 .. m*n, U counting pairs with a above b."""
    # f(i, j)[u] = f(i-1, j)[u-j] + f(i, j-1)[u]: the largest value is either an a, above all j b's, or a b.
    prev = [[1]] * (n + 1)
    for i in range(1, m + 1):
        row = [[1]]
        for j in range(1, n + 1):
            row.append([x + y for x, y in zip_longest([0] * j + prev[j], row[j - 1], fillvalue=0)])
        prev = row
    return tuple(prev[n])


def _rank_sum_counts(groups, m):
    """Ways to draw m of the pooled values per doubled rank sum; groups = [(doubled rank, size)]."""
    ways = [{} for _ in range(m + 1)]
    ways[0][0] = 1
    for r2, size in groups:
        new = [{} for _ in range(m + 1)]
        for k, sums in enumerate(ways):
            for s, w in sums.items():
                for c in range(min(size, m - k) + 1):  # c of this tie group go to a
                    d = new[k + c]
                    d[s + c * r2] = d.get(s + c * r2, 0) + w * math.comb(size, c)
        ways = new
    return ways[m]


def mann_whitney_u(a, b):
    """Two-sided Mann-Whitney U p-value: exact for small samples (ties included), else normal."""
    a, b = list(a), list(b)
    m, n = len(a), len(b)
    if not m or not n:
        raise ValueError("Mann-Whitney U needs values on both sides")
    ranks2, ties = _doubled_ranks(a + b)
    u2 = sum(ranks2[:m]) - m * (m + 1)  # doubled U of a
    if len(ties) == 1:  # every value equal, identical samples included
        return 1.0
    if len(ties) == m + n and max(m, n) <= EXACT_MAX:
        counts = _u_counts(m, n)
        dist = {2 * u: w for u, w in enumerate(counts)}
    elif m + n <= EXACT_TIES_MAX:
        # The normal approximation is anti-conservative for few tied values (3 equal vs 3 equal gives
        # p=0.047 where only 20 orderings exist), so count the conditional distribution instead.
        groups = sorted((r2, ranks2.count(r2)) for r2 in set(ranks2))
        dist = {s - m * (m + 1): w for s, w in _rank_sum_counts(groups, m).items()}
    else:
        dist = None
    if dist is not None:
        # Twice the smaller tail, as scipy: with ties the distribution is skewed, and a distance-from-
        # the-mean rule would then go below the smallest p of untied samples.
        low = sum(w for u, w in dist.items() if u <= u2)
        high = sum(w for u, w in dist.items() if u >= u2)
        return min(1.0, 2 * min(low, high) / math.comb(m + n, m))
    far = abs(u2 - m * n)  # doubled distance from the mean U, m*n/2
    total = m + n
    var = m * n / 12 * ((total + 1) - sum(t ** 3 - t for t in ties) / (total * (total - 1)))
    z = max(0.0, far / 2 - 0.5) / math.sqrt(var)  # continuity correction
    return min(1.0, math.erfc(z / math.sqrt(2)))


def smallest_p(n1, n2):
    """Smallest two-sided p any n1 vs n2 samples can reach (fully separated, no ties)."""
    return min(1.0, 2 / math.comb(n1 + n2, n1))


def runs_needed(alpha=0.05):
    """Runs per side (equal on both) needed before any difference can be significant at alpha."""
    n = 2
    while smallest_p(n, n) >= alpha:
        n += 1
    return n


def significant(a, b, alpha=0.05):
    """(significant, p or None, reason) as benchstat decides: Mann-Whitney U p < alpha, 2+ runs a side."""
    a, b = list(a), list(b)
    if len(a) < 2 or len(b) < 2:
        return False, None, TOO_FEW
    p = mann_whitney_u(a, b)
    return p < alpha, p, UNDERPOWERED if smallest_p(len(a), len(b)) >= alpha else ""


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def headline(metrics):
    """The headline metrics of one run's metrics dict, flattened: {"hi.wait_p99_ms": 418.0, ...}."""
    if not metrics:
        return {}
    out = {k: float(metrics[k]) for k in RUN_METRICS if _number(metrics.get(k))}
    for cls, cm in (metrics.get("classes") or {}).items():
        for name, path in CLASS_METRICS:
            v = cm
            for k in path:
                v = v.get(k) if isinstance(v, dict) else None
            if _number(v):
                out[f"{cls}.{name}"] = float(v)
    return out
