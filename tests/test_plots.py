"""bench.plots: real PNG files of the expected size, and the timeline's inversion detection."""

import os
import random
import struct
import subprocess
import sys
import threading
from itertools import combinations

import pytest

from bench import metrics, plots
from bench.records import TaskRecord

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = 1_700_000_000_000_000_000  # epoch ns, so the arithmetic meets realistic magnitudes
MS = 1_000_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def png_size(path):
    """(width, height) from the IHDR chunk, after checking the signature."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_SIGNATURE, head[:8]
    length, kind = struct.unpack(">I4s", head[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", head[16:24])


def assert_png(path, expected_path):
    assert path == os.fspath(expected_path)
    assert os.path.getsize(path) > 1000
    assert png_size(path) == (900, 500)
    # Nothing left behind by the atomic write.
    assert not [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".tmp")]


def rec(seq, cls, prio, enq, start, end=None, intended=None):
    """A record with times given in ms after T0."""
    start_ns = T0 + start * MS
    return TaskRecord(seq, cls, prio, T0 + enq * MS, start_ns,
                      start_ns + MS if end is None else T0 + end * MS, "w0",
                      None if intended is None else T0 + intended * MS)


def simulated(n=300, workers=2, mix=0.2, seed=1, open_loop=False):
    """Three classes through W workers taking the best waiting task, or with prob mix the oldest."""
    rng = random.Random(seed)
    classes = (("hi", 10), ("mid", 5), ("lo", 0))
    tasks = []
    t = 0
    for s in range(n):
        name, prio = rng.choices(classes, weights=(1, 2, 3))[0]
        t += rng.randrange(0, 3 * MS // workers)
        enq = t + (rng.randrange(0, 2 * MS) if open_loop else 0)
        tasks.append((enq, s, name, prio, rng.randrange(MS // 2, 6 * MS), t))
    tasks.sort()
    free = [0] * workers
    waiting, out, i = [], [], 0
    while len(out) < n:
        w = min(range(workers), key=free.__getitem__)
        now = free[w]
        if not waiting and tasks[i][0] > now:
            now = tasks[i][0]
        while i < n and tasks[i][0] <= now:
            waiting.append(tasks[i])
            i += 1
        pick = (min(waiting, key=lambda a: (a[0], a[1])) if rng.random() < mix
                else min(waiting, key=lambda a: (-a[3], a[0], a[1])))
        waiting.remove(pick)
        enq, s, name, prio, service, intended = pick
        # Some tasks start exactly at their arrival: zero waits, which the CDF must clip.
        out.append(TaskRecord(s, name, prio, T0 + enq, T0 + now, T0 + now + service, f"w{w}",
                              T0 + intended if open_loop else None))
        free[w] = now + service
    return out


def brute_inverted(records):
    return {t.seq for t in records
            if any(u.priority > t.priority and u.enqueue_ns <= t.start_ns < u.start_ns
                   for u in records)}


# --- inversion detection ---------------------------------------------------------------------


HAND_TRACE = [
    rec(1, "lo", 0, enq=0, start=0),       # nothing waits yet
    rec(2, "hi", 10, enq=10, start=50),    # hi waits over [10, 50)
    rec(3, "lo", 0, enq=5, start=20),      # inverted: hi 2 waits
    rec(4, "mid", 5, enq=15, start=30),    # inverted: hi 2 waits
    rec(7, "lo", 0, enq=0, start=50),      # starts with hi 2, at the same instant: not inverted
    rec(6, "mid", 5, enq=55, start=70),    # mid waits over [55, 70)
    rec(5, "lo", 0, enq=25, start=60),     # inverted: mid 6 waits
    rec(9, "hi", 10, enq=80, start=90),    # enqueued at the very instant 8 starts ...
    rec(8, "mid", 5, enq=70, start=80),    # ... so 8 is inverted (the wait includes enqueue_ns)
    rec(12, "lo", 0, enq=91, start=200),   # lo waits long ...
    rec(11, "lo", 0, enq=90, start=92),    # ... but an equal priority overtaking it is no inversion
    rec(10, "hi", 10, enq=93, start=95),   # nothing ranks above hi
    rec(13, "hi", 10, enq=300, start=250),  # clock skew: start before enqueue, never waiting
    rec(14, "lo", 0, enq=240, start=260),  # so this is not inverted
]


def test_inverted_starts_hand_built_trace():
    assert plots.inverted_starts(HAND_TRACE) == {3, 4, 5, 8}
    assert plots.inverted_starts(reversed(HAND_TRACE)) == {3, 4, 5, 8}  # any iterable, any order
    assert metrics.count_inversions(HAND_TRACE)[1] == 4


def test_inverted_starts_use_enqueue_not_the_intended_time():
    # Open loop: hi was due at 0 but only enqueued at 100; lo starting at 50 overtook nothing.
    trace = [rec(1, "hi", 10, enq=100, start=200, intended=0), rec(2, "lo", 0, enq=0, start=50)]
    assert plots.inverted_starts(trace) == set()
    trace.append(rec(3, "lo", 0, enq=0, start=150))  # but at 150 hi was in the queue
    assert plots.inverted_starts(trace) == {3}


def test_inverted_starts_trivial_cases():
    assert plots.inverted_starts([]) == set()
    one_class = [rec(s, "only", 1, enq=0, start=s) for s in range(10)]
    assert plots.inverted_starts(one_class) == set()


def test_inverted_starts_match_brute_force_and_metrics():
    rng = random.Random(7)
    for trial in range(20):
        records = []
        for s in range(150):
            enq = rng.randrange(0, 50)
            start = enq + rng.choice((0, 0, rng.randrange(0, 40)))  # many ties and zero waits
            if rng.random() < 0.05:
                start = max(0, enq - rng.randrange(1, 5))  # clock skew
            prio = rng.choice((0, 1, 2, 5, 9))
            records.append(rec(s, f"c{prio}", prio, enq=enq, start=start))
        got = plots.inverted_starts(records)
        assert got == brute_inverted(records), trial
        assert len(got) == metrics.count_inversions(records)[1], trial


# --- palette ---------------------------------------------------------------------------------


def test_class_palette_is_fixed_by_priority_and_never_red():
    pal = plots.class_palette({"lo": 0, "hi": 10, "mid": 5})
    assert list(pal) == ["hi", "mid", "lo"]
    assert [pal["hi"], pal["mid"], pal["lo"]] == list(plots.PALETTE[:3])
    assert plots.class_palette({"mid": 5, "lo": 0}) == {"mid": plots.PALETTE[0], "lo": plots.PALETTE[1]}
    many = plots.class_palette({f"c{i:02}": -i for i in range(12)})
    assert many["c09"] == many["c00"]  # the palette cycles
    assert plots.INVERSION_COLOR not in plots.PALETTE


def test_a_class_with_two_priorities_is_refused(tmp_path):
    records = [rec(1, "x", 1, 0, 1), rec(2, "x", 2, 0, 2)]
    with pytest.raises(ValueError, match="two priorities"):
        plots.timeline(tmp_path / "t.png", records, "t")
    with pytest.raises(ValueError, match="no records"):
        plots.wait_cdf(tmp_path / "c.png", [], "c")
    assert os.listdir(tmp_path) == []


# --- the PNGs --------------------------------------------------------------------------------


def test_wait_cdf_writes_a_png_and_notes_clipped_waits(tmp_path, monkeypatch):
    notes = []
    footnote = plots._footnote
    monkeypatch.setattr(plots, "_footnote", lambda fig, text: (notes.append(text), footnote(fig, text)))
    records = simulated(300, seed=2)
    zero = sum(r.wait_ns <= 0 for r in records)
    assert zero > 0
    out = plots.wait_cdf(tmp_path / "cdf.png", records, "Wait per class (ms)")
    assert_png(out, tmp_path / "cdf.png")
    assert len(notes) == 1 and f"{zero} of them ≤ 0" in notes[0], notes

    notes.clear()  # no clipping, no footnote
    late = [rec(s, "c", 1, enq=0, start=1 + s) for s in range(20)]
    assert_png(plots.wait_cdf(str(tmp_path / "late.png"), late, "late"), tmp_path / "late.png")
    assert notes == []


def test_wait_cdf_counts_from_the_intended_time(tmp_path):
    records = simulated(300, workers=3, seed=3, open_loop=True)
    assert all(r.intended_ns is not None for r in records)
    assert any(r.intended_ns < r.enqueue_ns for r in records)
    assert_png(plots.wait_cdf(tmp_path / "open.png", records, "open loop"), tmp_path / "open.png")
    assert_png(plots.timeline(tmp_path / "open_t.png", records, "open loop"), tmp_path / "open_t.png")


def test_timeline_writes_a_png_with_and_without_inversions(tmp_path):
    mixed = simulated(300, mix=0.3, seed=4)
    assert plots.inverted_starts(mixed)
    assert_png(plots.timeline(tmp_path / "mixed.png", mixed, "mixed"), tmp_path / "mixed.png")
    perfect = simulated(300, mix=0.0, seed=4)
    assert plots.inverted_starts(perfect) == set()
    assert_png(plots.timeline(tmp_path / "perfect.png", perfect, "perfect"), tmp_path / "perfect.png")
    assert_png(plots.timeline(tmp_path / "hand.png", HAND_TRACE, "hand"), tmp_path / "hand.png")
    instant = [rec(1, "a", 1, enq=0, start=0), rec(2, "b", 0, enq=0, start=0)]  # zero time span
    assert_png(plots.timeline(tmp_path / "instant.png", instant, "instant"), tmp_path / "instant.png")


def test_timeline_handles_100k_records(tmp_path):
    rng = random.Random(11)
    classes = [("c%d" % p, p) for p in range(4)]
    records = []
    for s in range(100_000):
        name, prio = classes[rng.randrange(4)]
        enq = T0 + s * 200_000
        start = enq + int(rng.expovariate(1 / ((4 - prio) * 2e6)))
        records.append(TaskRecord(s, name, prio, enq, start, start + 300_000, "w", None))
    out = plots.timeline(tmp_path / "big.png", records, "100,000 tasks")
    assert_png(out, tmp_path / "big.png")


def test_sweep_numeric_categorical_and_gaps(tmp_path, monkeypatch):
    notes = []
    footnote = plots._footnote
    monkeypatch.setattr(plots, "_footnote", lambda fig, text: (notes.append(text), footnote(fig, text)))
    pal = plots.class_palette({"hi": 10, "lo": 0})
    series = {f"{c} · {wt}": [(w, base * k / w) for w in (1, 2, 4, 8)]
              for c, base in (("hi", 3.0), ("lo", 50.0)) for wt, k in (("thread", 1), ("process", 2))}
    colors = {label: pal[label.split(" · ")[0]] for label in series}
    out = plots.sweep(tmp_path / "workers.png", series, "p99 wait vs workers",
                      x_label="workers", colors=colors)
    assert_png(out, tmp_path / "workers.png")
    assert notes == []

    by_type = {"hi": [("thread", 2.0), ("greenlet", 0.0), ("process", None)],
               "lo": [("thread", 40.0), ("process", 61.5), ("greenlet", float("nan"))]}
    out = plots.sweep(tmp_path / "types.png", by_type, "p99 wait vs worker type", x_label="worker type")
    assert_png(out, tmp_path / "types.png")
    assert len(notes) == 1 and notes[0].startswith("1 of 4 values"), notes

    floats = {"hi": [(0.5, 1.0), (0.9, 2.0), (0.95, 4.0)]}  # linear axis
    assert_png(plots.sweep(tmp_path / "f.png", floats, "rate", x_label="load"), tmp_path / "f.png")


def test_sweep_refuses_nothing_to_draw_and_missing_colours(tmp_path):
    with pytest.raises(ValueError, match="no points"):
        plots.sweep(tmp_path / "x.png", {}, "t", x_label="x")
    with pytest.raises(ValueError, match="no points"):
        plots.sweep(tmp_path / "x.png", {"a": []}, "t", x_label="x")
    with pytest.raises(ValueError, match="no colour"):
        plots.sweep(tmp_path / "x.png", {"a": [(1, 1.0)], "b": [(1, 2.0)]}, "t", x_label="x",
                    colors={"a": "#000000"})
    assert os.listdir(tmp_path) == []


# --- files, determinism, threads, import cost -------------------------------------------------


def test_same_data_same_bytes_and_replacing_an_existing_file(tmp_path):
    records = simulated(200, seed=5)
    first = plots.timeline(tmp_path / "a.png", records, "t")
    second = plots.timeline(tmp_path / "b.png", records, "t")
    with open(first, "rb") as f, open(second, "rb") as g:
        assert f.read() == g.read()
    (tmp_path / "c.png").write_bytes(b"old")
    plots.wait_cdf(tmp_path / "c.png", records, "t")
    assert png_size(tmp_path / "c.png") == (900, 500)
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.png", "c.png"]


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(FileNotFoundError):
        plots.wait_cdf(tmp_path / "missing" / "c.png", simulated(20), "t")
    target = tmp_path / "dir.png"
    target.mkdir()  # os.replace cannot put a file over a directory
    with pytest.raises(OSError):
        plots.wait_cdf(target, simulated(20), "t")
    assert os.listdir(tmp_path) == ["dir.png"] and os.listdir(target) == []


def test_threads_draw_separate_plots(tmp_path):
    records = simulated(200, seed=6)
    expected = (tmp_path / "serial.png")
    plots.timeline(expected, records, "t")
    errors = []

    def draw(i):
        try:
            plots.timeline(tmp_path / f"t{i}.png", records, "t")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for a, b in combinations([expected] + [tmp_path / f"t{i}.png" for i in range(4)], 2):
        assert a.read_bytes() == b.read_bytes()


def test_import_is_cheap():
    code = "import sys, bench.plots; print('matplotlib' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]
