"""Plain records passed between modules, and the events.csv format."""

import csv
from dataclasses import dataclass

EVENTS_HEADER = ("seq", "class", "priority", "enqueue_ns", "start_ns", "end_ns", "worker")


@dataclass(frozen=True)
class TaskRecord:
    """One executed task: when it was enqueued, started and ended (epoch ns)."""

    seq: int
    cls: str
    priority: int
    enqueue_ns: int
    start_ns: int
    end_ns: int
    worker: str

    @property
    def wait_ns(self):
        return self.start_ns - self.enqueue_ns

    @property
    def service_ns(self):
        return self.end_ns - self.start_ns

    @property
    def sojourn_ns(self):
        return self.end_ns - self.enqueue_ns


def write_events(path, records):
    """Write records as events.csv, ordered by seq."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EVENTS_HEADER)
        for r in sorted(records, key=lambda r: r.seq):
            w.writerow((r.seq, r.cls, r.priority, r.enqueue_ns, r.start_ns, r.end_ns, r.worker))
