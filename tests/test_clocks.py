"""Clock offsets against Redis TIME and the correction of foreign-clock hosts."""

from bench.clocks import ClockOffset, measure_offset, needs_correction, to_runner_clock
from bench.records import TaskRecord


def test_same_host_offset_is_within_the_round_trip(redis_conn):
    off = measure_offset(redis_conn)
    assert off.rtt_ns > 0
    # Redis TIME has microsecond resolution; the local clock is the same clock.
    assert abs(off.offset_ns) <= off.rtt_ns + 1000
    assert not needs_correction(measure_offset(redis_conn), off)


def rec(seq, worker, start_ns):
    return TaskRecord(seq, "c", 1, 0, start_ns, start_ns + 10, worker)


def test_only_hosts_whose_clock_differs_beyond_the_noise_are_shifted():
    runner = ClockOffset(offset_ns=50_000, rtt_ns=200_000)
    offsets = {"far": ClockOffset(offset_ns=250_050_000, rtt_ns=300_000),   # 250 ms ahead
               "near": ClockOffset(offset_ns=400_000, rtt_ns=200_000)}      # within noise
    records = [rec(0, "far/1/Worker-1", 1_000_000_000), rec(1, "near/2/Worker-1", 5_000),
               rec(2, "unknown/3/MainThread", 7_000)]
    fixed = to_runner_clock(records, offsets, runner)
    assert fixed[0].start_ns == 1_000_000_000 - 250_000_000
    assert fixed[0].end_ns - fixed[0].start_ns == 10
    assert fixed[1:] == tuple(records[1:])


def test_no_correction_returns_the_records_unchanged():
    runner = ClockOffset(0, 100_000)
    records = [rec(0, "h/1/t", 5)]
    assert to_runner_clock(records, {"h": ClockOffset(10_000, 100_000)}, runner) == tuple(records)
