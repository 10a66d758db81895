"""Command line: the only place that prints or exits."""

import argparse
import glob
import json
import os
import sys

from bench.errors import BenchError, EventsError, ScenarioErrors

EXIT_INTERRUPTED = 130


def scenario_paths(args):
    """Files named on the command line; a directory stands for its *.yaml files."""
    paths = []
    for arg in args:
        if os.path.isdir(arg):
            paths += sorted(glob.glob(os.path.join(arg, "*.yaml")) +
                            glob.glob(os.path.join(arg, "*.yml")))
        else:
            paths.append(arg)
    return paths


def load_all(paths):
    """Every scenario, or ScenarioErrors with the problems of every file at once."""
    from bench import scenario

    loaded, errors = [], []
    for path in paths:
        try:
            loaded.append(scenario.load(path))
        except ScenarioErrors as e:
            errors += e.errors
    if errors:
        raise ScenarioErrors(errors)
    return loaded


def cmd_consumers(args):
    print(max(sc.consumers for sc in load_all(scenario_paths(args.scenarios))))
    return 0


def cmd_validate(args):
    for sc in load_all(scenario_paths(args.scenarios)):
        print(f"{sc.source}: ok ({sc.total_tasks} tasks, {sc.total_workers} workers)")
    return 0


class Progress:
    """One self-rewriting line on a terminal; silent otherwise."""

    def __init__(self, label, enabled):
        self.label, self.enabled, self.last = label, enabled, None

    def __call__(self, done, total):
        if self.enabled and done != self.last:
            self.last = done
            print(f"\r{self.label}: {done}/{total} tasks", end="", file=sys.stderr, flush=True)

    def close(self):
        if self.enabled and self.last is not None:
            print(file=sys.stderr)


def cmd_run(args):
    from bench.metrics import analyze
    from bench.report import render_summary, run_header, write_result
    from bench.runner import run_scenario

    scenarios = load_all(scenario_paths(args.scenarios))
    redis_url = args.redis_url or os.environ.get("REDIS_URL") or None
    status = 0
    for sc in scenarios:
        title = f"# {sc.name}"
        print(f"== {sc.name} ({sc.source}): {sc.total_tasks} tasks, "
              f"{sc.consumers}×{sc.workers} {sc.worker_type} workers", file=sys.stderr)
        progress = Progress(sc.name, sys.stderr.isatty() and not args.quiet)
        try:
            outcome = run_scenario(sc, redis_url=redis_url, mode=args.mode, agents=args.agents,
                                   on_progress=progress)
        finally:
            progress.close()
        metrics = analyze(outcome.records, sc.total_workers) if outcome.records else None
        path = write_result(args.results, outcome, metrics, title)
        if not args.quiet:
            print(title + "\n\n" + render_summary(outcome.records, metrics, run_header(outcome)))
        print(f"results: {path}", file=sys.stderr)
        if outcome.interrupted:
            print("bench: interrupted: partial results saved, marked incomplete", file=sys.stderr)
            return EXIT_INTERRUPTED
        if not outcome.complete:
            print(f"bench: error: run incomplete: {'; '.join(outcome.problems)}", file=sys.stderr)
            status = 5
    return status


def _events_and_workers(path, workers):
    """events.csv path and oracle workers for `analyze` (a result dir supplies its own)."""
    if os.path.isdir(path):
        events = os.path.join(path, "events.csv")
        if workers is None and os.path.exists(os.path.join(path, "result.json")):
            try:
                with open(os.path.join(path, "result.json")) as f:
                    sc = json.load(f)["scenario"]
                workers = sc["consumers"] * sc["workers"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise EventsError(f"{path}/result.json: cannot read the worker count ({e}); "
                                  "pass --workers N")
        return events, workers or 1
    return path, workers or 1


def cmd_analyze(args):
    from bench.metrics import analyze
    from bench.records import read_events
    from bench.report import render_summary

    events, workers = _events_and_workers(args.path, args.workers)
    records = read_events(events)
    try:
        metrics = analyze(records, workers)
    except ValueError as e:
        raise EventsError(f"{events}: {e}")
    if args.format == "json":
        print(json.dumps(metrics.to_dict(), indent=2))
    else:
        print(render_summary(records, metrics, header=f"# analysis of {events}"))
    return 0


def cmd_agent(args):
    from bench.agent import run_agent

    run_agent(args.redis_url, agent_id=args.id, once=args.once)
    return 0


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def build_parser():
    p = argparse.ArgumentParser(
        prog="bench", description="Benchmark of task priority in the huey task queue.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run scenarios and write results")
    r.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario YAML files, or directories of them")
    r.add_argument("--results", default="results", help="results root (default: results)")
    r.add_argument("--redis-url", help="use this Redis (default: $REDIS_URL, else a private "
                   "redis-server started for the run)")
    r.add_argument("--agents", choices=("local", "external"),
                   default=os.environ.get("BENCH_AGENTS", "local"),
                   help="local: start consumer agents as subprocesses (default); external: "
                   "use agents already connected to the Redis (containers, other hosts)")
    r.add_argument("--mode", default=os.environ.get("BENCH_MODE", "local"),
                   choices=("local", "docker"), help="recorded in result.json")
    r.add_argument("-q", "--quiet", action="store_true", help="no tables, no progress")
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("validate", help="check scenario files without running them")
    v.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    v.set_defaults(func=cmd_validate)

    c = sub.add_parser("consumers", help="print the most consumers any of the scenarios needs")
    c.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    c.set_defaults(func=cmd_consumers)

    a = sub.add_parser("analyze", help="recompute every metric from an events.csv")
    a.add_argument("path", help="events.csv, or a result directory")
    a.add_argument("--workers", type=positive_int,
                   help="workers the oracle assumes (default: the result's, else 1)")
    a.add_argument("--format", choices=("table", "json"), default="table")
    a.set_defaults(func=cmd_analyze)

    g = sub.add_parser("agent", help="serve consumer runs handed out over Redis")
    g.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    g.add_argument("--id", help="agent id (default: host-pid-random)")
    g.add_argument("--once", action="store_true", help="exit after serving one run")
    g.set_defaults(func=cmd_agent)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BenchError as e:
        print(f"bench: error: {e}" if not isinstance(e, ScenarioErrors) else str(e),
              file=sys.stderr)
        return e.exit_code
