"""Ideal non-preemptive priority scheduler that replays a run's arrivals and service times."""

from dataclasses import dataclass, field
from heapq import heappop, heappush, heapreplace
from operator import add, attrgetter, sub


_COLUMNS = ("seq", "priority", "enqueue_ns", "start_ns", "end_ns")


@dataclass(frozen=True)
class OracleSchedule:
    """Seqs in ideal dispatch order, and each seq's ideal start (ns)."""

    order: tuple = field(repr=False)
    start_ns: dict = field(repr=False)


def schedule(records, workers, available_ns=None):
    """Replay records through an ideal W-worker priority scheduler (higher priority first, FIFO within).

    Every worker is free from available_ns (default: the earliest observed start, since nothing could
    start earlier). A free worker takes the highest-priority task enqueued by then, ties broken by
    (enqueue_ns, seq), else idles until the next arrival. O(n log n): two heaps.
    """
    records = records if isinstance(records, (list, tuple)) else list(records)
    return schedule_columns(*(list(map(attrgetter(name), records)) for name in _COLUMNS),
                            workers=workers, available_ns=available_ns)


def schedule_columns(seq, priority, enqueue_ns, start_ns, end_ns, workers, available_ns=None):
    """schedule() over parallel lists (one per TaskRecord field), for callers that already hold them."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    n = len(seq)
    if not n:
        return OracleSchedule((), {})
    if len(set(seq)) != n:
        raise ValueError("duplicate seq in records")
    service_ns = list(map(sub, end_ns, start_ns))
    if min(service_ns) < 0:
        raise ValueError(f"seq {seq[min(range(n), key=service_ns.__getitem__)]}: end_ns is before start_ns")
    if available_ns is None:
        available_ns = min(start_ns)
    # Arrival order is (enqueue_ns, seq): two stable sorts with C-level keys beat one tuple-keyed sort.
    arrival = sorted(range(n), key=seq.__getitem__)
    arrival.sort(key=enqueue_ns.__getitem__)
    seq, enq_ns, service_ns, priority = (list(map(col.__getitem__, arrival))
                                         for col in (seq, enqueue_ns, service_ns, priority))
    # One int per task keeps heap comparisons cheap: priority rank (0 = highest), then arrival index.
    rank_of = {p: i * n for i, p in enumerate(sorted(set(priority), reverse=True))}
    keys = list(map(add, map(rank_of.__getitem__, priority), range(n)))

    enq_ns.append(max(enq_ns[-1], available_ns) + max(service_ns) * n + 1)  # sentinel past any free time
    free_ns = [available_ns] * workers  # heap of the times each worker becomes free
    ready = []
    order = []
    ideal_ns = [0] * n
    i = 0
    now = available_ns  # latest dispatch instant: dispatch times never decrease
    for _ in range(n):
        f = free_ns[0]  # the earliest free worker picks next ...
        if f < now:  # ... but it idled while another worker waited for the last arrival
            f = now
        while enq_ns[i] <= f:
            heappush(ready, keys[i])
            i += 1
        if not ready:  # idle until the next arrival (one exists: something is still undispatched)
            f = enq_ns[i]
            while enq_ns[i] <= f:
                heappush(ready, keys[i])
                i += 1
        j = heappop(ready) % n
        ideal_ns[j] = now = f
        heapreplace(free_ns, f + service_ns[j])
        order.append(j)
    return OracleSchedule(tuple(map(seq.__getitem__, order)), dict(zip(seq, ideal_ns)))
