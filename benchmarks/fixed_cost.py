"""Fixed cost of a run in local mode: from `bench run` being spawned to its first task in Redis.

Spawns `python -m bench run <tiny scenario> --results <tmp> -q --mode local` RUNS times for
each of `start: after` and `start: before`, and reads back result.json's timing and
events.csv. "First task" is the smallest enqueue_ns in events.csv: the moment the first
enqueue call returned, so the task was in Redis. Phases (medians over the runs):
  spawn -> run_started_ns        interpreter, imports, redis-server start, connect, clock, plan
  run_started -> consumers_ready agents spawned and registered, consumers started, workers up
  ... -> first task              the enqueue itself (start: after enqueues before any consumer)
and the rest of the command: the work, stopping consumers, metrics, plots and files.
Then the parts measured alone in this process: redis-server start, agents registering.
Run from the repo root: python benchmarks/fixed_cost.py [--runs N]
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import redis  # noqa: E402

from bench.redis_server import EmbeddedRedis  # noqa: E402
from bench.runner import LocalAgents  # noqa: E402

SCENARIO = """\
name: fixed-cost-{start}
backend: priority_redis
classes:
  - {{name: lo, priority: 1, count: 2, duration: 0}}
  - {{name: hi, priority: 5, count: 2, duration: 0}}
arrival: {{start: {start}}}
timeout: 60s
"""


def one_run(folder, start):
    path = os.path.join(folder, f"{start}.yaml")
    with open(path, "w") as f:
        f.write(SCENARIO.format(start=start))
    results = os.path.join(folder, "results")
    spawn_ns = time.time_ns()
    proc = subprocess.run([sys.executable, "-m", "bench", "run", path, "--results", results,
                           "-q", "--mode", "local"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    exit_ns = time.time_ns()
    if proc.returncode:
        sys.exit(f"bench run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    run_dir = proc.stderr.strip().splitlines()[-1].split("results: ", 1)[1]
    with open(os.path.join(run_dir, "result.json")) as f:
        timing = json.load(f)["cells"][0]["runs"][0]["timing"]
    with open(os.path.join(run_dir, "events.csv")) as f:
        first_ns = min(int(row["enqueue_ns"]) for row in csv.DictReader(f))
    ms = lambda a, b: (b - a) / 1e6  # noqa: E731
    out = {"first task": ms(spawn_ns, first_ns),
           "spawn -> run started": ms(spawn_ns, timing["run_started_ns"]),
           "whole command": ms(spawn_ns, exit_ns)}
    if "consumers_ready_ns" in timing:
        out["run started -> consumers ready"] = ms(timing["run_started_ns"],
                                                   timing["consumers_ready_ns"])
        out["consumers ready -> first task"] = ms(timing["consumers_ready_ns"], first_ns)
    else:
        out["run started -> first task (agents registered)"] = ms(timing["run_started_ns"], first_ns)
    out["first task -> all done"] = ms(first_ns, timing["all_done_ns"])
    out["all done -> run finished (stop consumers, collect)"] = ms(timing["all_done_ns"],
                                                                   timing["run_finished_ns"])
    out["run finished -> exit (metrics, plots, files)"] = ms(timing["run_finished_ns"], exit_ns)
    return out


def redis_start_ms():
    t0 = time.perf_counter()
    server = EmbeddedRedis().start()
    ms = (time.perf_counter() - t0) * 1e3
    server.stop()
    return ms


def agents_register_ms(url, folder, count=1):
    conn = redis.Redis.from_url(url)
    t0 = time.perf_counter()
    agents = LocalAgents(url, f"fixedcost{time.time_ns()}", count, folder)
    try:
        agents.wait_registered(conn)
        return (time.perf_counter() - t0) * 1e3
    finally:
        for p in agents.procs:  # agents we spawned: SIGTERM is their clean stop
            p.terminate()
        agents.close(5)
        conn.close()


def cli_ms(folder):
    """Interpreter + CLI + scenario load: `bench validate` on the tiny scenario."""
    path = os.path.join(folder, "after.yaml")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench", "validate", path], cwd=ROOT, check=True,
                   capture_output=True)
    return (time.perf_counter() - t0) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fixed-") as folder:
        for start in ("after", "before"):
            got = [one_run(folder, start) for _ in range(args.runs)]
            print(f"# start: {start}, 1 consumer x 1 worker, 4 tasks; median of {args.runs} runs (ms)")
            for key in got[0]:
                values = [g[key] for g in got]
                print(f"  {key:<54} {statistics.median(values):8.0f}   "
                      f"(min {min(values):.0f}, max {max(values):.0f})")
        parts = {"python -m bench validate (interpreter, imports, load)": [cli_ms(folder)
                                                                        for _ in range(args.runs)],
                 "redis-server start (EmbeddedRedis)": [redis_start_ms() for _ in range(args.runs)]}
        with EmbeddedRedis() as server:
            parts["1 local agent spawned -> registered"] = [
                agents_register_ms(server.url, folder) for _ in range(args.runs)]
            parts["2 local agents spawned -> registered"] = [
                agents_register_ms(server.url, folder, 2) for _ in range(args.runs)]
        print(f"# parts alone, median of {args.runs} (ms)")
        for key, values in parts.items():
            print(f"  {key:<54} {statistics.median(values):8.0f}   "
                  f"(min {min(values):.0f}, max {max(values):.0f})")


if __name__ == "__main__":
    main()
