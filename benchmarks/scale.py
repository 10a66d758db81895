"""Scale: a 100,000-task run through the real runner, then analysis of up to 1,000,000 events.

Part 1 runs a generated scenario (3 classes, duration 0, prefilled, 2 consumers x 4 thread
workers; --tasks to change) in local mode with bench.session.run_session, once with the
runner's batched enqueue (bench.enqueue) and once (--plain) with the per-task
`app.enqueue` loop the runner had; each in its own process, so peak RSS
(getrusage ru_maxrss) is that run's alone. It reports wall time by phase, analysis time
(bench.metrics.analyze, oracle included), results writing (events.csv, result.json,
summary.md) and plots. tracemalloc is left out: it slows every allocation several times.
Part 2 times analyze() on synthetic traces of 250k, 500k and 1M events (8 workers,
3 priorities, a mostly-priority start order with local disorder) to show ~O(n log n).
Run from the repo root: python benchmarks/scale.py [--tasks N] [--plain] [--synthetic 250000,...]
"""

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.records import TaskRecord  # noqa: E402

SCENARIO = """\
name: scale
backend: priority_redis
consumers: 2
workers: 4
classes:
  - {{name: lo, priority: 1, count: {lo}, duration: 0}}
  - {{name: mid, priority: 5, count: {mid}, duration: 0}}
  - {{name: hi, priority: 9, count: {hi}, duration: 0}}
arrival: {{start: after, order: shuffle}}
timeout: 20m
"""


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(path, tasks):
    """One run in this process; prints a JSON line of figures."""
    from bench import runner
    from bench.enqueue import Enqueuer, enqueue_planned
    from bench.metrics import analyze
    from bench.report import render_session
    from bench.results import session_plots, write_session
    from bench.scenario import load_text
    from bench.session import run_session, summaries

    if path == "fast":  # the integration proposed for runner.py
        runner.Run._enqueue = lambda self, app, work, planned, timing: enqueue_planned(
            Enqueuer(app, work), planned, timing, runner.OPEN_LOOP_LEAD_NS)
    third = tasks // 3
    sc = load_text(SCENARIO.format(lo=tasks - 2 * third, mid=third, hi=third))
    rss_start_mb = peak_rss_mb()
    t0 = time.perf_counter()
    session = run_session(sc)
    wall_s = time.perf_counter() - t0
    rss_run_mb = peak_rss_mb()
    (run,) = session.runs
    out, tm = run.outcome, run.outcome.timing
    t0 = time.perf_counter()
    analyze(out.records, sc.total_workers)
    analyze_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as results:
        t0 = time.perf_counter()
        stats = summaries(session)
        write_session(results, session, stats,
                      render=lambda links: render_session(session, stats, links))
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        session_plots(session, stats, os.path.join(results, "plots-only"))
        plots_s = time.perf_counter() - t0
    print(json.dumps({
        "path": path, "tasks": len(out.planned), "records": len(out.records),
        "complete": out.complete, "problems": list(out.problems), "wall_s": wall_s,
        "enqueue_s": (tm["last_enqueue_ns"] - tm["first_enqueue_ns"]) / 1e9,
        "setup_s": (tm["first_enqueue_ns"] - tm["run_started_ns"]) / 1e9,
        "drain_s": (tm.get("all_done_ns", tm["run_finished_ns"]) - tm["last_enqueue_ns"]) / 1e9,
        "teardown_s": (tm["run_finished_ns"] - tm.get("all_done_ns", tm["run_finished_ns"])) / 1e9,
        "analyze_s": analyze_s, "write_s": write_s, "plots_s": plots_s,
        "rss_start_mb": rss_start_mb, "rss_run_mb": rss_run_mb, "rss_end_mb": peak_rss_mb(),
        "inversions": run.metrics.inversions, "kendall": run.metrics.kendall_tau_distance}))


def synthetic(n, workers=8, seed=1):
    """A plausible trace: a prefilled burst, starts in priority order with local disorder."""
    rng = random.Random(seed)
    prio = [rng.choice((1, 5, 9)) for _ in range(n)]
    enq = [1_000_000_000 + i * 30_000 for i in range(n)]  # 30 us apart
    order = sorted(range(n), key=lambda i: (-prio[i] + rng.random() * 1.2, i))
    free = [enq[-1]] * workers
    records = [None] * n
    for k, i in enumerate(order):
        w = k % workers
        start = max(free[w], enq[i]) + rng.randrange(0, 20_000)
        free[w] = end = start + rng.randrange(50_000, 400_000)
        records[i] = TaskRecord(i, f"p{prio[i]}", prio[i], enq[i], start, end, f"h/1/w{w}")
    return records


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--plain", action="store_true", help="also run with the per-task enqueue loop")
    ap.add_argument("--synthetic", default="250000,500000,1000000")
    ap.add_argument("--child", choices=("fast", "plain"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.tasks)
    print(f"# {args.tasks} tasks, 3 classes, duration 0, prefilled, 2 consumers x 4 thread "
          "workers, local mode")
    for path in ("fast", "plain") if args.plain else ("fast",):
        proc = subprocess.run([sys.executable, __file__, "--child", path, "--tasks", str(args.tasks)],
                              cwd=ROOT, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{path} run failed:\n{proc.stderr[-3000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{path:>5} enqueue: wall {r['wall_s']:.1f} s = setup {r['setup_s']:.1f} + enqueue "
              f"{r['enqueue_s']:.1f} ({r['tasks'] / r['enqueue_s']:.0f}/s) + drain {r['drain_s']:.1f}"
              f" + teardown/collect {r['teardown_s']:.1f} (+ redis start/stop, analysis)")
        print(f"       complete {r['complete']} ({r['records']} records) {'; '.join(r['problems'])}")
        print(f"       analyze {r['analyze_s']:.2f} s, write results {r['write_s']:.2f} s, plots "
              f"{r['plots_s']:.2f} s; peak RSS {r['rss_run_mb']:.0f} MB after the run "
              f"(imports {r['rss_start_mb']:.0f} MB; {r['rss_end_mb']:.0f} MB after writing); "
              f"inversions {r['inversions']}, Kendall tau {r['kendall']:.4f}")
    from bench.metrics import analyze

    print("\n# analyze() of synthetic traces, 8 workers (oracle, inversions, Kendall tau, stats)")
    print(f"{'events':>9} {'seconds':>8} {'us/event':>9} {'ns/(n log2 n)':>14}")
    for n in map(int, args.synthetic.split(",")):
        records = synthetic(n)
        t0 = time.perf_counter()
        analyze(records, 8)
        s = time.perf_counter() - t0
        print(f"{n:>9} {s:>8.2f} {s / n * 1e6:>9.2f} {s / (n * math.log2(n)) * 1e9:>14.1f}", flush=True)
        del records
    print(f"parent peak RSS {peak_rss_mb():.0f} MB (holds the largest synthetic trace)")


if __name__ == "__main__":
    main()
