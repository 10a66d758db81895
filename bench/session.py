"""A scenario run: every matrix cell, warm-ups then measured repetitions, on one Redis."""

import tempfile
from dataclasses import dataclass

from bench import environment
from bench.metrics import analyze
from bench.redis_server import EmbeddedRedis
from bench.runner import Run, connect

LAG_WARN_MS = 2.0  # p99 producer lag beyond this and beyond one mean gap earns a warning


@dataclass(frozen=True)
class RunResult:
    """One run as observed, with its metrics (None when no task finished)."""

    cell_key: str
    rep: int          # 1-based within its kind: warm-up 1..W, measured 1..R
    warmup: bool
    outcome: object   # runner.RunOutcome
    metrics: object   # metrics.Metrics or None
    warnings: tuple = ()


@dataclass(frozen=True)
class SessionResult:
    """Every run of one scenario file; `interrupted` means the user stopped it early."""

    scenario: object
    cells: tuple      # scenario.Cell, in matrix order
    runs: tuple       # RunResult, in the order they ran
    interrupted: bool
    environment: dict  # what it was measured on, collected once

    @property
    def measured(self):
        return tuple(r for r in self.runs if not r.warmup)

    @property
    def complete(self):
        return (not self.interrupted and len(self.measured) == len(self.cells) * self.scenario.repeat
                and all(r.outcome.complete for r in self.measured))


def producer_warnings(scenario, metrics):
    """Say so when an open-loop producer fell behind its schedule (its latency then lies)."""
    lag = metrics.producer_lag if metrics else None
    if lag is None:
        return ()
    gap_ms = 1000.0 / scenario.arrival.rate_per_s
    if lag.p99 <= max(LAG_WARN_MS, gap_ms):  # behind by less than a slot: scheduling jitter
        return ()
    return (f"the producer fell behind its schedule (lag p99 {lag.p99:.1f} ms, max "
            f"{lag.max:.1f} ms, mean gap {gap_ms:.2f} ms): waits still count from the intended "
            "times, but the offered rate was not met; lower the rate or add producers",)


def run_session(scenario, redis_url=None, mode="local", agents="local", on_run=None,
                on_progress=None):
    """Run a scenario file's cells and repetitions; a private Redis when no redis_url."""
    on_run = on_run or (lambda cell, rep, warmup: None)
    if redis_url:
        return _run_all(scenario, redis_url, mode, agents, on_run, on_progress)
    with EmbeddedRedis() as server:
        return _run_all(scenario, server.url, mode, agents, on_run, on_progress)


def _run_all(scenario, redis_url, mode, agents, on_run, on_progress):
    env = environment.collect(connect(redis_url), mode)
    cells, runs, interrupted = tuple(scenario.cells()), [], False
    plan = [(cell, rep, warmup) for cell in cells
            for warmup, reps in ((True, scenario.warmup), (False, scenario.repeat))
            for rep in range(1, reps + 1)]
    for cell, rep, warmup in plan:
        on_run(cell, rep, warmup)
        try:
            with tempfile.TemporaryDirectory(prefix="bench-run-") as workdir:
                outcome = Run(cell.scenario, redis_url, mode, agents,
                              on_progress=on_progress).execute(workdir)
        except KeyboardInterrupt:  # between runs, or while one was starting: nothing to keep
            interrupted = True
            break
        metrics = analyze(outcome.records, cell.scenario.total_workers) if outcome.records else None
        runs.append(RunResult(cell.key, rep, warmup, outcome, metrics,
                              outcome.warnings + producer_warnings(cell.scenario, metrics)))
        if outcome.interrupted:
            interrupted = True
            break
    return SessionResult(scenario, cells, tuple(runs), interrupted, env)


def summaries(session):
    """cell key -> headline metric -> Summary (median, 95% CI) over the cell's measured runs."""
    from bench.stats import headline, summarize

    out = {}
    for cell in session.cells:
        values = {}
        for run in session.measured:
            if run.cell_key == cell.key and run.metrics:
                for name, value in headline(run.metrics.to_dict()).items():
                    values.setdefault(name, []).append(value)
        out[cell.key] = {name: summarize(v) for name, v in values.items()}
    return out
