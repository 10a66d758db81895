"""Results on disk (result.json, events.csv, summary.md) and the tables shown to people."""

import datetime as dt
import json
import os
import tempfile

from tabulate import tabulate

from bench.records import write_events

RESULT_FORMAT = "huey-priority-bench/result"
RESULT_VERSION = 1
MAX_ORDER_RUNS = 40  # a start order longer than this many runs is cut with a count


def utc_stamp(now=None):
    return (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def new_result_dir(results_root, scenario_name, now=None):
    """Create results/<scenario>/<UTC stamp>[-N]/; never reuses an existing directory."""
    parent = os.path.join(results_root, scenario_name)
    os.makedirs(parent, exist_ok=True)
    stamp = utc_stamp(now)
    for n in range(1, 1000):
        path = os.path.join(parent, stamp if n == 1 else f"{stamp}-{n}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"too many results for {stamp} in {parent}")


def _atomic_write(path, write):
    """Write through a temp file and rename, so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _write_text(path, text):
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    _atomic_write(path, write)


def result_document(outcome, metrics):
    """The versioned JSON result (documented key by key in README)."""
    return {
        "format": RESULT_FORMAT,
        "version": RESULT_VERSION,
        "run_id": outcome.run_id,
        "scenario": outcome.scenario.to_dict(),
        "scenario_file": outcome.scenario.source,
        "complete": outcome.complete,
        "problems": list(outcome.problems),
        "planned_tasks": len(outcome.planned),
        "lost_tasks": outcome.lost_tasks,
        "environment": outcome.environment,
        "timing": outcome.timing,
        "clocks": outcome.clocks,
        "metrics": metrics.to_dict() if metrics else None,
    }


def write_result(results_root, outcome, metrics, title):
    """Write the three files of a run; result.json last, so its presence means the rest is there."""
    path = new_result_dir(results_root, outcome.scenario.name)
    _atomic_write(os.path.join(path, "events.csv"), lambda tmp: write_events(tmp, outcome.records))
    _write_text(os.path.join(path, "summary.md"), title + "\n\n" + render_summary(
        outcome.records, metrics, header=run_header(outcome)))
    _write_text(os.path.join(path, "result.json"),
                json.dumps(result_document(outcome, metrics), indent=2) + "\n")
    return path


def run_header(outcome):
    """Lines that say what was run and whether it is whole."""
    sc, env = outcome.scenario, outcome.environment
    lines = [sc.description] if sc.description else []
    lines.append(
        f"backend `{sc.backend}` · {sc.consumers} consumer(s) × {sc.workers} {sc.worker_type} "
        f"worker(s) · consumers started {sc.arrival.start} enqueue · order {sc.arrival.order} · "
        f"seed {sc.seed} · huey {env.get('huey')} · Redis {env.get('redis_server')} · "
        f"{env.get('mode')} mode")
    if outcome.complete:
        lines.append(f"**Complete**: {len(outcome.records)} of {len(outcome.planned)} tasks.")
    else:
        lines.append(f"**INCOMPLETE**: {len(outcome.records)} of {len(outcome.planned)} tasks "
                     f"reported; {'; '.join(outcome.problems)}. Numbers below cover only the "
                     "tasks that finished.")
    return "\n\n".join(lines)


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
