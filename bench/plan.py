"""What a run enqueues, in which order: a pure function of the scenario and its seed."""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class PlannedTask:
    """One task to enqueue; `index` numbers tasks within their class (lo 0, lo 1, ...)."""

    seq: int
    cls: str
    index: int
    priority: int
    duration_s: float
    work: str


def plan_tasks(scenario):
    """Tasks in enqueue order, numbered by seq from 0."""
    per_class = [[(c, i) for i in range(c.count)] for c in scenario.classes]
    order = scenario.arrival.order
    if order == "round_robin":
        longest = max(len(items) for items in per_class)
        flat = [items[i] for i in range(longest) for items in per_class if i < len(items)]
    else:
        flat = [item for items in per_class for item in items]
        if order == "shuffle":
            random.Random(scenario.seed).shuffle(flat)
    return [PlannedTask(seq, c.name, i, c.priority, c.duration_s, c.work)
            for seq, (c, i) in enumerate(flat)]
