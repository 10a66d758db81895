"""compare() on hand-made results in tests/data/compare/, with golden outputs of render().

The *.golden files hold the exact expected render() output. After an intended change of the
output, regenerate them and review the diff:

    BENCH_REGEN_GOLDEN=1 /tmp/v2/bin/pytest tests/test_compare.py -q && git diff tests/data/compare
"""

import copy
import json
import os
import shutil

import pytest

from bench import stats
from bench.compare import CompareError, compare, load_result, render
from bench.errors import BenchError

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "compare")
REGEN = os.environ.get("BENCH_REGEN_GOLDEN") == "1"


def fixture(name):
    return load_result(os.path.join(DATA, name + ".json"))


def check_golden(text, name):
    path = os.path.join(DATA, name + ".golden")
    if REGEN:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    with open(path, encoding="utf-8") as f:
        assert text == f.read(), f"{name}.golden differs; see the module docstring to regenerate"


GOLDEN = [  # golden name, A, B, force, formats
    ("overlap", "overlap-a", "overlap-b", False, ("table",)),
    ("change", "change-a", "change-b", False, ("table", "md", "json")),
    ("forced", "change-a", "other-scenario", True, ("table",)),
    ("matrix", "matrix-a", "matrix-b", False, ("table", "md", "json")),
    ("single", "single-a", "single-b", False, ("table",)),
]


@pytest.mark.parametrize("name,a,b,force,formats", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden(name, a, b, force, formats):
    c = compare(fixture(a), fixture(b), force=force)
    for fmt in formats:
        check_golden(render(c, fmt), f"{name}.{fmt}")


# -- the fixtures' meaning, independent of the goldens' layout

def test_overlapping_runs_show_no_difference():
    c = compare(fixture("overlap-a"), fixture("overlap-b"))
    assert len(c.rows) == 11 and not any(r.significant for r in c.rows)
    assert all(r.a.n == r.b.n == 5 and r.note == "" for r in c.rows)
    table = render(c, "table")
    assert all(line.split()[-3] == "~" for line in table.splitlines()[2:13])
    assert c.environment == (("git_commit", "abc123", "abc124"),)


def test_warmup_runs_are_left_out():
    a = fixture("overlap-a")
    without = copy.deepcopy(a)
    without["cells"][0]["runs"] = [r for r in a["cells"][0]["runs"] if not r["warmup"]]
    assert compare(a, fixture("overlap-b")) == compare(without, fixture("overlap-b"))


def test_clear_change_is_significant():
    c = compare(fixture("change-a"), fixture("change-b"))
    rows = {r.metric: r for r in c.rows}
    assert all(r.significant and r.note == "" for r in c.rows)
    assert rows["throughput_per_s"].p == pytest.approx(2 / 252)
    assert rows["throughput_per_s"].delta_pct == pytest.approx((379.8 - 100.4) / 100.4 * 100)
    assert rows["hi.wait_p99_ms"].delta_pct < -80
    assert rows["inversions"].delta_pct is None and rows["inversions"].delta == 4
    assert ("huey", "3.5.4", "3.6.0") in c.environment


def test_different_scenarios_need_force():
    a, b = fixture("change-a"), fixture("other-scenario")
    with pytest.raises(CompareError, match=r"scenarios differ \(sha256 3f7a9c0e5b2d≠b41d7e0a9c3f\): "
                                           r"pass --force to compare anyway") as e:
        compare(a, b)
    assert isinstance(e.value, BenchError) and e.value.exit_code == 2
    c = compare(a, b, force=True)
    assert {r.cell for r in c.rows} == {"(no matrix) → workers=4"} and not c.unmatched
    assert c.warnings[0].startswith("scenarios differ")


def test_matrix_aligns_cells_by_key():
    c = compare(fixture("matrix-a"), fixture("matrix-b"))
    assert [r.cell for r in c.rows] == ["workers=1"] * 11 + ["workers=2"] * 11
    assert c.unmatched == (("B", "workers=4"),)
    w1 = {r.metric: r for r in c.rows if r.cell == "workers=1"}
    assert w1["throughput_per_s"].significant and not w1["inversions"].significant
    w2 = [r for r in c.rows if r.cell == "workers=2"]
    assert all((r.a.n, r.b.n, r.note) == (4, 3, stats.UNDERPOWERED) for r in w2)
    assert "incomplete runs, used for the tasks that finished: A workers=1 rep 2" in c.warnings
    assert "runs in which no task finished, left out: B workers=2 rep 4" in c.warnings


def test_single_runs_are_too_few():
    c = compare(fixture("single-a"), fixture("single-b"))
    assert all((r.significant, r.p, r.note) == (False, None, stats.TOO_FEW) for r in c.rows)
    assert "too few runs" in render(c, "table")


def test_cell_column_only_with_cell_keys():
    same = render(compare(fixture("change-a"), fixture("change-b")), "table")
    assert same.splitlines()[0].split()[0] == "metric"
    matrix = render(compare(fixture("matrix-a"), fixture("matrix-b")), "table")
    assert matrix.splitlines()[0].split()[:2] == ["cell", "metric"]


def test_json_render_round_trips():
    c = compare(fixture("matrix-a"), fixture("matrix-b"))
    doc = json.loads(render(c, "json"))
    assert doc["format"] == "huey-priority-bench/compare" and len(doc["rows"]) == len(c.rows)
    assert doc["unmatched"] == [{"side": "B", "cell": "workers=4"}]
    assert {"key": "hostname", "a": "vm", "b": "ci-runner-3"} in doc["environment_differences"]
    assert doc["warnings"] == list(c.warnings)


def test_compare_does_not_touch_its_inputs():
    a, b = fixture("matrix-a"), fixture("matrix-b")
    before = copy.deepcopy((a, b))
    compare(a, b)
    assert (a, b) == before


def test_metrics_on_one_side_only_are_reported():
    a, b = fixture("change-a"), fixture("change-b")
    for run in b["cells"][0]["runs"]:
        run["metrics"]["classes"]["low"] = run["metrics"]["classes"].pop("lo")
    c = compare(a, b)
    assert {r.metric.split(".")[0] for r in c.rows if "." in r.metric} == {"hi"}
    assert "only A measured lo.wait_p50_ms, lo.wait_p99_ms, lo.throughput_per_s" in c.warnings
    assert "only B measured low.wait_p50_ms, low.wait_p99_ms, low.throughput_per_s" in c.warnings


def test_interrupted_result_is_flagged():
    a, b = fixture("change-a"), fixture("change-b")
    b["complete"] = False
    assert "B is marked incomplete (interrupted before every run finished)" in compare(a, b).warnings


def test_no_measured_run():
    a, b = fixture("single-a"), fixture("single-b")
    b["cells"][0]["runs"][0]["metrics"] = None
    c = compare(a, b)
    assert c.rows == () and "no measured run in B" in c.warnings
    assert render(c, "table").startswith("No metric to compare.\n")


def test_unknown_render_format():
    with pytest.raises(CompareError, match="unknown format 'html'"):
        render(compare(fixture("single-a"), fixture("single-b")), "html")


# -- load_result

def test_load_result_from_directory(tmp_path):
    shutil.copy(os.path.join(DATA, "change-a.json"), tmp_path / "result.json")
    assert load_result(str(tmp_path)) == fixture("change-a")


def test_version_1_is_refused():
    path = os.path.join(DATA, "version1.json")
    with pytest.raises(CompareError) as e:
        load_result(path)
    assert str(e.value) == f"{path} has result format version 1; re-run it with this version"
    assert e.value.exit_code == 2


@pytest.mark.parametrize("content,message", [
    ('{"name": "x"}', "is not a bench result"),
    ("[1, 2]", "is not a bench result"),
    ("not json {", r"is not a bench result \(not JSON"),
    ('{"format": "huey-priority-bench/result", "version": 3, "cells": []}',
     "has result format version 3; this bench reads version 2 only"),
    ('{"format": "huey-priority-bench/result", "version": 2}', "is malformed"),
    ('{"format": "huey-priority-bench/result", "version": 2, "cells": [{"key": 1, "runs": []}]}',
     "is malformed"),
])
def test_load_result_refuses(tmp_path, content, message):
    path = tmp_path / "result.json"
    path.write_text(content)
    with pytest.raises(CompareError, match=message):
        load_result(str(tmp_path))


def test_not_a_result_fixture_and_missing_file(tmp_path):
    with pytest.raises(CompareError, match="is not a bench result"):
        load_result(os.path.join(DATA, "not-a-result.json"))
    with pytest.raises(CompareError, match="no such file"):
        load_result(str(tmp_path))


def test_compare_validates_dicts():
    with pytest.raises(CompareError, match="A is not a bench result"):
        compare({}, fixture("change-a"))
