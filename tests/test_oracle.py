"""The ideal scheduler: hand-built traces and a brute-force reference."""

import random

import pytest

from bench.metrics import count_inversions
from bench.oracle import OracleSchedule, schedule
from bench.records import TaskRecord


def rec(seq, priority, enqueue_ns, start_ns, end_ns, cls=None):
    return TaskRecord(seq, cls or f"p{priority}", priority, enqueue_ns, start_ns, end_ns, "w0")


def brute_schedule(records, workers, available_ns=None):
    """Direct transcription of the definition, O(n^2)."""
    pending = list(records)
    free_ns = [min(r.start_ns for r in records) if available_ns is None else available_ns] * workers
    order, start_ns = [], {}
    while pending:
        w = min(range(workers), key=free_ns.__getitem__)
        f = free_ns[w]
        if not any(r.enqueue_ns <= f for r in pending):
            f = min(r.enqueue_ns for r in pending)
        r = min((r for r in pending if r.enqueue_ns <= f), key=lambda r: (-r.priority, r.enqueue_ns, r.seq))
        pending.remove(r)
        order.append(r.seq)
        start_ns[r.seq] = f
        free_ns[w] = f + r.service_ns
    return OracleSchedule(tuple(order), start_ns)


def random_trace(rng, n):
    """Small time range so ties in enqueue, start and free times are common."""
    out = []
    for seq in rng.sample(range(10 * n), n):
        enq = rng.randrange(0, 3 * n)
        start = enq + rng.randrange(-2, 20)  # a few negative waits: clocks of different hosts
        out.append(rec(seq, rng.choice((0, 1, 1, 5, 9)), enq, start, start + rng.randrange(0, 6)))
    return out


def test_workers_must_be_positive():
    with pytest.raises(ValueError):
        schedule([rec(0, 0, 0, 0, 1)], 0)


def test_empty():
    assert schedule([], 2) == OracleSchedule((), {})


def test_prefilled_single_worker_is_priority_then_fifo():
    # all enqueued before the first start, observed FIFO; seqs 3 and 4 tie on enqueue_ns, listed out of order
    recs = [rec(0, 0, 0, 5, 15), rec(1, 0, 0, 15, 25), rec(4, 5, 1, 35, 40), rec(3, 5, 1, 25, 35),
            rec(2, 9, 2, 40, 41), rec(5, 5, 0, 41, 42)]
    s = schedule(recs, 1)
    assert s.order == (2, 5, 3, 4, 0, 1)  # within priority 5: enqueue_ns first, then seq
    assert s.start_ns == {2: 5, 5: 6, 3: 7, 4: 17, 0: 22, 1: 32}


def test_default_available_is_first_observed_start():
    recs = [rec(0, 0, 0, 100, 110), rec(1, 1, 5, 110, 120)]
    assert schedule(recs, 1).start_ns == {1: 100, 0: 110}
    assert schedule(recs, 1, available_ns=0).start_ns == {0: 0, 1: 10}


def test_idle_gap_waits_for_next_arrival():
    recs = [rec(0, 0, 0, 0, 10), rec(1, 9, 50, 50, 52), rec(2, 0, 51, 52, 60)]
    s = schedule(recs, 1)
    assert s.order == (0, 1, 2) and s.start_ns == {0: 0, 1: 50, 2: 52}


def test_worker_freed_during_another_workers_idle_wait_cannot_start_early():
    # worker A frees at 10 and waits for the arrivals at 20; worker B frees at 12 and must wait too
    recs = [rec(0, 0, 0, 0, 10), rec(1, 0, 0, 0, 12), rec(2, 9, 20, 20, 25), rec(3, 0, 20, 20, 25)]
    s = schedule(recs, 2)
    assert s.order == (0, 1, 2, 3) and s.start_ns == {0: 0, 1: 0, 2: 20, 3: 20}


def test_arrival_at_the_free_instant_is_eligible():
    recs = [rec(0, 0, 0, 0, 10), rec(1, 0, 5, 10, 20), rec(2, 9, 10, 20, 30)]
    assert schedule(recs, 1).order == (0, 2, 1)


def test_two_workers_long_low_tasks_block_a_later_high_task():
    recs = [rec(0, 0, 0, 0, 100), rec(1, 0, 0, 0, 100), rec(2, 9, 10, 100, 105)]
    s = schedule(recs, 2)
    assert s.order == (0, 1, 2)
    assert s.start_ns[2] == 100  # unavoidable: non-preemptive, both workers busy


def test_two_workers_run_in_parallel():
    recs = [rec(i, 0, 0, 0, 10) for i in range(4)]
    assert schedule(recs, 2).start_ns == {0: 0, 1: 0, 2: 10, 3: 10}
    assert schedule(recs, 8).start_ns == {0: 0, 1: 0, 2: 0, 3: 0}


def test_accepts_any_iterable():
    recs = [rec(0, 0, 0, 0, 10), rec(1, 9, 0, 10, 20)]
    assert schedule(iter(recs), 1) == schedule(recs, 1)


def test_rejects_duplicate_seq_and_negative_service():
    with pytest.raises(ValueError, match="duplicate"):
        schedule([rec(0, 0, 0, 0, 1), rec(0, 0, 0, 1, 2)], 1)
    with pytest.raises(ValueError, match="seq 7"):
        schedule([rec(0, 0, 0, 0, 1), rec(7, 0, 0, 5, 4)], 1)


@pytest.mark.parametrize("seed", range(300))
def test_matches_brute_force(seed):
    rng = random.Random(seed)
    recs = random_trace(rng, rng.randrange(1, 40))
    workers = rng.randrange(1, 5)
    available = rng.choice((None, 0, rng.randrange(0, 60)))
    assert schedule(recs, workers, available) == brute_schedule(recs, workers, available)


@pytest.mark.parametrize("seed", range(100))
def test_replaying_the_oracle_scores_zero_inversions(seed):
    # a perfect priority queue inverts nothing, whatever the arrivals
    rng = random.Random(seed)
    recs = random_trace(rng, rng.randrange(1, 60))
    s = schedule(recs, rng.randrange(1, 4))
    ideal = [rec(r.seq, r.priority, r.enqueue_ns, s.start_ns[r.seq], s.start_ns[r.seq] + r.service_ns) for r in recs]
    assert count_inversions(ideal) == (0, 0)
