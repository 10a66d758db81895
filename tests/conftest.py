"""Shared fixtures: one real redis-server for the session, and CLI helpers."""

import json
import os
import subprocess
import sys

import pytest
import redis

from bench.redis_server import EmbeddedRedis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def redis_server():
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server):
    return redis_server.url


@pytest.fixture
def redis_conn(redis_url):
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()


def bench_cli(*args, timeout=180):
    """Run `python -m bench ARGS` from the repo root; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "bench", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def only_result_dir(results_root, scenario_name):
    runs = os.listdir(os.path.join(results_root, scenario_name))
    assert len(runs) == 1, runs
    return os.path.join(results_root, scenario_name, runs[0])


def load_result(path):
    with open(os.path.join(path, "result.json")) as f:
        return json.load(f)


def only_run(doc):
    """The single measured run of a one-cell, one-repetition result."""
    (cell,) = doc["cells"]
    (run,) = [r for r in cell["runs"] if not r["warmup"]]
    return run
