"""Enqueue rate: huey's per-task `app.enqueue` against bench.enqueue's batched path, per backend.

Prints tasks/s (median of alternating rounds), the batch-size sweep behind MAX_BATCH with
the delay until the first task is in Redis, and the open-loop rates each path sustains.
Run from the repo root: python benchmarks/enqueue_rate.py [--tasks N] [--rounds R]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.enqueue import Enqueuer, _PREFIX, enqueue_planned  # noqa: E402
from bench.plan import PlannedTask, arrival_offsets_ns  # noqa: E402
from bench.redis_server import EmbeddedRedis  # noqa: E402
from bench.workload import make_huey  # noqa: E402

BACKENDS = ("priority_redis", "priority_redis_expire", "redis", "sqlite")
SWEEP = (1, 16, 64, 256, 1024)
OPEN_LOOP_RATES_PER_S = (1000, 2000, 4000, 8000, 16000)
OPEN_LOOP_REPEAT = 3
LAG_OK_MS = 2.0  # bench.session's warning threshold: p99 lag within max(2 ms, one gap)
KEEPS_UP_MS = 20.0  # a producer slower than the rate falls further behind all second long


def planned_tasks(n):
    return [PlannedTask(s, f"c{s % 3}", s // 3, s % 3, 0.0, "sleep") for s in range(n)]


class Apps:
    """Fresh huey names on one Redis (and one temp dir for sqlite); flushed after each use."""

    def __init__(self, url, folder):
        self.url, self.folder = url, folder

    def __call__(self, backend):
        name = f"rate{uuid.uuid4().hex[:10]}"
        return make_huey(backend, name, self.url, os.path.join(self.folder, f"{name}.db"))


def plain(app, work, planned):
    """The runner's old path: build, enqueue, stamp, one task at a time."""
    prio, stamps = app.storage.priority, {}
    for t in planned:
        app.enqueue(work.s(t.seq, t.duration_s, t.work, priority=t.priority if prio else None))
        stamps[t.seq] = time.time_ns()
    return stamps


def fast(first, cap):
    def go(app, work, planned):
        return {s: e for s, (e, _) in Enqueuer(app, work, cap, first).burst(planned).items()}
    return go


def pipelined(cap):
    """The alternative to one variadic ZADD: a pipeline of one ZADD per task (same bytes)."""
    def go(app, work, planned):
        enq, conn, key = Enqueuer(app, work), app.storage.conn, app.storage.queue_key
        stamps, last = {}, 0
        for lo in range(0, len(planned), cap):
            pipe = conn.pipeline(transaction=False)
            now_us = time.time_ns() // 1000
            for t in planned[lo:lo + cap]:
                task = enq.task(t)
                last = max(now_us, last + 1)
                pipe.zadd(key, {_PREFIX.pack(last) + app.serialize_task(task): -task.priority})
            pipe.execute()
            now_ns = time.time_ns()
            stamps.update((t.seq, now_ns) for t in planned[lo:lo + cap])
        return stamps
    return go


def measure(apps, backend, path, planned):
    """(tasks/s, ms from start until the first task was in the queue)."""
    app, work = apps(backend)
    app.storage.queue_size()  # connect first: a fresh pool's first command pays the set-up
    try:
        t0 = time.time_ns()
        stamps = path(app, work, planned)
        elapsed_ns = time.time_ns() - t0
        assert app.storage.queue_size() == len(planned)
        return len(planned) / (elapsed_ns / 1e9), (min(stamps.values()) - t0) / 1e6
    finally:
        app.flush()


def open_loop_lag_ms(apps, rate_per_s, use_plain, duration_s=1.0):
    """p99 and max producer lag (enqueue - intended) in ms over duration_s of Poisson arrivals."""
    app, work = apps("priority_redis")
    app.storage.conn.ping()
    n = max(1, int(rate_per_s * duration_s))
    at = arrival_offsets_ns(n, rate_per_s, "poisson", 1)
    planned = [PlannedTask(s, "c", s, s % 3, 0.0, "sleep", at[s]) for s in range(n)]
    try:
        if use_plain:  # the runner's old open-loop loop, verbatim in substance
            t0, lags = time.time_ns() + 5_000_000, []
            for t in planned:
                ahead_s = (t0 + t.at_ns - time.time_ns()) / 1e9
                if ahead_s > 0:
                    time.sleep(ahead_s)
                app.enqueue(work.s(t.seq, t.duration_s, t.work, priority=t.priority))
                lags.append(time.time_ns() - t0 - t.at_ns)
        else:  # bench.enqueue: on time one by one, overdue tasks batched
            stamps = enqueue_planned(Enqueuer(app, work), planned, {}, 5_000_000)
            lags = [e - i for e, i in stamps.values()]
        lags = sorted(lags)
        return lags[int(0.99 * (len(lags) - 1))] / 1e6, lags[-1] / 1e6
    finally:
        app.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    planned = planned_tasks(args.tasks)
    rows = {}
    variants = [(b, "plain app.enqueue", plain) for b in BACKENDS]
    variants += [(b, "fast (1,2,4..256)", fast(1, 256)) for b in BACKENDS]
    variants += [("priority_redis", f"fast fixed {c}", fast(c, c)) for c in SWEEP]
    variants += [("priority_redis", "pipelined ZADDs 256", pipelined(256))]
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory(prefix="bench-rate-") as folder:
        apps = Apps(server.url, folder)
        started = time.monotonic()
        for r in range(args.rounds):  # alternate variants so drift hits them alike
            for backend, label, path in variants:
                rows.setdefault((backend, label), []).append(measure(apps, backend, path, planned))
        print(f"# enqueue rate: {args.tasks} tasks, median of {args.rounds} rounds "
              f"({time.monotonic() - started:.0f} s)")
        print(f"{'backend':<22} {'path':<22} {'tasks/s':>9} {'x plain':>8} {'first task ms':>14}")
        for backend, label, _ in variants:
            got = rows[(backend, label)]
            rate = statistics.median(g[0] for g in got)
            base = statistics.median(g[0] for g in rows[(backend, "plain app.enqueue")])
            first = statistics.median(g[1] for g in got)
            print(f"{backend:<22} {label:<22} {rate:>9.0f} {rate / base:>8.2f} {first:>14.3f}")
        print(f"\n# open loop on priority_redis, Poisson arrivals for 1 s: producer lag ms, median of "
              f"{OPEN_LOOP_REPEAT}; warn = bench's lag warning (p99 > max({LAG_OK_MS:g} ms, one gap)); "
              f"keeps up = max < {KEEPS_UP_MS:g} ms")
        print(f"{'rate/s':>7} | {'plain p99':>9} {'max':>8} {'warn':>4} {'keeps up':>8} | "
              f"{'bench p99':>9} {'max':>8} {'warn':>4} {'keeps up':>8}")
        for rate in OPEN_LOOP_RATES_PER_S:
            limit = max(LAG_OK_MS, 1000 / rate)
            got = {True: [], False: []}
            for _ in range(OPEN_LOOP_REPEAT):
                for use_plain in got:
                    got[use_plain].append(open_loop_lag_ms(apps, rate, use_plain))
            cols = []
            for use_plain in got:
                p99, worst = (statistics.median(x[k] for x in got[use_plain]) for k in (0, 1))
                cols.append(f"{p99:>9.2f} {worst:>8.2f} {'yes' if p99 > limit else 'no':>4} "
                            f"{'yes' if worst < KEEPS_UP_MS else 'no':>8}")
            print(f"{rate:>7} | {cols[0]} | {cols[1]}", flush=True)

if __name__ == "__main__":
    main()
