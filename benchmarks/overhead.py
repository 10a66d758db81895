"""Cost of bench's instrumentation: drain throughput of plain huey vs bench's workload.

Both drains empty the same prefilled priority queue of N no-op tasks (3 priorities) with
one real `huey_consumer` (1 thread worker, -n -q) on a private Redis; both store a result
per task (plain returns its seq, bench its timing record). What differs is exactly what
bench adds: the dequeue-stamping storage subclass, the timing record (two clock reads, a
worker id, a bigger result) and the readiness hook.

Two less noisy figures follow: the worker's loop in this process (dequeue + execute per
task, what a huey worker thread does) as CPU microseconds per task for both apps, and
the instrumentation alone without Redis (timeit, best of 5: the stamping dequeue
override, the task body, pickling the result), whose difference is bench's own cost.

Drain throughput = N / (end - start): start is the first poll that sees the queue shorter
than N (the first dequeue), end the first poll that sees N results; polls are POLL_S
apart in both. Rounds alternate A/B so drift in the shared machine hits both alike.
Run from the repo root: python benchmarks/overhead.py [--tasks N] [--rounds R]
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import timeit
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.agent import consumer_command  # noqa: E402
from bench.enqueue import Enqueuer  # noqa: E402
from bench.plan import PlannedTask  # noqa: E402
from bench.redis_server import EmbeddedRedis  # noqa: E402
from bench.workload import make_huey, ready_key, stamp_dequeue  # noqa: E402
from benchmarks.plain_app import make_plain  # noqa: E402

POLL_S = 0.005
TARGET = 0.97
DRAIN_TIMEOUT_S = 120


def drain_per_s(kind, redis_url, n):
    """Prefill n tasks, start one consumer, return its drain throughput (tasks/s)."""
    (app, work), name = app_of(kind, redis_url)
    planned = [PlannedTask(s, "c", s, s % 3, 0.0, "sleep") for s in range(n)]
    Enqueuer(app, work).burst(planned)
    cmd = consumer_command({"workers": 1, "worker_type": "thread"})
    if kind == "plain":
        cmd[cmd.index("bench.workload.huey")] = "benchmarks.plain_app.huey"
    env = dict(os.environ, PYTHONPATH=ROOT, BENCH_PLAIN_NAME=name, BENCH_HUEY_NAME=name,
               BENCH_BACKEND="priority_redis", BENCH_REDIS_URL=redis_url, BENCH_WORKER_TYPE="thread")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    start = end = None
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    try:
        while end is None:
            queued, done = app.storage.queue_size(), app.storage.result_store_size()
            now = time.perf_counter()
            if start is None and queued < n:
                start = now
            if done >= n:
                end = now
            elif proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} consumer: {done}/{n} done, exit {proc.poll()}: "
                                   f"{proc.stderr.read().decode()[-500:] if proc.poll() else ''}")
            time.sleep(POLL_S)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # huey's graceful stop
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        app.flush()
        app.storage.conn.delete(ready_key(name))
    return n / (end - start)


def app_of(kind, redis_url):
    name = f"ovh{kind}{uuid.uuid4().hex[:8]}"
    return (make_plain(name, redis_url) if kind == "plain"
            else make_huey("priority_redis", name, redis_url)), name


def worker_cpu_us(kind, redis_url, n):
    """CPU us per task of dequeue + execute in this process (a worker thread's loop)."""
    (app, work), _ = app_of(kind, redis_url)
    Enqueuer(app, work).burst([PlannedTask(s, "c", s, s % 3, 0.0, "sleep") for s in range(n)])
    try:
        cpu0 = time.process_time()
        for _ in range(n):
            app.execute(app.dequeue())
        return (time.process_time() - cpu0) / n * 1e6
    finally:
        app.flush()


def instrumentation_us(number=100_000):
    """(plain, bench) CPU us per task of dequeue override + body + result pickling, no I/O."""
    class Popped:  # a storage whose dequeue returns at once: only the override's cost remains
        def dequeue(self):
            return b"x"

    stamped = stamp_dequeue(type("H", (), {"storage_class": Popped})).storage_class()
    plain, bench = Popped(), stamped
    (papp, pwork), _ = app_of("plain", "redis://127.0.0.1:9/0")  # never connects
    (bapp, bwork), _ = app_of("bench", "redis://127.0.0.1:9/0")
    ptask, btask = pwork.s(1, 0.0, "sleep", priority=1), bwork.s(1, 0.0, "sleep", priority=1)

    def run(storage, app, task):
        storage.dequeue()
        return app.serializer.serialize(task.execute())

    return tuple(min(timeit.repeat(lambda a=a: run(*a), number=number, repeat=5)) / number * 1e6
                 for a in ((plain, papp, ptask), (bench, bapp, btask)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    ratios, rates = [], {"plain": [], "bench": []}
    with EmbeddedRedis() as server:
        print(f"# drain of {args.tasks} no-op tasks, 1 consumer x 1 thread worker, priority_redis")
        print(f"{'round':>5} {'plain/s':>9} {'bench/s':>9} {'bench/plain':>12}")
        for r in range(1, args.rounds + 1):
            order = ("plain", "bench") if r % 2 else ("bench", "plain")  # A/B, then B/A
            got = {kind: drain_per_s(kind, server.url, args.tasks) for kind in order}
            for kind in got:
                rates[kind].append(got[kind])
            ratios.append(got["bench"] / got["plain"])
            print(f"{r:>5} {got['plain']:>9.0f} {got['bench']:>9.0f} {ratios[-1]:>12.3f}", flush=True)
        ratio = statistics.median(ratios)
        print(f"median: plain {statistics.median(rates['plain']):.0f}/s, bench "
              f"{statistics.median(rates['bench']):.0f}/s, ratio {ratio:.3f} "
              f"(target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})")
        n = min(args.tasks, 3000)
        cpu = {"plain": [], "bench": []}
        for r in range(args.rounds):
            for kind in (("plain", "bench") if r % 2 == 0 else ("bench", "plain")):
                cpu[kind].append(worker_cpu_us(kind, server.url, n))
        plain_us, bench_us = (statistics.median(cpu[k]) for k in ("plain", "bench"))
        print(f"\n# worker path in-process (dequeue + execute), {n} tasks x {args.rounds} rounds, "
              f"median CPU per task")
        print(f"plain {plain_us:.1f} us, bench {bench_us:.1f} us: difference "
              f"{bench_us - plain_us:+.1f} us/task, throughput ratio {plain_us / bench_us:.3f}")
    p_us, b_us = instrumentation_us()
    print("\n# instrumentation alone, no Redis (dequeue override + body + result pickle), best of 5")
    print(f"plain {p_us:.2f} us, bench {b_us:.2f} us: bench adds {b_us - p_us:.2f} us/task, "
          f"{(b_us - p_us) / plain_us * 100:.2f}% of the worker loop's {plain_us:.0f} us "
          f"(expected ratio {plain_us / (plain_us + b_us - p_us):.4f})")


if __name__ == "__main__":
    main()
