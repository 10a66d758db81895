"""End to end: real redis-server, real agents, real huey_consumer processes."""

import csv
import json
import os
import signal
import textwrap

import pytest

from bench.records import EVENTS_HEADER
from bench.runner import Run
from bench.scenario import load_text
from conftest import ROOT, bench_cli, load_result, only_result_dir, only_run


def write_scenario(tmp_path, text, name="case.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def start_order_classes(result_dir):
    with open(os.path.join(result_dir, "events.csv")) as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: (int(r["start_ns"]), int(r["seq"])))
    return [r["class"] for r in rows], rows


def test_smoke_scenario_end_to_end(tmp_path, redis_url):
    results = tmp_path / "results"
    proc = bench_cli("run", "scenarios/smoke.yaml", "--results", results, "--redis-url", redis_url)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_result_dir(results, "smoke")
    assert sorted(os.listdir(run_dir)) == ["events.csv", "plots", "result.json", "summary.md"]
    assert sorted(os.listdir(os.path.join(run_dir, "plots"))) == ["timeline.png", "wait-cdf.png"]
    doc = load_result(run_dir)
    assert doc["format"] == "huey-priority-bench/result" and doc["version"] == 2
    assert doc["complete"] is True and len(doc["scenario_sha256"]) == 64
    run = only_run(doc)
    assert run["complete"] is True and run["lost_tasks"] == 0 and run["events"] == "events.csv"
    assert run["metrics"]["tasks"] == 20
    assert run["metrics"]["inversions"] == 0
    assert doc["environment"]["huey"] and doc["environment"]["redis_server"]
    assert doc["environment"]["mode"] == "local"
    classes, rows = start_order_classes(run_dir)
    assert list(rows[0].keys()) == list(EVENTS_HEADER)
    assert classes == ["hi"] * 10 + ["lo"] * 10
    # The same tables go to the terminal and to summary.md.
    summary = open(os.path.join(run_dir, "summary.md")).read()
    assert "| inversions" in summary and "Start order, observed: hi 0–9 · lo 0–9" in summary
    assert "Start order, observed: hi 0–9 · lo 0–9" in proc.stdout


def test_seed_demo_shape_with_short_tasks(tmp_path, redis_url):
    # The seed scenario as shipped, with 100 ms tasks instead of 1 s to keep the suite fast.
    text = open(os.path.join(ROOT, "scenarios/seed-demo.yaml")).read().replace("1s", "100ms")
    path = write_scenario(tmp_path, text, "seed-demo.yaml")
    proc = bench_cli("run", path, "--results", tmp_path / "r", "--redis-url", redis_url)
    assert proc.returncode == 0, proc.stderr
    assert "Start order, observed: lo 0 · hi 0–9 · lo 1–9" in proc.stdout
    metrics = only_run(load_result(only_result_dir(tmp_path / "r", "seed-demo")))["metrics"]
    assert metrics["inversions"] == 0
    assert metrics["kendall_tau_distance"] == 0


PREFILLED_MIX = """\
    name: {name}
    backend: {backend}
    workers: 1
    classes:
      - {{name: low, priority: 1, count: 8, duration: 5ms}}
      - {{name: mid, priority: 5, count: 8, duration: 5ms}}
      - {{name: top, priority: 9, count: 8, duration: 5ms}}
    arrival: {{start: after, order: round_robin}}
    timeout: 60s
"""


def test_prefilled_single_worker_mix_runs_in_perfect_priority_order(tmp_path, redis_url):
    path = write_scenario(tmp_path, PREFILLED_MIX.format(name="mix", backend="priority_redis"))
    proc = bench_cli("run", path, "--results", tmp_path / "r", "--redis-url", redis_url)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_result_dir(tmp_path / "r", "mix")
    classes, rows = start_order_classes(run_dir)
    assert classes == ["top"] * 8 + ["mid"] * 8 + ["low"] * 8
    # FIFO within a class.
    for cls in ("top", "mid", "low"):
        seqs = [int(r["seq"]) for r in rows if r["class"] == cls]
        assert seqs == sorted(seqs)
    metrics = only_run(load_result(run_dir))["metrics"]
    assert metrics["inversions"] == 0 and metrics["inverted_starts"] == 0


def test_redis_baseline_ignores_priority_and_shows_inversions(tmp_path, redis_url):
    path = write_scenario(tmp_path, PREFILLED_MIX.format(name="fifo", backend="redis"))
    proc = bench_cli("run", path, "--results", tmp_path / "r", "--redis-url", redis_url)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_result_dir(tmp_path / "r", "fifo")
    classes, _ = start_order_classes(run_dir)
    assert classes[:3] == ["low", "mid", "top"]  # FIFO: enqueue order, priority ignored
    metrics = only_run(load_result(run_dir))["metrics"]
    assert metrics["inversions"] > 0 and metrics["inverted_starts"] > 0
    assert metrics["kendall_tau_distance"] > 0


@pytest.mark.parametrize("worker_type", ["thread", "process", "greenlet"])
def test_worker_types_and_several_consumers(tmp_path, redis_url, worker_type):
    path = write_scenario(tmp_path, f"""\
        name: types
        consumers: 2
        workers: 2
        worker_type: {worker_type}
        classes:
          - {{name: lo, priority: 1, count: 12, duration: 20ms}}
          - {{name: hi, priority: 2, count: 12, duration: 20ms, work: cpu}}
        timeout: 60s
    """)
    proc = bench_cli("run", path, "--results", tmp_path / "r", "--redis-url", redis_url, "-q")
    assert proc.returncode == 0, proc.stderr
    run_dir = only_result_dir(tmp_path / "r", "types")
    _, rows = start_order_classes(run_dir)
    assert len(rows) == 24
    pids = {r["worker"].split("/")[1] for r in rows}
    assert len(pids) >= 2  # two consumers (and, for process workers, more) did the work
    assert only_run(load_result(run_dir))["metrics"]["workers"] == 4


def test_run_leaves_other_keys_alone_and_cleans_its_own(tmp_path, redis_url, redis_conn):
    redis_conn.set("user:precious", "data")
    redis_conn.zadd("huey.redis.someoneelse", {"job": 1})
    before = set(redis_conn.keys("*"))
    proc = bench_cli("run", "scenarios/smoke.yaml", "--results", tmp_path / "r",
                     "--redis-url", redis_url, "-q")
    assert proc.returncode == 0, proc.stderr
    assert set(redis_conn.keys("*")) == before
    assert redis_conn.get("user:precious") == b"data"


def test_analyze_recomputes_the_run_metrics(tmp_path, redis_url):
    proc = bench_cli("run", "scenarios/smoke.yaml", "--results", tmp_path / "r",
                     "--redis-url", redis_url, "-q")
    assert proc.returncode == 0, proc.stderr
    run_dir = only_result_dir(tmp_path / "r", "smoke")
    out = bench_cli("analyze", os.path.join(run_dir, "events.csv"), "--format", "json")
    assert out.returncode == 0, out.stderr
    analyzed = json.loads(out.stdout)
    assert analyzed == only_run(load_result(run_dir))["metrics"]
    assert set(analyzed["classes"]["hi"]["wait_ms"]) == {"p50", "p90", "p99", "max", "mean"}
    table = bench_cli("analyze", run_dir)
    assert table.returncode == 0 and "| inversions" in table.stdout


def test_unreachable_redis_fails_fast_with_a_hint(tmp_path):
    proc = bench_cli("run", "scenarios/smoke.yaml", "--results", tmp_path / "r",
                     "--redis-url", "redis://127.0.0.1:1/0", timeout=30)
    assert proc.returncode == 3
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in proc.stderr
    assert "--redis-url" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


def test_bad_scenario_runs_nothing_and_writes_nothing(tmp_path, redis_url):
    path = write_scenario(tmp_path, """\
        name: bad
        classes:
          - name: lo
            prority: 3
            count: 2
    """)
    proc = bench_cli("run", path, "--results", tmp_path / "r", "--redis-url", redis_url)
    assert proc.returncode == 2
    assert f"{path}:4: classes[0].prority: unknown field (did you mean 'priority'?)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()
    check = bench_cli("validate", path, "scenarios/smoke.yaml")
    assert check.returncode == 2 and "prority" in check.stderr


def test_shipped_scenarios_are_valid():
    proc = bench_cli("validate", "scenarios")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(": ok") == len([f for f in os.listdir(os.path.join(ROOT, "scenarios"))
                                             if f.endswith(".yaml")])


def test_timeout_marks_the_run_incomplete_and_keeps_partial_events(tmp_path, redis_url):
    path = write_scenario(tmp_path, """\
        name: slow
        classes:
          - {name: lo, priority: 1, count: 6, duration: 400ms}
        timeout: 1s
    """)
    proc = bench_cli("run", path, "--results", tmp_path / "r", "--redis-url", redis_url)
    assert proc.returncode == 5, proc.stderr
    assert "incomplete" in proc.stderr
    run_dir = only_result_dir(tmp_path / "r", "slow")
    doc = load_result(run_dir)
    run = only_run(doc)
    assert doc["complete"] is False and run["complete"] is False and 0 < run["lost_tasks"] < 6
    assert "INCOMPLETE" in open(os.path.join(run_dir, "summary.md")).read()
    _, rows = start_order_classes(run_dir)
    assert len(rows) == 6 - run["lost_tasks"]


def test_killed_consumer_ends_the_run_incomplete(tmp_path, redis_url):
    scenario = load_text(textwrap.dedent("""\
        name: killed
        classes:
          - {name: lo, priority: 1, count: 20, duration: 200ms}
        timeout: 120s
    """), path="killed.yaml")
    killed = []

    def kill_consumer_once(done, total):
        if not killed:
            started = [m for m in run.agent_states.values() if m["state"] == "started"]
            os.kill(started[0]["pid"], signal.SIGKILL)
            killed.append(started[0]["pid"])

    run = Run(scenario, redis_url, on_progress=kill_consumer_once)
    outcome = run.execute(str(tmp_path))
    assert killed
    assert not outcome.complete and outcome.lost_tasks > 0
    assert any("exited" in p for p in outcome.problems)


BAD_INPUTS = {
    "malformed YAML": ("name: x\nclasses: [\n", r":3: invalid YAML: .*\(column \d+\)"),
    "empty file": ("", r": empty scenario: expected a mapping"),
    "a list": ("- name: x\n", r":1: expected a mapping of fields, got a list"),
    "unknown key": ("name: x\nworkerz: 2\nclasses: [{name: a, priority: 1, count: 1}]\n",
                    r":2: workerz: unknown field \(did you mean 'workers'\?\)"),
    "wrong type": ("name: x\nworkers: two\nclasses: [{name: a, priority: 1, count: 1}]\n",
                   r":2: workers: expected an integer, got string 'two'"),
    "zero count": ("name: x\nclasses: [{name: a, priority: 1, count: 0}]\n",
                   r":2: classes\[0\]\.count: must be >= 1, got 0"),
    "unknown unit": ("name: x\nclasses: [{name: a, priority: 1, count: 1, duration: 5h}]\n",
                     r":2: classes\[0\]\.duration: unknown duration unit 'h'"),
    "matrix field": ("name: x\nmatrix: {wrokers: [1, 2]}\nclasses: [{name: a, priority: 1, "
                     "count: 1}]\n", r":2: matrix\.wrokers: unknown matrix field"),
    "duplicate class": ("name: x\nclasses:\n  - {name: a, priority: 1, count: 1}\n"
                        "  - {name: a, priority: 2, count: 1}\n",
                        r":4: classes\[1\]\.name: duplicate class name 'a'"),
    "absurd size": ("name: x\nclasses: [{name: a, priority: 1, count: 2000000}]\n",
                    r"at most 1000000\); split the scenario"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_clear_line_exit_2_nothing_written(tmp_path, case):
    import re

    text, expected = BAD_INPUTS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = bench_cli("run", path, "--results", tmp_path / "r", "--redis-url",
                     "redis://127.0.0.1:1/0")  # never reached: input is checked first
    assert proc.returncode == 2, proc.stderr
    assert re.search(re.escape(str(path)) + ".*" + expected, proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r").exists()


def test_missing_scenario_file(tmp_path):
    proc = bench_cli("validate", tmp_path / "nope.yaml")
    assert proc.returncode == 2 and f"{tmp_path / 'nope.yaml'}: no such file" in proc.stderr


def test_consumers_counts_what_the_largest_cell_needs(tmp_path):
    # docker mode scales consumer containers to this number
    path = write_scenario(tmp_path, """\
        name: many
        consumers: 2
        matrix: {consumers: [1, 3]}
        classes: [{name: a, priority: 1, count: 1}]
    """)
    proc = bench_cli("consumers", path, "scenarios/three-class-mix.yaml")
    assert proc.returncode == 0 and proc.stdout.strip() == "3", proc.stderr


def test_matrix_repetitions_and_open_loop_end_to_end(tmp_path, redis_url):
    path = write_scenario(tmp_path, """\
        name: sweep
        matrix: {workers: [1, 2]}
        repeat: 2
        classes:
          - {name: lo, priority: 1, count: 10, duration: 5ms}
          - {name: hi, priority: 2, count: 10, duration: 5ms}
        arrival: {start: before, mode: rate, rate: 200/s, process: uniform}
        timeout: 60s
    """)
    proc = bench_cli("run", path, "--results", tmp_path / "r", "--redis-url", redis_url)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_result_dir(tmp_path / "r", "sweep")
    doc = load_result(run_dir)
    assert [c["key"] for c in doc["cells"]] == ["workers=1", "workers=2"]
    for cell in doc["cells"]:
        assert len(cell["runs"]) == 2 and cell["summary"]["inversions"]["n"] == 2
        for run in cell["runs"]:
            assert "producer_lag_ms" in run["metrics"]
            with open(os.path.join(run_dir, run["events"])) as f:
                assert f.readline().strip().endswith(",intended_ns")
    assert "sweep-workers.png" in os.listdir(os.path.join(run_dir, "plots"))
    summary = open(os.path.join(run_dir, "summary.md")).read()
    assert "## Cells" in summary and "| workers=2" in summary and "open loop 200/s" in summary
