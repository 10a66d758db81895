"""Faults, for real: Redis restarting, consumers and runners killed, Ctrl-C, runs side by side."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import redis

from bench.redis_server import EmbeddedRedis
from bench.runner import Run
from bench.scenario import load_text
from conftest import ROOT, bench_cli, load_result, only_result_dir, only_run

SLOW = """\
    name: {name}
    consumers: {consumers}
    workers: 2
    classes:
      - {{name: lo, priority: 1, count: {count}, duration: {duration}}}
    timeout: 120s
"""


def scenario_file(tmp_path, name="slow", consumers=1, count=60, duration="100ms"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(SLOW.format(name=name, consumers=consumers, count=count,
                                                duration=duration)))
    return path


def spawn_run(path, results, redis_url):
    """`bench run` in its own process group, as a terminal would run it."""
    return subprocess.Popen([sys.executable, "-m", "bench", "run", str(path), "--results",
                             str(results), "--redis-url", redis_url, "-q"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_results(conn, minimum, timeout_s=30):
    """Block until some run's huey result hash holds at least `minimum` results."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for key in conn.scan_iter("huey.results.*"):
            if conn.hlen(key) >= minimum:
                return
        time.sleep(0.05)
    raise AssertionError("the run made no progress")


def bench_processes(marker):
    """Live processes (agents, consumers) whose command line mentions `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd and ("bench agent" in cmd or "huey_consumer" in cmd):
            found.append(int(pid))
    return found


def test_redis_restart_mid_run_ends_incomplete_keeps_what_it_had(tmp_path):
    server = EmbeddedRedis().start()
    port = server.port
    restarted = EmbeddedRedis(port=port)
    try:
        conn = redis.Redis(port=port)
        proc = spawn_run(scenario_file(tmp_path), tmp_path / "r", server.url)
        wait_for_results(conn, 10)
        time.sleep(1.5)  # past one snapshot period: results copied out by then must survive
        server.stop()
        time.sleep(0.5)
        restarted.start()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 5, err
        assert "Redis restarted mid-run" in err
        doc = load_result(only_result_dir(tmp_path / "r", "slow"))
        run = only_run(doc)
        assert doc["complete"] is False and 0 < run["lost_tasks"] < 60
        assert run["metrics"]["tasks"] == 60 - run["lost_tasks"] >= 10
        assert redis.Redis(port=port).keys("*") == []
    finally:
        server.stop()
        restarted.stop()


def test_invalid_redis_url_is_a_clear_error(tmp_path):
    proc = bench_cli("run", "scenarios/smoke.yaml", "--results", tmp_path / "r",
                     "--redis-url", "http://127.0.0.1:6379", timeout=30)
    assert proc.returncode == 3
    assert "invalid Redis URL 'http://127.0.0.1:6379'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r").exists()


def test_a_dead_consumer_among_several_ends_the_run_before_its_deadline(tmp_path, redis_url):
    scenario = load_text(textwrap.dedent(SLOW.format(name="dead", consumers=2, count=40,
                                                     duration="200ms")), path="dead.yaml")
    killed = []

    def kill_one_consumer(done, total):
        started = [m for m in run.agent_states.values() if m["state"] == "started"]
        if not killed and done >= 4 and started:
            os.kill(started[0]["pid"], signal.SIGKILL)
            killed.append(started[0]["pid"])

    run = Run(scenario, redis_url, on_progress=kill_one_consumer)
    began = time.monotonic()
    outcome = run.execute(str(tmp_path))
    assert killed and time.monotonic() - began < 60  # the deadline was 120 s
    assert not outcome.complete and 0 < outcome.lost_tasks < 40
    assert any("lost with the consumer" in p for p in outcome.problems)
    assert redis.Redis.from_url(redis_url).keys(f"*{run.run_id}*") == []


def test_ctrl_c_stops_consumers_cleans_keys_and_saves_partial_results(tmp_path, redis_url,
                                                                       redis_conn):
    redis_conn.set("user:keep", "1")
    before = set(redis_conn.keys("*"))
    proc = spawn_run(scenario_file(tmp_path, count=40, duration="200ms"), tmp_path / "r",
                     redis_url)
    wait_for_results(redis_conn, 4)
    os.killpg(proc.pid, signal.SIGINT)
    began = time.monotonic()
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - began < 10
    assert proc.returncode == 130, err
    doc = load_result(only_result_dir(tmp_path / "r", "slow"))
    assert doc["interrupted"] is True and doc["complete"] is False
    assert only_run(doc)["metrics"]["tasks"] >= 4
    assert set(redis_conn.keys("*")) == before
    assert bench_processes(redis_url.rsplit(":", 1)[1].split("/")[0]) == []


def test_a_killed_runner_takes_its_local_agents_and_consumers_with_it(tmp_path, redis_url,
                                                                       redis_conn):
    proc = spawn_run(scenario_file(tmp_path, count=40, duration="200ms"), tmp_path / "r",
                     redis_url)
    wait_for_results(redis_conn, 2)
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    assert bench_processes(port)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    while bench_processes(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert bench_processes(port) == []


def test_two_runs_at_once_on_one_redis_do_not_disturb_each_other(tmp_path, redis_url,
                                                                 redis_conn):
    before = set(redis_conn.keys("*"))
    results = {}

    def run(name):
        path = scenario_file(tmp_path, name=name, count=30, duration="20ms")
        results[name] = bench_cli("run", path, "--results", tmp_path / "r", "--redis-url",
                                  redis_url, "-q")

    threads = [threading.Thread(target=run, args=(n,)) for n in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, proc in results.items():
        assert proc.returncode == 0, proc.stderr
        run_doc = only_run(load_result(only_result_dir(tmp_path / "r", name)))
        assert run_doc["complete"] and run_doc["metrics"]["tasks"] == 30
    assert set(redis_conn.keys("*")) == before


def test_result_json_is_the_last_file_written(tmp_path, redis_url):
    proc = bench_cli("run", "scenarios/smoke.yaml", "--results", tmp_path / "r",
                     "--redis-url", redis_url, "-q")
    assert proc.returncode == 0, proc.stderr
    run_dir = only_result_dir(tmp_path / "r", "smoke")
    times = {name: os.stat(os.path.join(run_dir, name)).st_mtime_ns
             for name in ("events.csv", "summary.md", "result.json")}
    assert times["result.json"] == max(times.values())
    assert not [f for f in os.listdir(run_dir) if f.startswith(".tmp")]
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(os.path.join(run_dir, "result.json")).st_mode & 0o777 == 0o666 & ~umask
    json.loads(open(os.path.join(run_dir, "result.json")).read())


def test_a_killed_agent_is_noticed_by_its_silence(tmp_path, redis_url):
    # What `docker kill` of a consumer container does: agent and consumer gone, no report.
    scenario = load_text(textwrap.dedent(SLOW.format(name="silent", consumers=1, count=40,
                                                     duration="200ms")), path="silent.yaml")
    killed = []

    def kill_agent(done, total):
        if not killed and done >= 2:
            agent_pid = run.agent_states and next(
                int(p) for p in bench_processes(f"--id {run.agent_ids[0]}"))
            os.kill(agent_pid, signal.SIGKILL)
            killed.append(agent_pid)

    run = Run(scenario, redis_url, on_progress=kill_agent)
    began = time.monotonic()
    outcome = run.execute(str(tmp_path))
    assert killed and time.monotonic() - began < 60  # the deadline was 120 s
    assert not outcome.complete and outcome.lost_tasks > 0
    assert any("stopped answering" in p for p in outcome.problems)
    assert bench_processes(f"--id {run.agent_ids[0]}") == []
    consumer_pid = next(m["pid"] for m in run.started.values())
    assert not os.path.exists(f"/proc/{consumer_pid}") or \
        open(f"/proc/{consumer_pid}/stat").read().split()[2] == "Z"  # died with its agent
