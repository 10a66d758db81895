"""What a run enqueues, in which order and (open loop) when: pure functions of the scenario."""

import random
from dataclasses import dataclass
from typing import Optional

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class PlannedTask:
    """One task to enqueue; `index` numbers tasks within their class (lo 0, lo 1, ...).

    at_ns is the intended enqueue time as an offset from the producer's start (open loop
    only; None means as fast as possible).
    """

    seq: int
    cls: str
    index: int
    priority: int
    duration_s: float
    work: str
    at_ns: Optional[int] = None


def arrival_offsets_ns(count, rate_per_s, process, seed):
    """Seeded intended enqueue offsets: evenly spaced (uniform) or a Poisson process."""
    if process == "uniform":
        return [round(i * NS_PER_S / rate_per_s) for i in range(count)]
    rng = random.Random(f"{seed}-arrivals")  # independent of the shuffle's stream
    t, offsets = 0.0, []
    for _ in range(count):
        offsets.append(round(t * NS_PER_S))
        t += rng.expovariate(rate_per_s)
    return offsets


def plan_tasks(scenario):
    """Tasks in enqueue order, numbered by seq from 0."""
    per_class = [[(c, i) for i in range(c.count)] for c in scenario.classes]
    arrival = scenario.arrival
    if arrival.order == "round_robin":
        longest = max(len(items) for items in per_class)
        flat = [items[i] for i in range(longest) for items in per_class if i < len(items)]
    else:
        flat = [item for items in per_class for item in items]
        if arrival.order == "shuffle":
            random.Random(scenario.seed).shuffle(flat)
    if arrival.mode == "rate":
        at = arrival_offsets_ns(len(flat), arrival.rate_per_s, arrival.process, scenario.seed)
    else:
        at = [None] * len(flat)
    return [PlannedTask(seq, c.name, i, c.priority, c.duration_s, c.work, at[seq])
            for seq, (c, i) in enumerate(flat)]
