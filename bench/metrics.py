"""Priority metrics over executed-task records: percentiles, inversions, Kendall tau, per-class stats.

Pure functions over TaskRecord lists: no I/O. Times are ns on input and ms (floats) in Stats.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from itertools import chain, compress, count, repeat
from operator import and_, attrgetter, lshift, lt, or_, sub
from typing import Optional

from bench import oracle

NS_PER_MS = 1e6
NS_PER_S = 1e9
_STAT_FIELDS = ("p50", "p90", "p99", "max", "mean")


@dataclass(frozen=True)
class Stats:
    """Summary of one distribution, in milliseconds."""

    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    def to_dict(self):
        return {k: getattr(self, k) for k in _STAT_FIELDS}

    def minus(self, other):
        """Field-wise difference (self - other)."""
        return Stats(*(getattr(self, k) - getattr(other, k) for k in _STAT_FIELDS))


def percentile(sorted_values, q):
    """Percentile of ascending values, linear between closest ranks (numpy 'linear', R type 7)."""
    n = len(sorted_values)
    if not n:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    h = (n - 1) * q / 100
    lo = int(h)
    if lo >= n - 1:
        return float(sorted_values[-1])
    a, b, t = sorted_values[lo], sorted_values[lo + 1], h - lo
    # numpy's lerp form: exact at both ends and monotone in t
    return float(b - (b - a) * (1 - t)) if t >= 0.5 else float(a + (b - a) * t)


def stats_ms(values_ns):
    """Stats (ms) of ns values."""
    v = list(values_ns)
    if not v:
        raise ValueError("stats of no values")
    mean_ns = sum(v) / len(v)  # exact int sum, one rounding
    # Floats sort much faster than multi-digit ints and hold ns exactly below 2**53 (104 days).
    v = sorted(map(float, v)) if max(map(abs, v)) < 2 ** 53 else sorted(v)
    p = [percentile(v, q) / NS_PER_MS for q in (50, 90, 99)]
    return Stats(p[0], p[1], p[2], v[-1] / NS_PER_MS, mean_ns / NS_PER_MS)


def _start_order(seq, start_ns):
    """Indices sorted by (start_ns, seq), via two stable C-keyed sorts."""
    idx = sorted(range(len(seq)), key=seq.__getitem__)
    idx.sort(key=start_ns.__getitem__)
    return idx


def _column(records, name):
    return list(map(attrgetter(name), records))


def start_order(records):
    """Seqs in observed start order, ties by seq."""
    records = list(records)
    seq = _column(records, "seq")
    return list(map(seq.__getitem__, _start_order(seq, _column(records, "start_ns"))))


def _inversions(enq_ns, start_ns, priority, by_start=None):
    """Sweep over start instants with a Fenwick tree counting waiting tasks per priority rank.

    O(n log n) for the sorts (near-linear: records usually arrive roughly in start order) plus
    O(n log P) for the sweep, P = number of distinct priorities.
    """
    levels = sorted(set(priority), reverse=True)
    size = len(levels)
    rank_of = {p: r for r, p in enumerate(levels, 1)}  # rank 1 = highest priority
    rank = list(map(rank_of.__getitem__, priority))
    n = len(rank)
    if by_start is None:  # indices in start order; ties in any order
        by_start = sorted(range(n), key=start_ns.__getitem__)
    # Only tasks with enqueue < start are ever waiting at a start instant: they join the waiting set at
    # enqueue and leave it at start.
    waits = list(map(lt, enq_ns, start_ns))
    joins = sorted(compress(range(n), waits), key=enq_ns.__getitem__)
    leaves = list(compress(by_start, map(waits.__getitem__, by_start)))
    sentinel = [max(start_ns) + 1]  # never reached, so the admit loops need no bound checks
    join_ns = list(map(enq_ns.__getitem__, joins)) + sentinel
    join_rank = list(map(rank.__getitem__, joins))
    leave_ns = list(map(start_ns.__getitem__, leaves)) + sentinel
    leave_rank = list(map(rank.__getitem__, leaves))
    tree = [0] * (size + 1)
    inversions = inverted = j = m = 0
    for t, r in zip(map(start_ns.__getitem__, by_start), map(rank.__getitem__, by_start)):
        while join_ns[j] <= t:  # U waits from enqueue_ns <= t ...
            k = join_rank[j]
            j += 1
            while k <= size:
                tree[k] += 1
                k += k & -k
        while leave_ns[m] <= t:  # ... until start_ns <= t, which includes everything starting at t
            k = leave_rank[m]
            m += 1
            while k <= size:
                tree[k] -= 1
                k += k & -k
        r -= 1
        c = 0
        while r:
            c += tree[r]
            r &= r - 1
        if c:
            inversions += c
            inverted += 1
    return inversions, inverted


def count_inversions(records):
    """(inversion pairs, starts with at least one) where a waiting task had higher priority than the starter."""
    records = list(records)
    if not records:
        return 0, 0
    return _inversions(_column(records, "enqueue_ns"), _column(records, "start_ns"),
                       _column(records, "priority"))


def _discordant(perm, block=1024):
    """Inversions of a sequence of distinct ints: insertion-sorted blocks, then pairwise merges.

    Merges run in C (Timsort merging two runs, tag bits to count the crossing pairs), and block pairs
    that do not overlap cost O(1): O(n log n) overall and near-linear for nearly sorted input.
    """
    inv = 0
    blocks = []
    shift = max(-(-len(perm) // block) - 1, 0).bit_length()  # one tag bit per merge level
    for lo in range(0, len(perm), block):
        run = []
        for x in perm[lo:lo + block]:
            k = bisect_right(run, x)
            inv += len(run) - k
            run.insert(k, x)
        blocks.append(list(map(lshift, run, repeat(shift))))
    bit = 1
    while len(blocks) > 1:
        merged = []
        for b in range(0, len(blocks) - 1, 2):
            left, right = blocks[b], blocks[b + 1]
            if left[-1] > right[0]:  # values are distinct, so tags never decide a comparison here
                i, j = bisect_right(left, right[0]), bisect_left(right, left[-1])
                nl, nr = len(left) - i, j
                m = sorted(chain(left[i:], map(or_, right[:j], repeat(bit))))
                # each right element at merged position p has p - (its index) left elements before it
                inv += nl * nr - sum(compress(count(), map(and_, m, repeat(bit)))) + nr * (nr - 1) // 2
                del left[i:]
                left += m
                left += right[j:]
            else:
                left += right
            merged.append(left)
        if len(blocks) % 2:
            merged.append(blocks[-1])
        blocks = merged
        bit <<= 1
    return inv


def kendall_tau(order_a, order_b):
    """(discordant pairs, normalized distance in [0, 1]) between two orders of the same items."""
    pos_b = {s: i for i, s in enumerate(order_b)}
    n = len(order_b)
    try:
        perm = list(map(pos_b.__getitem__, order_a))
    except KeyError as e:
        raise ValueError(f"orders differ: {e.args[0]!r} is only in the first") from None
    if len(pos_b) != n or len(perm) != n or len(set(perm)) != n:
        raise ValueError("orders are not permutations of the same items")
    d = _discordant(perm)
    return d, (d / (n * (n - 1) / 2) if n >= 2 else 0.0)


@dataclass(frozen=True)
class ClassMetrics:
    """Metrics of one priority class."""

    name: str
    priority: int
    count: int
    wait: Stats
    service: Stats
    sojourn: Stats
    oracle_wait: Stats
    excess_wait: Stats
    throughput_per_s: float

    def to_dict(self):
        return {"priority": self.priority, "count": self.count, "throughput_per_s": self.throughput_per_s,
                "wait_ms": self.wait.to_dict(), "service_ms": self.service.to_dict(),
                "sojourn_ms": self.sojourn.to_dict(), "oracle_wait_ms": self.oracle_wait.to_dict(),
                "excess_wait_ms": self.excess_wait.to_dict()}


@dataclass(frozen=True)
class Metrics:
    """Run-level metrics; the (big) start and oracle orders are attributes only, not in to_dict."""

    tasks: int
    workers: int
    inversions: int
    inverted_starts: int
    kendall_tau_discordant: int
    kendall_tau_distance: float
    throughput_per_s: float
    makespan_ms: float
    starvation_ms: float
    start_order: tuple = field(repr=False)
    oracle_order: tuple = field(repr=False)
    classes: tuple = ()
    producer_lag: Optional[Stats] = None  # open loop: actual minus intended enqueue time

    def to_dict(self):
        lag = {"producer_lag_ms": self.producer_lag.to_dict()} if self.producer_lag else {}
        return {**lag, "tasks": self.tasks, "workers": self.workers, "inversions": self.inversions,
                "inverted_starts": self.inverted_starts, "kendall_tau_distance": self.kendall_tau_distance,
                "kendall_tau_discordant": self.kendall_tau_discordant, "throughput_per_s": self.throughput_per_s,
                "makespan_ms": self.makespan_ms, "starvation_ms": self.starvation_ms,
                "classes": {c.name: c.to_dict() for c in self.classes}}


def _per_s(count_, span_ns):
    return count_ / (span_ns / NS_PER_S) if span_ns > 0 else 0.0


def analyze(records, workers, available_ns=None):
    """All metrics of one run, against an ideal scheduler with the given number of workers."""
    records = list(records)
    if not records:
        raise ValueError("no records to analyze")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    names = _column(records, "cls")
    priority = _column(records, "priority")
    priority_of = {}
    for name, p in set(zip(names, priority)):
        if priority_of.setdefault(name, p) != p:
            raise ValueError(f"class {name!r} has two priorities: {min(p, priority_of[name])} and "
                             f"{max(p, priority_of[name])}")
    seq = _column(records, "seq")
    enq_ns = _column(records, "enqueue_ns")
    arrival_ns = _column(records, "arrival_ns")  # = enq_ns unless the run was open loop
    start_ns = _column(records, "start_ns")
    end_ns = _column(records, "end_ns")
    n = len(records)

    by_start = _start_order(seq, start_ns)
    inversions, inverted = _inversions(enq_ns, start_ns, priority, by_start)
    sched = oracle.schedule_columns(seq, priority, enq_ns, start_ns, end_ns, workers, available_ns)
    observed = tuple(map(seq.__getitem__, by_start))
    discordant, distance = kendall_tau(observed, sched.order)

    # Latency counts from arrival (the intended time in open loop: coordinated omission);
    # inversions and the oracle use the actual enqueue, when the queue could see the task.
    wait_ns = list(map(sub, start_ns, arrival_ns))
    service_ns = list(map(sub, end_ns, start_ns))
    sojourn_ns = list(map(sub, end_ns, arrival_ns))
    oracle_wait_ns = list(map(sub, map(sched.start_ns.__getitem__, seq), arrival_ns))
    by_class = sorted(range(n), key=names.__getitem__)  # each class becomes one contiguous slice
    sorted_names = list(map(names.__getitem__, by_class))
    classes = []
    for name in sorted(priority_of, key=lambda c: (-priority_of[c], c)):
        idx = by_class[bisect_left(sorted_names, name):bisect_right(sorted_names, name)]
        wait = stats_ms(map(wait_ns.__getitem__, idx))
        oracle_wait = stats_ms(map(oracle_wait_ns.__getitem__, idx))
        span_ns = max(map(end_ns.__getitem__, idx)) - min(map(arrival_ns.__getitem__, idx))
        classes.append(ClassMetrics(
            name, priority_of[name], len(idx), wait,
            stats_ms(map(service_ns.__getitem__, idx)), stats_ms(map(sojourn_ns.__getitem__, idx)),
            oracle_wait, wait.minus(oracle_wait), _per_s(len(idx), span_ns)))

    lowest = min(priority_of.values())
    span_ns = max(end_ns) - min(arrival_ns)
    open_loop = any(r.intended_ns is not None for r in records)
    return Metrics(
        tasks=n, workers=workers, inversions=inversions, inverted_starts=inverted,
        kendall_tau_discordant=discordant, kendall_tau_distance=distance,
        throughput_per_s=_per_s(n, span_ns), makespan_ms=span_ns / NS_PER_MS,
        starvation_ms=max(c.wait.max for c in classes if c.priority == lowest),
        start_order=observed, oracle_order=sched.order, classes=tuple(classes),
        producer_lag=stats_ms(map(sub, enq_ns, arrival_ns)) if open_loop else None)
