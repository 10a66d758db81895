"""Clock offsets against Redis TIME, so agents on other hosts can be put on the runner's clock."""

import time
from dataclasses import dataclass, replace

MIN_CORRECTION_NS = 1_000_000  # below 1 ms a measured offset is noise, not a foreign clock


@dataclass(frozen=True)
class ClockOffset:
    """local clock minus Redis clock, and the round trip the estimate came from."""

    offset_ns: int
    rtt_ns: int


def measure_offset(conn, samples=7):
    """Offset of this host's wall clock from Redis TIME; the lowest-RTT sample wins."""
    best = None
    for _ in range(samples):
        t0 = time.time_ns()
        seconds, micros = conn.time()
        t1 = time.time_ns()
        sample = ClockOffset((t0 + t1) // 2 - (seconds * 1_000_000_000 + micros * 1000), t1 - t0)
        if best is None or sample.rtt_ns < best.rtt_ns:
            best = sample
    return best


def needs_correction(agent, runner):
    """True when two clocks differ by more than the measurements can explain."""
    return abs(agent.offset_ns - runner.offset_ns) > max(
        MIN_CORRECTION_NS, agent.rtt_ns + runner.rtt_ns)


def to_runner_clock(records, host_offsets, runner):
    """Records with start/end stamps of foreign-clock hosts moved onto the runner's clock.

    host_offsets maps a worker's host (the first part of `worker`) to its ClockOffset.
    """
    shifts = {host: off.offset_ns - runner.offset_ns for host, off in host_offsets.items()
              if needs_correction(off, runner)}
    if not shifts:
        return tuple(records)
    out = []
    for r in records:
        shift = shifts.get(r.worker.split("/", 1)[0], 0)
        out.append(replace(r, start_ns=r.start_ns - shift, end_ns=r.end_ns - shift)
                   if shift else r)
    return tuple(out)
