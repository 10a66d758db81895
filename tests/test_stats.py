"""Statistics pinned on textbook values, scipy reference values and brute-force enumeration.

Reference p-values marked "scipy" were computed once with scipy 1.17 (`mannwhitneyu`, two-sided;
`permutation_test` with n_resamples=inf for the exact tie cases) and pasted here: no scipy at test time.
"""

import math
import random
import statistics
from itertools import combinations

import pytest

from bench import stats
from bench.stats import Summary, headline, mann_whitney_u, significant, smallest_p, summarize


def brute_p(a, b):
    """Exact two-sided p by enumerating every split of the pooled values (twice the smaller tail)."""
    pooled, m = list(a) + list(b), len(a)

    def u(idx):
        chosen = set(idx)
        xs = [pooled[i] for i in idx]
        ys = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        return sum((x > y) + 0.5 * (x == y) for x in xs for y in ys)

    observed = u(range(m))
    us = [u(idx) for idx in combinations(range(len(pooled)), m)]
    low, high = sum(x <= observed for x in us), sum(x >= observed for x in us)
    return min(1.0, 2 * min(low, high) / len(us))


# -- summarize

def test_summary_of_one_value_is_that_value():
    assert summarize([7]) == Summary(7.0, 7.0, 7.0, 1)


def test_summary_of_equal_values_collapses():
    assert summarize([3, 3, 3, 3]) == Summary(3.0, 3.0, 3.0, 4)


def test_summary_median_and_interval():
    s = summarize([10, 12, 11, 13, 50])
    assert s.median == 12.0 and s.n == 5
    assert 10 <= s.ci_low <= s.median <= s.ci_high <= 50
    assert s.to_dict() == {"median": 12.0, "ci_low": s.ci_low, "ci_high": s.ci_high, "n": 5}


def test_summary_is_deterministic_and_order_free():
    rng = random.Random(1)
    values = [rng.gauss(100, 10) for _ in range(9)]
    assert summarize(values) == summarize(values) == summarize(sorted(values, reverse=True))


def test_summary_interval_narrows_with_more_runs():
    rng = random.Random(3)
    few = summarize([rng.gauss(100, 10) for _ in range(5)])
    many = summarize([rng.gauss(100, 10) for _ in range(200)])
    assert many.ci_high - many.ci_low < few.ci_high - few.ci_low
    assert many.ci_low < many.median < many.ci_high


def test_summary_confidence_widens_interval():
    values = list(range(20))
    narrow, wide = summarize(values, confidence=0.5), summarize(values, confidence=0.99)
    assert wide.ci_low <= narrow.ci_low and narrow.ci_high <= wide.ci_high


@pytest.mark.parametrize("values,confidence", [([], 0.95), ([1, 2], 1.0), ([1, 2], 0)])
def test_summary_rejects(values, confidence):
    with pytest.raises(ValueError):
        summarize(values, confidence)


# -- Mann-Whitney U

@pytest.mark.parametrize("a,b,p", [
    ([1, 2, 3], [4, 5, 6], 0.1),  # 2 of C(6,3) = 20 orderings are this extreme
    (range(1, 6), range(6, 11), 2 / 252),  # 0.007937
    (range(1, 5), range(5, 9), 2 / 70),
    ([1, 2], [3, 4], 1 / 3),
    ([1.1, 2.3, 3.5, 4.2, 5.9, 6.1, 7.7, 8.4], [3.2, 5.5, 6.6, 7.9, 8.8, 9.1, 9.9],
     0.09386169386169387),  # scipy
    (range(20), [i + 0.5 for i in range(10, 30)], 6.91365976465362e-06),  # scipy, exact 20 vs 20
])
def test_exact_p_values(a, b, p):
    assert mann_whitney_u(a, b) == pytest.approx(p, rel=1e-12)
    assert mann_whitney_u(b, a) == pytest.approx(p, rel=1e-12)


def test_exact_counts_match_critical_value_tables():
    # Two-sided alpha 0.05 critical U of the standard tables: 8 vs 8 -> 13, 10 vs 10 -> 23.
    for n, crit in ((8, 13), (10, 23)):
        counts, total = stats._u_counts(n, n), math.comb(2 * n, n)
        assert sum(counts) == total and counts == counts[::-1]
        assert 2 * sum(counts[:crit + 1]) / total <= 0.05 < 2 * sum(counts[:crit + 2]) / total


def test_exact_counts_match_enumeration():
    for m, n in ((1, 1), (2, 3), (3, 4), (4, 4)):
        pooled = range(m + n)
        brute = [0] * (m * n + 1)
        for idx in combinations(pooled, m):
            brute[sum(x > y for x in idx for y in pooled if y not in idx)] += 1
        assert list(stats._u_counts(m, n)) == brute


@pytest.mark.parametrize("a,b,p", [  # scipy permutation_test: the exact conditional distribution
    ([1, 1, 1], [2, 2, 2], 0.1),  # the normal approximation says 0.047
    ([0, 0, 1, 0, 2], [3, 5, 4, 6, 2], 0.015873015873015872),
    ([1, 2, 2, 3], [2, 3, 3, 4, 5], 0.15873015873015872),  # the normal approximation says 0.099
    ([0, 0, 0, 1], [0, 1, 1, 1, 2, 2], 0.1619047619047619),
])
def test_exact_p_values_with_ties(a, b, p):
    assert mann_whitney_u(a, b) == pytest.approx(p, rel=1e-12)


def test_exact_p_matches_brute_force_on_random_samples():
    rng = random.Random(5)
    for _ in range(60):
        m, n = rng.randint(1, 6), rng.randint(1, 6)
        a = [rng.randrange(6) for _ in range(m)]  # few values: ties are common
        b = [rng.randrange(6) + rng.choice((0, 0.5)) for _ in range(n)]
        assert mann_whitney_u(a, b) == pytest.approx(brute_p(a, b), rel=1e-12), (a, b)


def test_ties_never_go_below_the_untied_smallest_p():
    rng = random.Random(6)
    for _ in range(300):
        m, n = rng.randint(2, 5), rng.randint(2, 5)
        values = [rng.randrange(3) for _ in range(m + n)]
        assert mann_whitney_u(values[:m], values[m:]) >= smallest_p(m, n) - 1e-15


@pytest.mark.parametrize("a,b,p", [  # scipy, method="asymptotic" (tie and continuity correction)
    ([float(i) for i in range(21)], [i + 0.5 for i in range(15, 36)], 2.5103596698533647e-07),
    ([0, 0, 1, 2, 2, 2, 3, 5, 5, 8, 8, 9, 10, 10, 11, 12], [2, 3, 5, 5, 6, 8, 9, 10, 11, 12, 12, 13, 14, 15],
     0.031594136137922224),
    ([3, 5, 5, 7, 8, 8, 8, 10, 12, 12, 13, 15, 16, 18, 18, 20, 21, 22, 22, 25, 26, 27, 30],
     [6, 8, 9, 10, 12, 14, 15, 15, 17, 19, 20, 22, 23, 24, 25, 26, 28, 29, 30, 31, 33, 34, 35, 36, 40],
     0.011743220336383652),
    ([float(i) for i in range(30)], [i + 0.5 for i in range(18, 48)], 1.4294165868692731e-08),
])
def test_normal_approximation(a, b, p):
    assert mann_whitney_u(a, b) == pytest.approx(p, rel=1e-9)


def test_normal_approximation_is_close_to_exact_at_the_switch():
    a, b = list(range(20)), [i + 0.5 for i in range(8, 28)]
    counts = stats._u_counts(20, 20)
    u = sum(x > y for x in a for y in b)
    exact = 2 * sum(counts[:u + 1]) / sum(counts)
    assert mann_whitney_u(a, b) == pytest.approx(exact, rel=1e-12)
    big = a + [100.0]  # 21 values: past the exact limit
    assert abs(mann_whitney_u(big, b) - exact) < 0.01


@pytest.mark.parametrize("a,b", [([5], [5]), ([1, 2, 3], [1, 2, 3]), ([4.0] * 30, [4.0] * 30),
                                 (list(range(40)), list(range(40))), ([2, 2], [2, 2, 2])])
def test_identical_samples_give_p_1(a, b):
    assert mann_whitney_u(a, b) == 1.0


def test_mann_whitney_needs_both_sides():
    with pytest.raises(ValueError):
        mann_whitney_u([], [1])


# -- significant

def test_significant_separated_five_runs_each():
    assert significant([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == (True, pytest.approx(2 / 252), "")


def test_significant_needs_two_runs_a_side():
    assert significant([1], [100, 200]) == (False, None, stats.TOO_FEW)
    assert significant([], []) == (False, None, stats.TOO_FEW)


def test_two_runs_a_side_can_never_be_significant():
    sig, p, reason = significant([1, 2], [100, 200])
    assert (sig, reason) == (False, stats.UNDERPOWERED) and p == pytest.approx(1 / 3)


def test_significant_overlap():
    sig, p, reason = significant([10, 12, 11, 13, 12.5], [11.5, 12.2, 10.5, 13.1, 12.8])
    assert not sig and p > 0.5 and reason == ""


def test_smallest_p_and_runs_needed():
    assert smallest_p(2, 2) == pytest.approx(1 / 3)
    assert smallest_p(1, 1) == 1.0
    assert smallest_p(4, 4) == pytest.approx(2 / 70)
    assert stats.runs_needed(0.05) == 4 and stats.runs_needed(0.01) == 5


# -- headline

METRICS = {
    "tasks": 20, "workers": 2, "inversions": 3, "inverted_starts": 2, "kendall_tau_distance": 0.05,
    "kendall_tau_discordant": 9, "throughput_per_s": 30.1, "makespan_ms": 664.0, "starvation_ms": 638.0,
    "classes": {
        "hi": {"priority": 5, "count": 10, "throughput_per_s": 22.5,
               "wait_ms": {"p50": 324.0, "p90": 400.0, "p99": 418.0, "max": 420.0, "mean": 330.0},
               "service_ms": {"p50": 10.0, "p90": 11.0, "p99": 12.0, "max": 12.0, "mean": 10.0}},
        "lo": {"priority": 0, "count": 10, "throughput_per_s": 15,
               "wait_ms": {"p50": 500.0, "p90": 600.0, "p99": 630.0, "max": 638.0, "mean": 510.0}},
    },
}


def test_headline_flattens():
    assert headline(METRICS) == {
        "inversions": 3.0, "inverted_starts": 2.0, "kendall_tau_distance": 0.05, "throughput_per_s": 30.1,
        "starvation_ms": 638.0, "hi.wait_p50_ms": 324.0, "hi.wait_p99_ms": 418.0, "hi.throughput_per_s": 22.5,
        "lo.wait_p50_ms": 500.0, "lo.wait_p99_ms": 630.0, "lo.throughput_per_s": 15.0}
    assert list(headline(METRICS))[:5] == list(stats.RUN_METRICS)


def test_headline_skips_missing_and_non_numbers():
    m = {"inversions": None, "throughput_per_s": True, "starvation_ms": float("nan"),
         "kendall_tau_distance": 0,
         "classes": {"x": {"wait_ms": None, "throughput_per_s": 2}}}
    assert headline(m) == {"kendall_tau_distance": 0.0, "x.throughput_per_s": 2.0}
    assert headline(None) == {} == headline({})


def test_headline_of_real_metrics():
    from bench.metrics import analyze
    from bench.records import TaskRecord
    ms = 1_000_000
    records = [TaskRecord(i, "hi" if i % 2 else "lo", 5 if i % 2 else 0, 0, i * 10 * ms,
                          (i + 1) * 10 * ms, "w0")
               for i in range(6)]
    h = headline(analyze(records, 1).to_dict())
    per_class = {f"{c}.{k}" for c in ("hi", "lo") for k, _ in stats.CLASS_METRICS}
    assert set(h) == set(stats.RUN_METRICS) | per_class
    assert h["hi.wait_p50_ms"] == statistics.median([10.0, 30.0, 50.0])
