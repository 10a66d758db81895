"""Plain records passed between modules, and the events.csv format."""

import csv
from dataclasses import dataclass
from typing import Optional

from bench.errors import EventsError

EVENTS_HEADER = ("seq", "class", "priority", "enqueue_ns", "start_ns", "end_ns", "worker")
# Open-loop runs add the planned enqueue time; latency is measured from it.
OPEN_LOOP_HEADER = EVENTS_HEADER + ("intended_ns",)


@dataclass(frozen=True)
class TaskRecord:
    """One executed task: when it was enqueued, started and ended (epoch ns).

    intended_ns is the schedule's enqueue time in open-loop runs (None otherwise): waits
    count from it, so a producer that falls behind cannot hide latency (coordinated omission).
    """

    seq: int
    cls: str
    priority: int
    enqueue_ns: int
    start_ns: int
    end_ns: int
    worker: str
    intended_ns: Optional[int] = None

    @property
    def arrival_ns(self):
        """When the task should count as arrived: its intended time if it had one."""
        return self.enqueue_ns if self.intended_ns is None else self.intended_ns

    @property
    def wait_ns(self):
        return self.start_ns - self.arrival_ns

    @property
    def service_ns(self):
        return self.end_ns - self.start_ns

    @property
    def sojourn_ns(self):
        return self.end_ns - self.arrival_ns


def write_events(path, records):
    """Write records as events.csv, ordered by seq; intended_ns only when a run had it."""
    open_loop = any(r.intended_ns is not None for r in records)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(OPEN_LOOP_HEADER if open_loop else EVENTS_HEADER)
        for r in sorted(records, key=lambda r: r.seq):
            row = (r.seq, r.cls, r.priority, r.enqueue_ns, r.start_ns, r.end_ns, r.worker)
            w.writerow(row + (r.intended_ns,) if open_loop else row)


_INT_FIELDS = tuple((name, OPEN_LOOP_HEADER.index(name)) for name in
                    ("seq", "priority", "enqueue_ns", "start_ns", "end_ns", "intended_ns"))


def _is_int(text):
    try:
        int(text)
        return True
    except ValueError:
        return False


def read_events(path):
    """Read an events.csv; any problem raises EventsError naming the file and line."""
    try:
        f = open(path, newline="")
    except FileNotFoundError:
        raise EventsError(f"{path}: no such file") from None
    except OSError as e:
        raise EventsError(f"{path}: cannot open: {e.strerror or e}") from None
    records, line_of_seq = [], {}
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise EventsError(f"{path}: no events (empty file)")
            if tuple(header) not in (EVENTS_HEADER, OPEN_LOOP_HEADER):
                raise EventsError(
                    f"{path}:1: header must be {','.join(EVENTS_HEADER)!r} (optionally "
                    f"followed by ',intended_ns'), got {','.join(header)!r}")
            width = len(header)
            for row in reader:
                line = reader.line_num
                if not row:  # a blank line (say, a trailing one) carries no event
                    continue
                if len(row) != width:
                    raise EventsError(f"{path}:{line}: expected {width} fields, got {len(row)}")
                seq, cls, priority, enqueue_ns, start_ns, end_ns, worker = row[:7]
                try:
                    seq, priority, enqueue_ns, start_ns, end_ns = map(
                        int, (seq, priority, enqueue_ns, start_ns, end_ns))
                    intended_ns = int(row[7]) if width == 8 else None
                except ValueError:
                    name, text = next((n, row[i]) for n, i in _INT_FIELDS if i < len(row) and not _is_int(row[i]))
                    raise EventsError(f"{path}:{line}: {name} is not an integer: {text!r}") from None
                if not cls:
                    raise EventsError(f"{path}:{line}: class is empty")
                if end_ns < start_ns:  # one worker clock measures both, so this is corruption
                    raise EventsError(f"{path}:{line}: end_ns {end_ns} is before start_ns {start_ns}")
                if seq in line_of_seq:
                    raise EventsError(f"{path}:{line}: duplicate seq {seq} (first on line {line_of_seq[seq]})")
                line_of_seq[seq] = line
                records.append(TaskRecord(seq, cls, priority, enqueue_ns, start_ns, end_ns, worker,
                                          intended_ns))
        except csv.Error as e:
            raise EventsError(f"{path}:{reader.line_num}: malformed CSV: {e}") from None
        except UnicodeDecodeError as e:
            raise EventsError(f"{path}:{reader.line_num + 1}: not valid text: {e.reason}") from None
    if not records:
        raise EventsError(f"{path}: no events (header only)")
    return records
