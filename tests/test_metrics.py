"""Metric definitions pinned on hand-built traces, plus brute-force references and events.csv I/O."""

import random

import pytest

from bench.errors import EventsError
from bench.metrics import (Stats, _discordant, analyze, count_inversions, kendall_tau, percentile,
                           start_order, stats_ms)
from bench.records import EVENTS_HEADER, TaskRecord, read_events, write_events

MS = 1_000_000


def rec(seq, priority, enqueue_ns, start_ns, end_ns, cls=None, worker="w0"):
    return TaskRecord(seq, cls or ("hi" if priority > 0 else "lo"), priority, enqueue_ns, start_ns, end_ns, worker)


def brute_inversions(records):
    """The definition, O(n^2)."""
    pairs = starts = 0
    for t in records:
        c = sum(1 for u in records if u.enqueue_ns <= t.start_ns < u.start_ns and u.priority > t.priority)
        pairs += c
        starts += c > 0
    return pairs, starts


def brute_kendall(order_a, order_b):
    pos = {s: i for i, s in enumerate(order_b)}
    n = len(order_a)
    d = sum(1 for i in range(n) for j in range(i + 1, n) if pos[order_a[i]] > pos[order_a[j]])
    return d, d / (n * (n - 1) / 2) if n > 1 else 0.0


def random_trace(rng, n):
    """Small time range so ties (same enqueue, same start, enqueue == start) are common."""
    out = []
    for seq in rng.sample(range(10 * n), n):
        enq = rng.randrange(0, 2 * n)
        start = enq + rng.randrange(-2, 12)
        p = rng.choice((0, 1, 1, 4, 7, 7))
        out.append(rec(seq, p, enq, start, start + rng.randrange(0, 5), cls=f"c{p}"))
    return out


def fifo_2lo_2hi():
    """1 worker, everything prefilled at 0, served FIFO: lo0 lo1 hi0 hi1, 10 ms each."""
    return [rec(0, 0, 0, 0, 10 * MS), rec(1, 0, 0, 10 * MS, 20 * MS),
            rec(2, 9, 0, 20 * MS, 30 * MS), rec(3, 9, 0, 30 * MS, 40 * MS)]


# --- percentiles and stats -------------------------------------------------------------------------

def test_percentile_linear_between_closest_ranks():
    v = list(range(1, 101))
    assert percentile(v, 50) == pytest.approx(50.5)
    assert percentile(v, 90) == pytest.approx(90.1)
    assert percentile(v, 99) == pytest.approx(99.01)
    assert percentile(v, 0) == 1 and percentile(v, 100) == 100
    assert percentile([1, 2, 3, 4], 25) == pytest.approx(1.75)  # numpy.percentile([1,2,3,4], 25)
    assert all(percentile([7], q) == 7 for q in (0, 50, 99, 100))


def test_percentile_errors():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)
    with pytest.raises(ValueError):
        percentile([1], -1)


def test_stats_ms():
    s = stats_ms(i * MS for i in range(100, 0, -1))  # unsorted input, any iterable
    assert s.p50 == pytest.approx(50.5) and s.p90 == pytest.approx(90.1) and s.p99 == pytest.approx(99.01)
    assert s.max == 100.0 and s.mean == 50.5
    assert stats_ms([3 * MS]) == Stats(3.0, 3.0, 3.0, 3.0, 3.0)
    assert stats_ms([1, 2]).to_dict() == pytest.approx({"p50": 1.5e-6, "p90": 1.9e-6, "p99": 1.99e-6,
                                                        "max": 2e-6, "mean": 1.5e-6})
    with pytest.raises(ValueError):
        stats_ms([])


# --- start order and inversions -------------------------------------------------------------------

def test_start_order_ties_by_seq():
    recs = [rec(5, 0, 0, 10, 11), rec(3, 0, 0, 10, 12), rec(4, 0, 0, 2, 3)]
    assert start_order(recs) == [4, 3, 5]


def test_seed_demo_has_no_inversions_and_matches_the_oracle():
    # lo0 runs first; hi0..9 arrive while it runs; lo1..9 arrive after; 1 worker, 10 ns each
    recs = [rec(0, 0, 0, 0, 10, cls="lo")]
    recs += [rec(1 + k, 9, 1 + k, 10 + 10 * k, 20 + 10 * k, cls="hi") for k in range(10)]
    recs += [rec(11 + k, 0, 11 + k, 110 + 10 * k, 120 + 10 * k, cls="lo") for k in range(9)]
    assert count_inversions(recs) == (0, 0)
    m = analyze(recs, 1)
    assert m.start_order == (0, *range(1, 11), *range(11, 20)) == m.oracle_order
    assert (m.inversions, m.kendall_tau_discordant, m.kendall_tau_distance) == (0, 0, 0.0)


def test_fifo_prefilled_counts_each_waiting_higher_task():
    # lo0 starts with hi0, hi1 waiting (2 pairs), lo1 too (2 more); hi0 has only hi1 waiting (same priority)
    assert count_inversions(fifo_2lo_2hi()) == (4, 2)


def test_tasks_starting_at_the_same_instant_are_not_waiting():
    # 2 workers take lo and hi at the same instant: no inversion, in either listing order
    recs = [rec(0, 0, 0, 5, 9), rec(1, 9, 0, 5, 9)]
    assert count_inversions(recs) == (0, 0)
    assert count_inversions(recs[::-1]) == (0, 0)


def test_enqueued_exactly_at_a_start_is_waiting():
    recs = [rec(0, 0, 0, 10, 20), rec(1, 9, 10, 20, 30)]
    assert count_inversions(recs) == (1, 1)


def test_started_at_its_enqueue_or_before_never_waits():
    # seq 1 starts the instant it is enqueued; seq 2's start precedes its enqueue (clock skew)
    recs = [rec(0, 0, 0, 10, 20), rec(1, 9, 10, 10, 30), rec(2, 9, 15, 5, 6)]
    assert count_inversions(recs) == (0, 0)


def test_lower_priority_waiting_is_not_an_inversion():
    recs = [rec(0, 9, 0, 0, 10), rec(1, 0, 0, 10, 20), rec(2, 5, 0, 20, 30)]
    assert count_inversions(recs) == (1, 1)  # only lo (seq 1) starting while 5 waits
    assert count_inversions([]) == (0, 0)


@pytest.mark.parametrize("seed", range(300))
def test_inversions_match_brute_force(seed):
    rng = random.Random(seed)
    recs = random_trace(rng, rng.randrange(1, 60))
    assert count_inversions(recs) == brute_inversions(recs)


# --- Kendall tau ----------------------------------------------------------------------------------

def test_kendall_tau_small_permutations():
    assert kendall_tau([1, 2, 3], [1, 2, 3]) == (0, 0.0)
    assert kendall_tau([1, 3, 2], [1, 2, 3]) == (1, pytest.approx(1 / 3))
    for n in (2, 5, 100, 3000):
        assert kendall_tau(list(range(n)), list(range(n))[::-1]) == (n * (n - 1) // 2, 1.0)
    assert kendall_tau([], []) == (0, 0.0) and kendall_tau(["a"], ["a"]) == (0, 0.0)


def test_kendall_tau_needs_the_same_items():
    for a, b in (([1, 2], [1, 3]), ([1, 2], [1, 2, 3]), ([1, 1, 2], [1, 2, 3]), ([1, 2, 3], [1, 1, 2])):
        with pytest.raises(ValueError):
            kendall_tau(a, b)


def test_kendall_tau_large_nearly_sorted():
    # 50 disjoint adjacent swaps spread over several merge blocks: exactly 50 discordant pairs
    n = 5000
    b = list(range(n))
    for i in range(0, n, 100):
        b[i], b[i + 1] = b[i + 1], b[i]
    assert kendall_tau(list(range(n)), b) == (50, 50 / (n * (n - 1) / 2))


@pytest.mark.parametrize("seed", range(300))
def test_kendall_tau_matches_brute_force(seed):
    rng = random.Random(seed)
    n = rng.randrange(0, 120)
    a = rng.sample(range(5 * n), n)
    b = list(a)
    if seed % 2:
        rng.shuffle(b)
    else:  # nearly sorted, the common case
        for _ in range(rng.randrange(0, 10)):
            i, j = rng.randrange(n), rng.randrange(n)
            b[i], b[j] = b[j], b[i]
    expected = brute_kendall(a, b)
    assert kendall_tau(a, b) == expected
    assert kendall_tau(b, a)[0] == expected[0]
    pos = {s: i for i, s in enumerate(b)}
    for block in (1, 2, 3, 7, 16):  # small blocks exercise many merge levels
        assert _discordant([pos[s] for s in a], block) == expected[0]


# --- analyze ----------------------------------------------------------------------------------------

def test_analyze_fifo_trace_by_hand():
    m = analyze(fifo_2lo_2hi(), workers=1)
    assert m.oracle_order == (2, 3, 0, 1) and m.start_order == (0, 1, 2, 3)
    d = m.to_dict()
    assert set(d) == {"tasks", "workers", "inversions", "inverted_starts", "kendall_tau_distance",
                      "kendall_tau_discordant", "throughput_per_s", "makespan_ms", "starvation_ms", "classes"}
    assert {k: v for k, v in d.items() if k != "classes"} == {
        "tasks": 4, "workers": 1, "inversions": 4, "inverted_starts": 2, "kendall_tau_discordant": 4,
        "kendall_tau_distance": pytest.approx(4 / 6), "throughput_per_s": pytest.approx(100.0),
        "makespan_ms": 40.0, "starvation_ms": 10.0}
    assert list(d["classes"]) == ["hi", "lo"]  # priority descending
    hi, lo = d["classes"]["hi"], d["classes"]["lo"]
    assert set(hi) == {"priority", "count", "throughput_per_s", "wait_ms", "service_ms", "sojourn_ms",
                       "oracle_wait_ms", "excess_wait_ms"}
    assert (hi["priority"], hi["count"], lo["priority"], lo["count"]) == (9, 2, 0, 2)
    assert hi["throughput_per_s"] == pytest.approx(50.0)  # 2 tasks over 0..40 ms
    assert lo["throughput_per_s"] == pytest.approx(100.0)  # 2 tasks over 0..20 ms
    approx = lambda *v: dict(zip(("p50", "p90", "p99", "max", "mean"), map(pytest.approx, v)))  # noqa: E731
    assert hi["wait_ms"] == approx(25, 29, 29.9, 30, 25)
    assert hi["oracle_wait_ms"] == approx(5, 9, 9.9, 10, 5)
    assert hi["excess_wait_ms"] == approx(20, 20, 20, 20, 20)
    assert lo["excess_wait_ms"] == approx(-20, -20, -20, -20, -20)
    assert hi["service_ms"] == approx(10, 10, 10, 10, 10)
    assert hi["sojourn_ms"] == approx(35, 39, 39.9, 40, 35)
    c = m.classes[0]
    assert c.excess_wait == Stats(*(a - b for a, b in zip(c.wait.to_dict().values(), c.oracle_wait.to_dict().values())))


def test_analyze_multi_worker_unavoidable_wait_is_not_excess():
    # 2 workers busy with long lo tasks; hi arrives at 10 ms and can only start at 100 ms
    recs = [rec(0, 0, 0, 0, 100 * MS), rec(1, 0, 0, 0, 100 * MS, worker="w1"), rec(2, 9, 10 * MS, 100 * MS, 105 * MS)]
    m = analyze(recs, workers=2)
    hi = m.classes[0]
    assert (hi.name, hi.wait.max, hi.oracle_wait.max, hi.excess_wait.max) == ("hi", 90.0, 90.0, 0.0)
    assert (m.inversions, m.kendall_tau_discordant, m.starvation_ms) == (0, 0, 0.0)


def test_analyze_starvation_is_worst_wait_of_lowest_priority_and_classes_sort_by_name_on_ties():
    recs = [rec(0, 5, 0, 0, 1, cls="b"), rec(1, 5, 0, 1, 2, cls="a"), rec(2, -1, 0, 2 * MS, 3 * MS, cls="z"),
            rec(3, -1, 0, 7 * MS, 8 * MS, cls="y")]
    m = analyze(recs, 1)
    assert [c.name for c in m.classes] == ["a", "b", "y", "z"]
    assert m.starvation_ms == 7.0


def test_analyze_zero_span_class_has_zero_throughput():
    m = analyze([rec(0, 0, 5, 5, 5)], 1)
    assert m.throughput_per_s == 0.0 and m.classes[0].throughput_per_s == 0.0 and m.makespan_ms == 0.0


def test_analyze_errors():
    with pytest.raises(ValueError, match="no records"):
        analyze([], 1)
    with pytest.raises(ValueError):
        analyze(fifo_2lo_2hi(), 0)
    with pytest.raises(ValueError, match="'lo'"):
        analyze([rec(0, 0, 0, 0, 1, cls="lo"), rec(1, 3, 0, 1, 2, cls="lo")], 1)


@pytest.mark.parametrize("seed", range(50))
def test_analyze_random_traces_are_consistent(seed):
    rng = random.Random(seed)
    recs = random_trace(rng, rng.randrange(1, 80))
    m = analyze(recs, workers=rng.randrange(1, 4))
    assert (m.inversions, m.inverted_starts) == brute_inversions(recs)
    assert (m.kendall_tau_discordant, m.kendall_tau_distance) == brute_kendall(m.start_order, m.oracle_order)
    assert sum(c.count for c in m.classes) == m.tasks == len(recs)


def test_200k_records_run():
    rng = random.Random(42)
    recs, t, free = [], 0, [0] * 4
    for seq in range(200_000):
        t += rng.randrange(0, 2000)
        w = rng.randrange(4)
        start = max(t, free[w]) + rng.randrange(0, 50_000)
        free[w] = end = start + rng.randrange(1000, 9000)
        p = rng.choice((0, 3, 6, 9))
        recs.append(TaskRecord(seq, f"c{p}", p, t, start, end, f"w{w}"))
    count_inversions(recs)
    assert analyze(recs, workers=4).tasks == 200_000


# --- events.csv -------------------------------------------------------------------------------------

def test_events_round_trip(tmp_path):
    recs = [rec(2, 9, 1, 5, 9, cls="hi, \"quoted\""), rec(0, 0, -3, 10**18, 10**18 + 1, worker="host:1,w"),
            rec(1, -2, 0, 0, 0, cls="lo")]
    write_events(tmp_path / "events.csv", recs)
    assert read_events(tmp_path / "events.csv") == sorted(recs, key=lambda r: r.seq)


def write(tmp_path, text):
    p = tmp_path / "events.csv"
    p.write_text(text)
    return p


HEADER = ",".join(EVENTS_HEADER) + "\n"


@pytest.mark.parametrize("body, message", [
    ("seq,class,priority\n0,lo,0\n", ":1: header"),
    (HEADER + "0,lo,0,1,2,3,w\n1,lo,x,1,2,3,w\n", ":3: priority is not an integer: 'x'"),
    (HEADER + "0,lo,0,1,2.5,3,w\n", ":2: start_ns is not an integer"),
    (HEADER + "0,lo,0,1,2,3,w\n0,lo,0,1,2,3,w\n", ":3: duplicate seq 0 (first on line 2)"),
    (HEADER + "0,lo,0,1,2,3\n", ":2: expected 7 fields, got 6"),
    (HEADER + "0,lo,0,1,5,3,w\n", ":2: end_ns 3 is before start_ns 5"),
    (HEADER + "0,,0,1,2,3,w\n", ":2: class is empty"),
    ("", ": no events"),
    (HEADER, ": no events"),
])
def test_read_events_errors(tmp_path, body, message):
    p = write(tmp_path, body)
    with pytest.raises(EventsError) as e:
        read_events(p)
    assert str(e.value).startswith(str(p)) and message in str(e.value)
    assert e.value.exit_code == 2


def test_read_events_missing_file(tmp_path):
    with pytest.raises(EventsError, match="no such file"):
        read_events(tmp_path / "nope.csv")
