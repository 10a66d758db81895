"""PNG plots of a run: wait CDF per class, start-order timeline, p99 wait across a sweep.

Every drawing function writes one PNG of 900 x 500 pixels (9 x 5 inches at 100 dpi) and returns
its path. The file appears atomically: it is drawn into a temporary file in the same directory and
moved over `path` with os.replace, so a reader never sees half a PNG.

No pyplot: each call builds its own matplotlib Figure on an Agg canvas, so nothing global is
touched (no backend switch, no figure registry to leak into) and separate threads may draw
separate plots. matplotlib and numpy are imported inside the functions, so `import bench.plots`
costs nothing.

Classes keep one colour everywhere: class_palette() gives them a fixed palette in priority
order, highest priority first. Red is left out of it: the timeline uses red for inversions.
"""

import os
import secrets
from numbers import Real

WIDTH_IN, HEIGHT_IN, DPI = 9.0, 5.0, 100  # 900 x 500 px
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
FLOOR_MS = 0.01  # log axes draw values below this (zero and negative ones too) at this floor
WAIT_ALPHA = 0.45  # opacity of the timeline's wait lines

# matplotlib's tab10 without its red, highest priority first. More classes reuse the colours.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
INVERSION_COLOR = "#d62728"
INVERSION_LABEL = "started while higher priority waited (inversion)"


def class_order(priorities):
    """Class names by priority, highest first; equal priorities by name."""
    return sorted(priorities, key=lambda c: (-priorities[c], c))


def class_palette(priorities):
    """{class: colour hex} for {class: priority}: PALETTE in class_order(), cycling past 9 classes."""
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(class_order(priorities))}


def class_priorities(records):
    """{class: priority} of records; ValueError if a class has two priorities (as metrics does)."""
    priority_of = {}
    for name, p in {(r.cls, r.priority) for r in records}:
        if priority_of.setdefault(name, p) != p:
            raise ValueError(f"class {name!r} has two priorities: {min(p, priority_of[name])} and "
                             f"{max(p, priority_of[name])}")
    return priority_of


def inverted_starts(records):
    """Seqs of the tasks T that started while a higher-priority task U was waiting.

    U waits from its enqueue_ns to its start_ns: T is inverted if U.priority > T.priority and
    U.enqueue_ns <= T.start_ns < U.start_ns. That is metrics' definition, so len() of the result is
    the "inverted starts" count. It uses the actual enqueue, not an open-loop intended time: the queue
    cannot prefer a task it has not been given yet.

    For each priority level, counts over sorted arrays tell how many tasks of higher priority are
    waiting at each start instant: O(P * n log n) in numpy, P = number of distinct priorities.
    """
    import numpy as np

    records = records if isinstance(records, (list, tuple)) else list(records)
    if not records:
        return set()
    seq = np.fromiter((r.seq for r in records), np.int64, len(records))
    prio = np.fromiter((r.priority for r in records), np.int64, len(records))
    enq = np.fromiter((r.enqueue_ns for r in records), np.int64, len(records))
    start = np.fromiter((r.start_ns for r in records), np.int64, len(records))
    inverted = np.zeros(len(records), bool)
    levels = np.unique(prio)[::-1]  # highest first
    waits = enq < start  # only these are ever waiting at some instant
    for above, level in zip(levels, levels[1:]):
        # Tasks of priority >= above (all higher than level) that waited; does one wait at each start?
        higher = waits & (prio >= above)
        if not higher.any():
            continue
        joins, leaves = np.sort(enq[higher]), np.sort(start[higher])
        mine = prio == level
        t = start[mine]
        waiting = (np.searchsorted(joins, t, "right") - np.searchsorted(leaves, t, "right")) > 0
        inverted[np.flatnonzero(mine)[waiting]] = True
    return set(seq[inverted].tolist())


def wait_cdf(path, records, title):
    """Per class, the empirical CDF of wait = start - arrival, in ms, on a log x axis.

    Arrival is the open-loop intended time when a record has one (TaskRecord.arrival_ns). Waits below
    FLOOR_MS (zero or negative ones included) are drawn at FLOOR_MS, and a footnote says how many.
    Legend: "CLASS (prio P, n=N)", highest priority first. Returns path.
    """
    import numpy as np

    records = _nonempty(records)
    priorities = class_priorities(records)
    colors = class_palette(priorities)
    waits = {c: [] for c in priorities}
    for r in records:
        waits[r.cls].append(r.start_ns - r.arrival_ns)

    fig, ax = _figure()
    clipped = nonpositive = total = 0
    for c in class_order(priorities):
        ms = np.sort(np.asarray(waits[c], dtype=np.float64)) / NS_PER_MS
        total += len(ms)
        below = ms < FLOOR_MS
        clipped += int(below.sum())
        nonpositive += int((ms <= 0).sum())
        ms[below] = FLOOR_MS
        y = np.arange(1, len(ms) + 1) / len(ms)
        ax.step(np.concatenate(([ms[0]], ms)), np.concatenate(([0.0], y)), where="post",
                color=colors[c], linewidth=1.8,
                label=f"{c} (prio {priorities[c]}, n={len(ms):,})")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)  # a little headroom: the curves end at 1, clear of the frame
    ax.set_yticks([0, 0.25, 0.5, 0.75, 0.9, 1])
    ax.grid(True, which="major", color="0.88")
    ax.grid(True, which="minor", axis="x", color="0.95")
    ax.set_axisbelow(True)
    ax.set_xlabel("wait: start − arrival (ms, log scale)")
    ax.set_ylabel("fraction of tasks with wait ≤ x")
    ax.set_title(title)
    # Upper left is where CDFs rarely are: left of where the fastest class reaches the top.
    ax.legend(loc="upper left", fontsize=9, framealpha=0.9)
    if clipped:
        why = f", {nonpositive:,} of them ≤ 0" if nonpositive else ""
        _footnote(fig, f"{clipped:,} of {total:,} waits were below {FLOOR_MS:g} ms{why}; "
                       f"they are drawn at {FLOOR_MS:g} ms.")
    return _save(fig, path)


def timeline(path, records, title):
    """Start-order timeline: one lane per class, highest priority at the top.

    x = seconds since the first arrival (TaskRecord.arrival_ns: the intended time in open loop). Each
    task is a dot at its start, in its class's lane and colour, with a faint line back to its arrival
    (its wait); a hash of seq spreads the tasks over the lane's height so that they do not all sit on
    one line. A red x marks an inverted start (inverted_starts()): the task started while a
    higher-priority task was waiting. A perfect priority queue shows no x: a lower lane's dots only
    begin where the wait lines of the lanes above it have ended. Vectorised, rasterised: 100,000
    tasks take a second or two. Returns path.
    """
    import numpy as np
    from matplotlib.lines import Line2D

    records = _nonempty(records)
    priorities = class_priorities(records)
    order = class_order(priorities)
    colors = class_palette(priorities)
    lane_of = {c: i for i, c in enumerate(order)}
    n = len(records)

    seq = np.fromiter((r.seq for r in records), np.int64, n)
    lane = np.fromiter((lane_of[r.cls] for r in records), np.int64, n)
    arrival = np.fromiter((r.arrival_ns for r in records), np.int64, n)
    start = np.fromiter((r.start_ns for r in records), np.int64, n)
    t0 = arrival.min()
    x_arr = (arrival - t0) / NS_PER_S
    x_start = (start - t0) / NS_PER_S
    # A fixed pseudo-random spot in [-0.36, 0.36] of the lane per task (Knuth's multiplicative hash).
    h = (seq.astype(np.uint64) * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    y = lane + (h.astype(np.float64) / 2.0 ** 32 - 0.5) * 0.72
    rgb = np.array([_rgb(colors[c]) for c in order])[lane]

    fig, ax = _figure()
    # Wait lines: per class one path of segments separated by NaN breaks, which Agg draws far faster
    # than a LineCollection of 100,000 paths. Overlaps within a class do not darken: a uniform band.
    waited = x_start > x_arr
    for k, c in enumerate(order):
        w = np.flatnonzero(waited & (lane == k))
        if len(w):
            xs = np.column_stack([x_arr[w], x_start[w], np.full(len(w), np.nan)]).ravel()
            ys = np.column_stack([y[w], y[w], np.full(len(w), np.nan)]).ravel()
            ax.plot(xs, ys, color=colors[c], alpha=WAIT_ALPHA, linewidth=0.8,
                    solid_capstyle="butt", rasterized=True, zorder=1, scalex=False, scaley=False)
    size = _marker_size(n)
    ax.scatter(x_start, y, s=size, c=rgb, marker="o", linewidths=0, rasterized=True, zorder=2)

    inverted = inverted_starts(records)
    if inverted:
        bad = np.isin(seq, np.fromiter(inverted, np.int64, len(inverted)))
        ax.scatter(x_start[bad], y[bad], s=min(max(4 * size, 12), 40), marker="x", c=INVERSION_COLOR,
                   linewidths=1.2 if n <= 5000 else 0.7, rasterized=True, zorder=3)

    # A start before its arrival (clock skew) may lie left of 0; all at one instant still gets 1 ms.
    left = min(0.0, float(x_start.min()))
    right = max(float(x_start.max()), float(x_arr.max()), left + 0.001)
    pad = 0.01 * (right - left)
    ax.set_xlim(left - pad, right + pad)
    ax.set_ylim(len(order) - 0.5, -0.5)  # lane 0, the highest priority, at the top
    sep = "\n" if len(order) <= 8 else " "  # two-line labels while the lanes are tall enough
    ax.set_yticks(range(len(order)), [f"{c}{sep}prio {priorities[c]}" for c in order])
    for label, c in zip(ax.get_yticklabels(), order):
        label.set_color(colors[c])
        label.set_fontweight("bold")
    for k in range(1, len(order)):
        ax.axhline(k - 0.5, color="0.8", linewidth=0.8)
    ax.grid(True, axis="x", color="0.9")
    ax.set_axisbelow(True)
    ax.set_xlabel("time since first arrival (s)")
    ax.set_title(title)
    gray = "0.35"
    handles = [
        Line2D([], [], linestyle="", marker="o", markersize=5, color=gray,
               label="start (colour = class)"),
        Line2D([], [], color=gray, alpha=0.6, linewidth=1.5, label="wait: arrival → start"),
        Line2D([], [], linestyle="", marker="x", markersize=7, markeredgewidth=1.5,
               color=INVERSION_COLOR, label=f"{INVERSION_LABEL}: {len(inverted):,} of {n:,}"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    return _save(fig, path)


def sweep(path, series, title, *, x_label, y_label="p99 wait (ms)", colors=None):
    """One line with markers per series: a metric (default p99 wait, ms) against a swept parameter.

    series: {label: [(x, y_ms), ...]}, drawn and listed in the legend in mapping order. To sweep one
    field of a matrix, make one series per class and per combination of the other fields, e.g.
    "hi · thread" and "hi · process" for x = workers.
    colors: optional {label: colour}. By default labels take the palette in series order; give
    class_palette() colours to keep class colours, e.g. {f"{c} · {w}": pal[c] ...}. Series sharing
    a colour get different line styles and markers, in series order.

    x: strings (say worker types) make a categorical axis in first-seen order; numbers make a
    numeric axis, log base 2 when all are positive integers spanning at least 4x (1, 2, 4, 8 workers).
    y: log scale. A y of None or NaN is a missing point (the line breaks there); ys below FLOOR_MS
    are drawn at FLOOR_MS and a footnote says so. Returns path.
    """
    import numpy as np
    from matplotlib.ticker import NullLocator

    if not series or not any(series.values()):
        raise ValueError("sweep: no points to draw")
    labels = list(series)
    if colors is None:
        colors = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}
    missing = [label for label in labels if label not in colors]
    if missing:
        raise ValueError(f"sweep: no colour for series {missing}")

    xs = [x for points in series.values() for x, _ in points]
    categorical = any(not _is_number(x) for x in xs)
    log2 = False
    if categorical:
        categories = list(dict.fromkeys(map(str, xs)))
        position = {c: i for i, c in enumerate(categories)}
    else:
        log2 = (all(float(x).is_integer() and x > 0 for x in xs)
                and max(xs) >= 4 * min(xs))

    styles = ("-", "--", ":", "-.")
    markers = ("o", "s", "^", "D", "v", "P", "X")
    seen_color = {}
    fig, ax = _figure()
    clipped = total = 0
    for label in labels:
        points = series[label]
        if categorical:
            pts = sorted(((position[str(x)], y) for x, y in points), key=lambda p: p[0])
        else:
            pts = sorted(((float(x), y) for x, y in points), key=lambda p: p[0])
        x = np.array([p[0] for p in pts], dtype=np.float64)
        y = np.array([np.nan if p[1] is None else float(p[1]) for p in pts], dtype=np.float64)
        total += int(np.isfinite(y).sum())
        below = y < FLOOR_MS
        clipped += int(below.sum())
        y[below] = FLOOR_MS
        k = seen_color[colors[label]] = seen_color.get(colors[label], -1) + 1
        ax.plot(x, y, color=colors[label], linestyle=styles[k % len(styles)],
                marker=markers[k % len(markers)], markersize=6, linewidth=1.8, label=label)

    ax.set_yscale("log")
    if categorical:
        ax.set_xticks(range(len(categories)), categories)
        ax.set_xlim(-0.4, len(categories) - 0.6)
    else:
        values = sorted(set(map(float, xs)))
        if log2:
            ax.set_xscale("log", base=2)
        if len(values) <= 12:
            ax.set_xticks(values, [f"{v:g}" for v in values])
            if log2:
                ax.xaxis.set_minor_locator(NullLocator())
    ax.grid(True, which="major", color="0.88")
    ax.grid(True, which="minor", axis="y", color="0.95")
    ax.set_axisbelow(True)
    ax.set_xlabel(x_label + (" (log2 scale)" if not categorical and log2 else ""))
    ax.set_ylabel(y_label + ", log scale")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=9, framealpha=0.9)
    if clipped:
        _footnote(fig, f"{clipped:,} of {total:,} values were below {FLOOR_MS:g} ms; "
                       f"they are drawn at {FLOOR_MS:g} ms.")
    return _save(fig, path)


# --- helpers -----------------------------------------------------------------------------------


def _nonempty(records):
    records = records if isinstance(records, (list, tuple)) else list(records)
    if not records:
        raise ValueError("no records to plot")
    return records


def _is_number(x):
    return isinstance(x, Real) and not isinstance(x, bool)


def _rgb(hex_color):
    return tuple(int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5))


def _marker_size(n):
    """Scatter area (pt^2): big enough to see a few hundred tasks, small enough for 100,000."""
    return float(min(16.0, max(0.5, 5000.0 / n)))


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _footnote(fig, text):
    """A grey note at the bottom left; the layout leaves room for it."""
    fig.get_layout_engine().set(rect=(0, 0.045, 1, 0.955))
    fig.text(0.008, 0.012, text, fontsize=8, color="0.35", ha="left", va="bottom")


def _save(fig, path):
    """Draw fig as PNG into a temporary file next to path, then move it over path."""
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open honours the umask (mkstemp would leave the PNG readable by its owner only).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=DPI)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
