"""The tables shown to people: in summary.md and on the terminal (pure text, no I/O)."""

from tabulate import tabulate


MAX_ORDER_RUNS = 40  # a start order longer than this many runs is cut with a count


def scenario_line(sc, env):
    """What was run, in one line; fields a matrix varies are named by the matrix only."""
    matrix = dict(sc.matrix)
    arrival = sc.arrival
    pace = "burst"
    if arrival.mode == "rate":
        rate = "…" if "rate" in matrix else f"{arrival.rate_per_s:g}/s"
        pace = f"open loop {rate} {arrival.process}"
    shown = {f: "…" if f in matrix else getattr(sc, f)
             for f in ("backend", "consumers", "workers", "worker_type", "seed")}
    parts = [f"backend `{shown['backend']}`",
             f"{shown['consumers']} consumer(s) × {shown['workers']} {shown['worker_type']} "
             "worker(s)", f"consumers started {arrival.start} enqueue", f"order {arrival.order}",
             pace, f"seed {shown['seed']}"]
    if matrix:
        parts.append("matrix " + " × ".join(f"{k} {list(v)}" for k, v in matrix.items()))
    if sc.repeat > 1 or sc.warmup:
        parts.append(f"{sc.repeat} measured run(s) per cell after {sc.warmup} warm-up(s)")
    if env:
        parts.append(f"huey {env.get('huey')} · Redis {env.get('redis_server')} · "
                     f"{env.get('mode')} mode")
    return " · ".join(parts)


def status_lines(session):
    """Whether the scenario run is whole, and everything that went wrong or looks off."""
    measured = session.measured
    lines = []
    if session.complete:
        lines.append(f"**Complete**: {len(measured)} measured run(s), every task reported.")
    else:
        why = ["interrupted by the user"] if session.interrupted else []
        why += [f"{r.cell_key or 'run'} #{r.rep}: {'; '.join(r.outcome.problems)}"
                for r in session.runs if r.outcome.problems]
        lines.append("**INCOMPLETE**: " + ("; ".join(why) or "runs missing") +
                     ". Numbers below cover only the tasks that finished.")
    warnings = [f"- {r.cell_key or 'run'} #{r.rep}: {w}" for r in session.runs for w in r.warnings]
    if warnings:
        lines.append("Warnings:\n" + "\n".join(warnings))
    return lines


def fmt_ms(value):
    """Milliseconds with about three significant digits, no false precision."""
    a = abs(value)
    return f"{value:.0f}" if a >= 100 else f"{value:.1f}" if a >= 10 else f"{value:.2f}"


def class_labels(records):
    """seq -> 'lo 3': class name and the task's rank within its class by seq."""
    labels, counts = {}, {}
    for r in sorted(records, key=lambda r: r.seq):
        labels[r.seq] = (r.cls, counts.get(r.cls, 0))
        counts[r.cls] = counts.get(r.cls, 0) + 1
    return labels


def compact_order(seqs, labels):
    """'lo 0 · hi 0–9 · lo 1–9': runs of one class with consecutive indices folded."""
    runs = []
    for seq in seqs:
        cls, idx = labels[seq]
        if runs and runs[-1][0] == cls and runs[-1][2] == idx - 1:
            runs[-1][2] = idx
        else:
            runs.append([cls, idx, idx])
    parts = [f"{c} {a}" if a == b else f"{c} {a}–{b}" for c, a, b in runs[:MAX_ORDER_RUNS]]
    if len(runs) > MAX_ORDER_RUNS:
        parts.append(f"… ({len(runs) - MAX_ORDER_RUNS} more runs)")
    return " · ".join(parts)


def ordering_table(metrics):
    rows = [
        ("tasks", metrics.tasks),
        ("workers (oracle)", metrics.workers),
        ("inversions", metrics.inversions),
        ("inverted starts", metrics.inverted_starts),
        ("Kendall tau distance to oracle",
         f"{metrics.kendall_tau_distance:.3f} ({metrics.kendall_tau_discordant} discordant pairs)"),
        ("throughput", f"{metrics.throughput_per_s:.1f} tasks/s"),
        ("makespan", f"{fmt_ms(metrics.makespan_ms)} ms"),
        ("lowest class's worst wait", f"{fmt_ms(metrics.starvation_ms)} ms"),
    ]
    return tabulate(rows, headers=("ordering", "value"), tablefmt="github")


def latency_table(metrics):
    headers = ("class", "prio", "n", "wait p50", "wait p90", "wait p99", "wait max",
               "oracle p99", "excess p99¹", "service mean", "sojourn p99", "tasks/s")
    rows = [(c.name, c.priority, c.count, fmt_ms(c.wait.p50), fmt_ms(c.wait.p90),
             fmt_ms(c.wait.p99), fmt_ms(c.wait.max), fmt_ms(c.oracle_wait.p99),
             fmt_ms(c.excess_wait.p99), fmt_ms(c.service.mean), fmt_ms(c.sojourn.p99),
             f"{c.throughput_per_s:.1f}") for c in metrics.classes]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def render_summary(records, metrics, header=""):
    """The ordering and latency tables as GitHub markdown (also printed to the terminal)."""
    parts = [header] if header else []
    if metrics is None:
        parts.append("No task finished: nothing to measure.")
        return "\n\n".join(parts) + "\n"
    labels = class_labels(records)
    parts += [
        "## Ordering", ordering_table(metrics),
        f"Start order, observed: {compact_order(metrics.start_order, labels)}",
        f"Start order, oracle:   {compact_order(metrics.oracle_order, labels)}",
        "## Latency per class (ms)", latency_table(metrics),
        "wait = start − enqueue; sojourn = end − enqueue; service = end − start. "
        "Oracle: an ideal non-preemptive priority scheduler given the same arrivals, service "
        "times and workers. ¹ excess = observed − oracle: the part of the wait that is not "
        "forced by non-preemption.",
    ]
    return "\n\n".join(parts) + "\n"


def fmt_summary(summary, fmt=fmt_ms):
    """'12.3 [11.9, 13.0]' for several runs, plain '12.3' for one."""
    if summary.n < 2:
        return fmt(summary.median)
    return f"{fmt(summary.median)} [{fmt(summary.ci_low)}, {fmt(summary.ci_high)}]"


def _fmt_count(value):
    return f"{value:g}"


def cells_table(session, summaries):
    """One row per cell: headline metrics as median [95% CI] over its measured runs."""
    classes = [c.name for c in sorted(session.scenario.classes, key=lambda c: -c.priority)]
    columns = [("inversions", "inversions", _fmt_count),
               ("Kendall τ", "kendall_tau_distance", lambda v: f"{v:.3f}"),
               ("tasks/s", "throughput_per_s", lambda v: f"{v:.1f}")]
    columns += [(f"{c} wait p99 ms", f"{c}.wait_p99_ms", fmt_ms) for c in classes]
    columns.append(("lowest worst wait ms", "starvation_ms", fmt_ms))
    rows = []
    for cell in session.cells:
        summary = summaries.get(cell.key, {})
        runs = [r for r in session.measured if r.cell_key == cell.key]
        done = sum(1 for r in runs if r.outcome.complete)
        rows.append([cell.key or session.scenario.name, f"{done}/{len(runs)}"] +
                    [fmt_summary(summary[key], f) if key in summary else "–"
                     for _, key, f in columns])
    return tabulate(rows, headers=["cell", "complete runs"] + [h for h, _, _ in columns],
                    tablefmt="github", disable_numparse=True)


def render_session(session, summaries, plot_links=()):
    """summary.md: what ran, whether it is whole, the per-cell table, details, plots."""
    sc = session.scenario
    env = session.environment
    parts = [f"# {sc.name}"] + ([sc.description] if sc.description else [])
    parts += [scenario_line(sc, env)] + status_lines(session)
    if len(session.cells) > 1 or sc.repeat > 1:
        parts += ["## Cells", cells_table(session, summaries),
                  "Median over the measured runs of each cell, [95% confidence interval] by "
                  "bootstrap of the median; warm-up runs are left out. Per-run numbers are in "
                  "result.json, per-task events in events/."]
    if len(session.cells) == 1:
        first = next((r for r in session.measured if r.metrics), None)
        if first:
            label = f" (run 1 of {sc.repeat})" if sc.repeat > 1 else ""
            body = render_summary(first.outcome.records, first.metrics)
            parts.append(body.replace("## Ordering", f"## Ordering{label}", 1).rstrip())
        elif not session.measured:
            parts.append("No run finished: nothing to measure.")
    parts += [f"![{alt}]({link})" for alt, link in plot_links]
    return "\n\n".join(parts) + "\n"
