"""Results on disk: one directory per scenario run, written so a crash never fakes a whole one.

results/<scenario>/<UTC stamp>/
  result.json   versioned document: scenario, environment, every cell and run, summaries
  summary.md    the tables (also printed), linking the plots
  events.csv    one row per task, when the scenario has one cell and one run; otherwise
  events/<cell>-rep<N>.csv (and -warmup<N>) per run
  plots/*.png   wait CDF and start-order timeline per cell, p99 wait vs each swept field
"""

import datetime as dt
import hashlib
import json
import os
import re
import tempfile

from bench.records import write_events

RESULT_FORMAT = "huey-priority-bench/result"
RESULT_VERSION = 2


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


def atomic_write(path, write):
    """Write through a temp file and rename, so a crash never leaves half a file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from the group
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text):
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    atomic_write(path, write)


def slug(cell_key):
    """'workers=2,worker_type=thread' -> 'workers-2_worker_type-thread' (file-name safe)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", cell_key.replace(",", "_")) or "run"


def events_name(session, run):
    """Relative path of a run's events file."""
    if len(session.cells) == 1 and session.scenario.repeat + session.scenario.warmup == 1:
        return "events.csv"
    kind = "warmup" if run.warmup else "rep"
    return f"events/{slug(run.cell_key)}-{kind}{run.rep}.csv"


def file_sha256(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except (OSError, TypeError):
        return None


def run_document(session, run):
    o = run.outcome
    return {"rep": run.rep, "warmup": run.warmup, "run_id": o.run_id, "complete": o.complete,
            "problems": list(o.problems), "warnings": list(run.warnings),
            "planned_tasks": len(o.planned), "lost_tasks": o.lost_tasks,
            "events": events_name(session, run), "timing": o.timing, "clocks": o.clocks,
            "metrics": run.metrics.to_dict() if run.metrics else None}


def result_document(session, summaries):
    """The versioned JSON result (documented key by key in README)."""
    sc = session.scenario
    return {
        "format": RESULT_FORMAT,
        "version": RESULT_VERSION,
        "scenario": sc.to_dict(),
        "scenario_file": sc.source,
        "scenario_sha256": file_sha256(sc.source),
        "complete": session.complete,
        "interrupted": session.interrupted,
        "environment": session.environment,
        "cells": [{"key": cell.key, "params": dict(cell.params),
                   "runs": [run_document(session, r) for r in session.runs
                            if r.cell_key == cell.key],
                   "summary": {k: v.to_dict() for k, v in summaries.get(cell.key, {}).items()}}
                  for cell in session.cells],
    }


def write_session(results_root, session, summaries, render, draw_plots=None):
    """Write a scenario run's directory; result.json goes last, so it vouches for the rest.

    draw_plots(dir) draws the PNGs and returns their (alt text, relative path) links;
    render(links) returns summary.md's text. Returns (directory, summary text).
    """
    path = new_result_dir(results_root, session.scenario.name)
    for run in session.runs:
        atomic_write(os.path.join(path, events_name(session, run)),
                     lambda tmp, r=run: write_events(tmp, r.outcome.records))
    links = draw_plots(path) if draw_plots else ()
    text = render(links)
    write_text(os.path.join(path, "summary.md"), text)
    write_text(os.path.join(path, "result.json"),
               json.dumps(result_document(session, summaries), indent=2) + "\n")
    return path, text


def session_plots(session, summaries, out_dir):
    """Draw each cell's wait CDF and timeline, and p99 wait per class against each swept field.

    Returns (alt text, relative path) links for summary.md.
    """
    from bench import plots

    sc = session.scenario
    links = []
    os.makedirs(os.path.join(out_dir, "plots"), exist_ok=True)
    for cell in session.cells:
        run = next((r for r in session.measured if r.cell_key == cell.key and r.outcome.records),
                   None)
        if run is None:
            continue
        stem = f"plots/{slug(cell.key)}-" if cell.key else "plots/"
        about = f"{sc.name} {cell.key}".strip()
        records = run.outcome.records
        plots.wait_cdf(os.path.join(out_dir, stem + "wait-cdf.png"), records,
                       f"{about}: wait per class (CDF)")
        plots.timeline(os.path.join(out_dir, stem + "timeline.png"), records,
                       f"{about}: start-order timeline (run {run.rep})")
        links += [(f"wait CDF {cell.key}".strip(), stem + "wait-cdf.png"),
                  (f"timeline {cell.key}".strip(), stem + "timeline.png")]
    palette = plots.class_palette({c.name: c.priority for c in sc.classes})
    for field, values in sc.matrix:
        if len(values) < 2:
            continue
        series = {}
        for cell in session.cells:
            params = dict(cell.params)
            others = " · ".join(str(v) for k, v in params.items() if k != field)
            for c in sorted(sc.classes, key=lambda c: -c.priority):
                summary = summaries.get(cell.key, {}).get(f"{c.name}.wait_p99_ms")
                label = c.name + (f" · {others}" if others else "")
                series.setdefault(label, []).append(
                    (params[field], summary.median if summary else None))
        path = f"plots/sweep-{field}.png"
        plots.sweep(os.path.join(out_dir, path), series, f"{sc.name}: p99 wait per class by {field}",
                    x_label=field, colors={label: palette[label.split(" · ")[0]] for label in series})
        links.append((f"p99 wait by {field}", path))
    return links
