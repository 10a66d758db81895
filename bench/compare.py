"""Compare two results cell by cell, benchstat style: medians, intervals, Mann-Whitney U, warnings.

compare() is pure (two parsed result.json dicts in, records out); render() turns the records into
a plain table, GitHub markdown or JSON.
"""

import json
import os
from dataclasses import dataclass
from typing import Optional

from tabulate import tabulate

from bench import stats
from bench.errors import BenchError

RESULT_FORMAT = "huey-priority-bench/result"
RESULT_VERSION = 2
COMPARE_FORMAT = "huey-priority-bench/compare"
COMPARE_VERSION = 1
FORMATS = ("table", "md", "json")


class CompareError(BenchError):
    """Results that cannot be read or compared."""

    exit_code = 2


@dataclass(frozen=True)
class Row:
    """One headline metric of one aligned cell: A against B."""

    cell: str
    metric: str
    a: stats.Summary
    b: stats.Summary
    delta_pct: Optional[float]  # change of the median relative to A's; None when A's median is 0
    significant: bool
    p: Optional[float]
    note: str  # "", stats.TOO_FEW or stats.UNDERPOWERED

    @property
    def delta(self):
        return self.b.median - self.a.median

    def to_dict(self):
        return {"cell": self.cell, "metric": self.metric, "a": self.a.to_dict(), "b": self.b.to_dict(),
                "delta": self.delta, "delta_pct": self.delta_pct, "significant": self.significant,
                "p": None if self.p is None else float(f"{self.p:.6g}"),  # libm-proof goldens
                "note": self.note}


@dataclass(frozen=True)
class Comparison:
    """Everything compare() found; warnings are complete sentences for people."""

    rows: tuple
    unmatched: tuple  # (side "A" or "B", cell key)
    environment: tuple  # (key, value in A, value in B) for every environment key that differs
    warnings: tuple
    alpha: float = 0.05
    confidence: float = 0.95

    def to_dict(self):
        return {"format": COMPARE_FORMAT, "version": COMPARE_VERSION, "alpha": self.alpha,
                "confidence": self.confidence, "test": "Mann-Whitney U, two-sided",
                "rows": [r.to_dict() for r in self.rows],
                "unmatched": [{"side": s, "cell": k} for s, k in self.unmatched],
                "environment_differences": [{"key": k, "a": va, "b": vb} for k, va, vb in self.environment],
                "warnings": list(self.warnings)}


def validate(doc, where):
    """Raise CompareError unless doc looks like a version-2 result."""
    if not isinstance(doc, dict) or doc.get("format") != RESULT_FORMAT:
        raise CompareError(f"{where} is not a bench result (no \"format\": \"{RESULT_FORMAT}\")")
    version = doc.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version < RESULT_VERSION:
        raise CompareError(f"{where} has result format version {version}; re-run it with this version")
    if version != RESULT_VERSION:
        raise CompareError(f"{where} has result format version {version!r}; this bench reads "
                           f"version {RESULT_VERSION} only")
    cells = doc.get("cells")
    if not isinstance(cells, list) or not all(
            isinstance(c, dict) and isinstance(c.get("key"), str) and isinstance(c.get("runs"), list)
            for c in cells):
        raise CompareError(f"{where} is malformed: \"cells\" must be a list of cells with a key and runs")


def load_result(path):
    """The parsed result.json of a result directory (or of the file itself), validated."""
    file = os.path.join(path, "result.json") if os.path.isdir(path) else path
    try:
        with open(file, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise CompareError(f"{file}: no such file (give a result directory or its result.json)") from None
    except OSError as e:
        raise CompareError(f"{file}: cannot read: {e.strerror or e}") from None
    except ValueError as e:  # bad JSON or bad UTF-8
        raise CompareError(f"{file} is not a bench result (not JSON: {e})") from None
    validate(doc, file)
    return doc


def _short(sha):
    return str(sha)[:12] if sha else "none"


def _run_label(side, key, run):
    return f"{side} {key + ' ' if key else ''}rep {run.get('rep', '?')}"


def _measured(side, key, cell, incomplete, empty):
    """metric -> values over the cell's measured runs; notes incomplete and empty runs."""
    values = {}
    for run in cell["runs"]:
        if not isinstance(run, dict) or run.get("warmup"):
            continue
        if not run.get("metrics"):
            empty.append(_run_label(side, key, run))
            continue
        if run.get("complete") is False:
            incomplete.append(_run_label(side, key, run))
        for metric, v in stats.headline(run["metrics"]).items():
            values.setdefault(metric, []).append(v)
    return values


def _row(label, metric, va, vb, alpha, confidence):
    sig, p, note = stats.significant(va, vb, alpha)
    a, b = stats.summarize(va, confidence), stats.summarize(vb, confidence)
    delta_pct = (b.median - a.median) / abs(a.median) * 100 if a.median else None
    return Row(label, metric, a, b, delta_pct, sig, p, note)


def _environment(a, b):
    ea, eb = a.get("environment") or {}, b.get("environment") or {}
    keys = list(ea) + [k for k in eb if k not in ea]
    return tuple((k, ea.get(k), eb.get(k)) for k in keys if ea.get(k) != eb.get(k))


def compare(a, b, force=False, alpha=0.05, confidence=0.95):
    """Align the cells of results a and b by key and test every headline metric both measured."""
    validate(a, "A")
    validate(b, "B")
    warnings = []
    sha_a, sha_b = a.get("scenario_sha256"), b.get("scenario_sha256")
    if sha_a != sha_b:
        msg = f"scenarios differ (sha256 {_short(sha_a)}≠{_short(sha_b)})"
        if not force:
            raise CompareError(msg + ": pass --force to compare anyway")
        warnings.append(msg + ": compared anyway (--force)")
    cells_a, cells_b = {}, {}
    for cells, doc in ((cells_a, a), (cells_b, b)):
        for c in doc["cells"]:
            cells.setdefault(c["key"], c)
    if len(cells_a) == 1 and len(cells_b) == 1:  # one cell each: the cells are what is compared
        pairs, unmatched = [(next(iter(cells_a)), next(iter(cells_b)))], ()
    else:
        pairs = [(k, k) for k in cells_a if k in cells_b]
        unmatched = tuple([("A", k) for k in cells_a if k not in cells_b] +
                          [("B", k) for k in cells_b if k not in cells_a])
    rows, incomplete, empty = [], [], []
    for ka, kb in pairs:
        label = ka if ka == kb else f"{ka or '(no matrix)'} → {kb or '(no matrix)'}"
        va = _measured("A", ka, cells_a[ka], incomplete, empty)
        vb = _measured("B", kb, cells_b[kb], incomplete, empty)
        rows += [_row(label, m, va[m], vb[m], alpha, confidence) for m in va if m in vb]
        for side, mine, other in (("A", va, vb), ("B", vb, va)):
            only = [m for m in mine if m not in other]
            if only and other:
                warnings.append(f"{label + ': ' if label else ''}only {side} measured "
                                f"{', '.join(only)}")
        if not va or not vb:
            side = " and ".join(s for s, v in (("A", va), ("B", vb)) if not v)
            warnings.append(f"{label + ': ' if label else ''}no measured run in {side}")
    for side, doc in (("A", a), ("B", b)):
        if doc.get("complete") is False and not any(r.startswith(side + " ") for r in incomplete + empty):
            warnings.append(f"{side} is marked incomplete (interrupted before every run finished)")
    if incomplete:
        warnings.append(f"incomplete runs, used for the tasks that finished: {'; '.join(incomplete)}")
    if empty:
        warnings.append(f"runs in which no task finished, left out: {'; '.join(empty)}")
    return Comparison(tuple(rows), unmatched, _environment(a, b), tuple(warnings), alpha, confidence)


def fmt_value(x):
    """About three significant digits, no trailing zeros, never an exponent above 1e-4."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x + 0.0:.3g}"  # + 0.0 turns -0.0 into 0


def _summary_cell(s):
    if s.n < 2:
        return fmt_value(s.median)
    return f"{fmt_value(s.median)} ± {fmt_value(max(s.ci_high - s.median, s.median - s.ci_low))}"


def _delta_cell(row):
    if not row.significant:
        return "~"
    if row.delta_pct is None:
        return f"{'+' if row.delta >= 0 else ''}{fmt_value(row.delta)} (from 0)"
    d = row.delta_pct
    return f"{d:+.0f}%" if abs(d) >= 100 else f"{d:+.1f}%"


def _pn_cell(row):
    n = f"n={row.a.n}+{row.b.n}"
    if row.p is None:
        return n
    return f"{'p<0.001' if row.p < 0.001 else f'p={row.p:.3f}'} {n}"


def _footnotes(c):
    pct = round(c.confidence * 100, 6)
    notes = [
        f"~: no significant difference (two-sided Mann-Whitney U test, alpha {c.alpha:g}); p and runs "
        "per side (A+B) in the last column.",
        f"A, B: median over the runs (warm-ups excluded) ± the wider side of its {pct:g}% bootstrap "
        "confidence interval; delta: change of the median from A to B.",
    ]
    if any(r.significant and r.delta_pct is None for r in c.rows):
        notes.append("A delta \"(from 0)\" is an absolute change: A's median is 0.")
    if any(r.note == stats.TOO_FEW for r in c.rows):
        notes.append("too few runs: the test needs at least 2 runs per side, and "
                     f"{stats.runs_needed(c.alpha)} or more to detect a change at alpha {c.alpha:g}.")
    for n1, n2 in sorted({(r.a.n, r.b.n) for r in c.rows if r.note == stats.UNDERPOWERED}):
        notes.append(f"with {n1}+{n2} runs the smallest possible p is {stats.smallest_p(n1, n2):.3f}, "
                     f"not below alpha {c.alpha:g}: no change can show as significant; use "
                     f"{stats.runs_needed(c.alpha)} or more runs per side.")
    for side in "AB":
        only = [k or "(no matrix)" for s, k in c.unmatched if s == side]
        if only:
            notes.append(f"cells only in {side}: {', '.join(only)}")
    if c.environment:
        notes.append("environments differ: " + "; ".join(
            f"{k} {'none' if va is None else va} → {'none' if vb is None else vb}"
            for k, va, vb in c.environment))
    return notes + list(c.warnings)


def render(comparison, fmt="table"):
    """The comparison as a plain-text table ("table"), GitHub markdown ("md") or JSON ("json")."""
    if fmt not in FORMATS:
        raise CompareError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False) + "\n"
    with_cell = any(r.cell for r in comparison.rows)
    headers = ("cell",) * with_cell + ("metric", "A", "B", "delta", "p, n")
    rows = [(r.cell,) * with_cell + (r.metric, _summary_cell(r.a), _summary_cell(r.b), _delta_cell(r),
                                     _pn_cell(r)) for r in comparison.rows]
    align = ("left",) * with_cell + ("left", "right", "right", "right", "left")
    table = (tabulate(rows, headers=headers, tablefmt="simple" if fmt == "table" else "github",
                      disable_numparse=True, colalign=align) if rows else "No metric to compare.")
    notes = _footnotes(comparison)
    if fmt == "md":
        return table + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    return table + "\n\n" + "\n".join(notes) + "\n"
