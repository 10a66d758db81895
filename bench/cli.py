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
    scenarios = load_all(scenario_paths(args.scenarios))
    print(max(cell.scenario.consumers for sc in scenarios for cell in sc.cells()))
    return 0


def cmd_validate(args):
    for sc in load_all(scenario_paths(args.scenarios)):
        print(f"{sc.source}: ok ({sc.total_tasks} tasks, {sc.total_workers} workers)")
    return 0


class Progress:
    """A progress bar with ETA over every task of a scenario run, on a terminal only."""

    def __init__(self, total_tasks, label, enabled):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total_tasks, desc=label, unit="task", file=sys.stderr,
                            leave=False, dynamic_ncols=True)
        self.base = self.done = 0

    def next_run(self, description):
        self.base = self.done
        if self.bar:
            self.bar.set_postfix_str(description, refresh=False)

    def __call__(self, done, total):
        if self.bar and self.base + done > self.done:
            self.bar.update(self.base + done - self.done)
        self.done = max(self.done, self.base + done)

    def close(self):
        if self.bar:
            self.bar.close()


def cmd_run(args):
    from bench.report import render_session
    from bench.results import session_plots, write_session
    from bench.session import run_session, summaries

    scenarios = load_all(scenario_paths(args.scenarios))
    redis_url = args.redis_url or os.environ.get("REDIS_URL") or None
    status = 0
    for sc in scenarios:
        cells = list(sc.cells())
        runs_total = len(cells) * (sc.repeat + sc.warmup)
        say(args, 0, f"== {sc.name} ({sc.source}): {len(cells)} cell(s) × {runs_total // len(cells)}"
                     f" run(s) × {sc.total_tasks} tasks")
        progress = Progress(runs_total * sc.total_tasks, sc.name,
                            sys.stderr.isatty() and args.verbosity >= 0)

        def on_run(cell, rep, warmup):
            what = f"{cell.key + ' ' if cell.key else ''}{'warm-up' if warmup else 'run'} {rep}"
            progress.next_run(what)
            say(args, 1, f"   {what}")

        try:
            session = run_session(sc, redis_url=redis_url, mode=args.mode, agents=args.agents,
                                  on_run=on_run, on_progress=progress)
        finally:
            progress.close()
        stats = summaries(session)
        path, text = write_session(args.results, session, stats,
                                   render=lambda links: render_session(session, stats, links),
                                   draw_plots=lambda d: session_plots(session, stats, d))
        if args.verbosity >= 0:
            print(text)
        print(f"results: {path}", file=sys.stderr)
        if session.interrupted:
            print("bench: interrupted: partial results saved, marked incomplete", file=sys.stderr)
            return EXIT_INTERRUPTED
        if not session.complete:
            problems = sorted({p for r in session.runs for p in r.outcome.problems})
            print(f"bench: error: {sc.name}: run incomplete: {'; '.join(problems) or 'runs missing'}"
                  f" (see {path}/summary.md)", file=sys.stderr)
            status = 5
    return status


def say(args, level, message):
    """A line on stderr when verbosity allows: -q hides level 0, -v shows level 1."""
    if args.verbosity >= level:
        print(message, file=sys.stderr)


def _result_dir_of(events):
    """The result directory an events file belongs to (it or its parent holds result.json)."""
    here = os.path.dirname(os.path.abspath(events))
    for folder in (here, os.path.dirname(here)):
        if os.path.exists(os.path.join(folder, "result.json")):
            return folder
    return None


def _events_and_workers(path, workers):
    """events.csv path and oracle workers for `analyze`: a result's own, else --workers or 1."""
    events = os.path.join(path, "events.csv") if os.path.isdir(path) else path
    folder = _result_dir_of(events)
    if workers is not None or folder is None:
        return events, workers or 1
    rel = os.path.relpath(os.path.abspath(events), folder)
    try:
        with open(os.path.join(folder, "result.json")) as f:
            doc = json.load(f)
        for cell in doc["cells"]:
            for run in cell["runs"]:
                if run["events"] == rel and run["metrics"]:
                    return events, run["metrics"]["workers"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EventsError(f"{folder}/result.json: cannot read the worker count ({e}); "
                          "pass --workers N")
    return events, 1


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


def cmd_compare(args):
    from bench.compare import compare, load_result, render

    a, b = load_result(args.a), load_result(args.b)
    if args.format != "json":
        print(f"A: {args.a}\nB: {args.b}\n")
    print(render(compare(a, b, force=args.force), args.format))
    return 0


def cmd_agent(args):
    from bench.agent import run_agent

    run_agent(args.redis_url, agent_id=args.id, once=args.once, parent_pid=args.parent_pid)
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
    r.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1, default=0,
                   help="no tables, no progress")
    r.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1,
                   help="a line per run")
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

    m = sub.add_parser("compare", help="compare two results, cell by cell, with significance")
    m.add_argument("a", metavar="A", help="baseline result directory (or its result.json)")
    m.add_argument("b", metavar="B", help="the result to compare with A")
    m.add_argument("--format", choices=("table", "md", "json"), default="table")
    m.add_argument("--force", action="store_true",
                   help="compare even if the two runs come from different scenario files")
    m.set_defaults(func=cmd_compare)

    g = sub.add_parser("agent", help="serve consumer runs handed out over Redis")
    g.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    g.add_argument("--id", help="agent id (default: host-pid-random)")
    g.add_argument("--once", action="store_true", help="exit after serving one run")
    g.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # local agents: exit with it
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
