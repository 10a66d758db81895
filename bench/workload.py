"""The huey app that consumers run: one instrumented task whose result is its own timing record.

`huey_consumer bench.workload.huey` builds the app from the BENCH_* environment the
agent sets; the runner builds the same app with `make_huey`.
"""

import os
import socket
import threading
import time

if os.environ.get("BENCH_WORKER_TYPE") == "greenlet":  # must precede any socket use
    from gevent import monkey

    monkey.patch_all()

import redis  # noqa: E402
from huey import PriorityRedisExpireHuey, PriorityRedisHuey, RedisHuey, SqliteHuey  # noqa: E402

TASK_NAME = "work"
HOST = socket.gethostname()
_dequeued = threading.local()  # greenlet-local under gevent's monkey patching


def stamp_dequeue(huey_class):
    """huey_class whose storage notes when each dequeue returned a task.

    Priority acts at the pop, so a task's start_ns is the moment its worker took it off
    the queue, not the later moment its body began (huey deserializes in between, and
    a task enqueued in that gap would otherwise look like an inversion).
    """
    class Storage(huey_class.storage_class):
        def dequeue(self):
            data = super().dequeue()
            if data is not None:
                _dequeued.ns = time.time_ns()
            return data

    return type(huey_class.__name__, (huey_class,), {"storage_class": Storage})


BACKENDS = {"priority_redis": stamp_dequeue(PriorityRedisHuey),
            "priority_redis_expire": stamp_dequeue(PriorityRedisExpireHuey),
            "redis": stamp_dequeue(RedisHuey),
            "sqlite": stamp_dequeue(SqliteHuey)}


def ready_key(run_id):
    """Redis list each worker appends to once it is up."""
    return f"bench:run:{run_id}:ready"


def make_huey(backend, name, redis_url, sqlite_path=None):
    """The benchmark's huey app and its one task, identical in runner and consumer.

    Redis stays the control plane for every backend: readiness goes through it.
    """
    common = dict(results=True, store_none=False, utc=True)
    if backend == "sqlite":
        app = BACKENDS[backend](name, filename=sqlite_path, **common)
        control = redis.Redis.from_url(redis_url)
    else:
        app = BACKENDS[backend](name, url=redis_url, blocking=True, **common)
        control = app.storage.conn

    @app.task(name=TASK_NAME)
    def work(seq, duration_s, kind):
        start_ns = getattr(_dequeued, "ns", None) or time.time_ns()
        _dequeued.ns = None
        if duration_s > 0:
            if kind == "cpu":
                until = time.perf_counter() + duration_s
                while time.perf_counter() < until:
                    pass
            else:
                time.sleep(duration_s)
        # Returned, not written: huey stores results anyway, so timing costs no extra round trip.
        return (seq, start_ns, time.time_ns(), worker_id())

    @app.on_startup()
    def announce_ready():
        control.rpush(ready_key(name), worker_id())

    return app, work


def worker_id():
    """host/pid/thread: which worker ran a task."""
    return f"{HOST}/{os.getpid()}/{threading.current_thread().name}"


if os.environ.get("BENCH_HUEY_NAME"):
    huey, work = make_huey(os.environ.get("BENCH_BACKEND", "priority_redis"),
                           os.environ["BENCH_HUEY_NAME"], os.environ["BENCH_REDIS_URL"],
                           os.environ.get("BENCH_SQLITE_PATH"))
