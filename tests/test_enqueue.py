"""The fast enqueue path against huey's own: same bytes in Redis, same order out, honest stamps."""

import struct
import time
import uuid

import pytest
from huey import signals as S

from bench import enqueue as fast_enqueue
from bench.enqueue import Enqueuer, batch_sizes, enqueue_planned, storage_kind
from bench.metrics import analyze
from bench.plan import PlannedTask
from bench.runner import Run
from bench.scenario import load_text
from bench.workload import make_huey

REDIS_BACKENDS = ["priority_redis", "priority_redis_expire", "redis"]
PRIORITIES = [1, 5, 5, 9, 0, -3, 5, 1, 9, 9]  # ties on purpose: FIFO must hold within a priority


def plan(n=40):
    return [PlannedTask(seq, f"p{p}", seq, p, 0.0, "sleep")
            for seq, p in ((s, PRIORITIES[s % len(PRIORITIES)]) for s in range(n))]


@pytest.fixture
def huey_app(redis_url, tmp_path):
    """Factory of fresh bench apps under unique huey names; flushed afterwards."""
    apps = []

    def make(backend):
        app, work = make_huey(backend, f"enq{uuid.uuid4().hex[:12]}", redis_url,
                              str(tmp_path / f"{len(apps)}.db"))
        apps.append(app)
        return app, work

    yield make
    for app in apps:
        app.flush()


def raw_queue(app):
    s = app.storage
    if storage_kind(app) == "zset":
        return s.conn.zrange(s.queue_key, 0, -1, withscores=True)
    return s.conn.lrange(s.queue_key, 0, -1)


def drain(app, n):
    """n tasks popped in queue order (blocking storages: each pop returns at once while full)."""
    tasks = [app.dequeue() for _ in range(n)]
    assert None not in tasks and app.storage.queue_size() == 0
    return tasks


def expected_order(backend, planned):
    if backend == "redis":
        return [t.seq for t in planned]
    return [t.seq for t in sorted(planned, key=lambda t: (-t.priority, t.seq))]


@pytest.mark.parametrize("backend", REDIS_BACKENDS)
def test_fast_path_stores_exactly_what_huey_stores(backend, huey_app):
    planned = plan()
    ids = [str(uuid.uuid4()) for _ in planned]
    plain_app, plain_work = huey_app(backend)
    fast_app, fast_work = huey_app(backend)
    prio = plain_app.storage.priority
    for t in planned:  # the runner's per-task path, as it was
        plain_app.enqueue(plain_work.s(t.seq, t.duration_s, t.work,
                                       priority=t.priority if prio else None, id=ids[t.seq]))
    fast = Enqueuer(fast_app, fast_work, max_batch=8)
    fast.burst(planned, [fast.task(t, id=ids[t.seq]) for t in planned])
    plain_raw, fast_raw = raw_queue(plain_app), raw_queue(fast_app)
    assert len(fast_raw) == len(planned)
    if backend == "redis":
        assert fast_raw == plain_raw
        return
    # Same messages and scores in the same order once the 8-byte time prefix is stripped.
    assert [(m[8:], s) for m, s in fast_raw] == [(m[8:], s) for m, s in plain_raw]
    assert [s for _, s in fast_raw] == sorted(-t.priority for t in planned)
    # The prefix is huey's: big-endian epoch microseconds, strictly increasing in enqueue order.
    by_seq = sorted((fast_app.deserialize_task(m[8:]).args[0], struct.unpack(">Q", m[:8])[0])
                    for m, _ in fast_raw)
    prefixes = [p for _, p in by_seq]
    assert all(a < b for a, b in zip(prefixes, prefixes[1:]))
    assert abs(prefixes[0] / 1e6 - time.time()) < 60


@pytest.mark.parametrize("backend", REDIS_BACKENDS + ["sqlite"])
def test_tasks_come_out_in_priority_then_fifo_order_and_run(backend, huey_app):
    app, work = huey_app(backend)
    planned = plan(50)
    stamps = Enqueuer(app, work, max_batch=16).burst(planned)
    assert sorted(stamps) == [t.seq for t in planned]
    assert all(intended is None for _, intended in stamps.values())
    tasks = drain(app, len(planned))
    assert [t.args[0] for t in tasks] == expected_order(backend, planned)
    for task in tasks:
        app.execute(task)
    results = [app.serializer.deserialize(v) for v in app.storage.result_items().values()]
    assert sorted(r[0] for r in results) == [t.seq for t in planned]


def test_ties_stay_fifo_when_the_clock_stands_still(huey_app, monkeypatch):
    # huey takes the prefix from the clock: with a frozen clock equal priorities would sort by data.
    app, work = huey_app("priority_redis")
    frozen = time.time_ns()
    monkeypatch.setattr(fast_enqueue.time, "time_ns", lambda: frozen)
    planned = [PlannedTask(s, "x", s, 3, 0.0, "sleep") for s in range(30)]
    enq = Enqueuer(app, work, max_batch=4)
    enq.burst(planned[:20])
    for t in planned[20:]:
        enq.one(t)
    prefixes = [struct.unpack(">Q", m[:8])[0] for m, _ in raw_queue(app)]
    assert prefixes == list(range(frozen // 1000, frozen // 1000 + 30))
    assert [t.args[0] for t in drain(app, 30)] == list(range(30))


@pytest.mark.parametrize("backend", ["priority_redis", "redis"])
def test_every_stamp_is_taken_after_its_batch_returned(backend, huey_app, monkeypatch):
    app, work = huey_app(backend)
    conn = app.storage.conn
    name = "zadd" if backend == "priority_redis" else "lpush"
    real, calls = getattr(conn, name), []

    def write(key, *args):
        out = real(key, *args)
        size = len(args[0]) if name == "zadd" else len(args)
        calls.append((size, time.time_ns()))  # a lower bound of the caller's next clock read
        return out

    monkeypatch.setattr(conn, name, write)
    planned = plan(100)
    stamps = Enqueuer(app, work, max_batch=16).burst(planned)
    sizes = [size for size, _ in calls]
    assert sizes == list(batch_sizes(100, 1, 16)) == [1, 2, 4, 8, 16, 16, 16, 16, 16, 5]
    lo = 0
    for size, returned_ns in calls:
        batch = {stamps[t.seq][0] for t in planned[lo:lo + size]}
        assert len(batch) == 1 and batch.pop() >= returned_ns
        lo += size


def test_enqueued_signal_is_sent_per_task_when_someone_listens(huey_app):
    app, work = huey_app("priority_redis")
    seen = []
    app.signal(S.SIGNAL_ENQUEUED)(lambda signal, task: seen.append((signal, task.args[0])))
    planned = plan(10)
    enq = Enqueuer(app, work, max_batch=4)
    enq.burst(planned[:9])
    enq.one(planned[9])
    assert seen == [(S.SIGNAL_ENQUEUED, s) for s in range(10)]


def test_expiring_tasks_are_resolved_as_huey_does(huey_app):
    app, work = huey_app("priority_redis")
    t = plan(1)[0]
    task = work.s(t.seq, t.duration_s, t.work, priority=t.priority, expires=60)
    Enqueuer(app, work).burst([t], [task])
    (out,) = drain(app, 1)
    assert out.expires_resolved is not None and out.expires_resolved == task.expires_resolved


def test_storage_kinds_and_fallbacks(huey_app):
    assert storage_kind(huey_app("priority_redis")[0]) == "zset"
    assert storage_kind(huey_app("priority_redis_expire")[0]) == "zset"
    assert storage_kind(huey_app("redis")[0]) == "list"
    assert storage_kind(huey_app("sqlite")[0]) is None
    app, work = huey_app("priority_redis")
    app.immediate = True  # huey then runs tasks in-process: only app.enqueue does that
    assert storage_kind(app) is None
    app.immediate = False
    app, work = huey_app("priority_redis")

    class Custom(type(app.storage)):
        def enqueue(self, data, priority=None):
            super().enqueue(data, priority)

    app.storage.__class__ = Custom  # an overridden enqueue must be honoured: fall back
    assert storage_kind(app) is None


def test_redis_storage_refuses_priorities_like_huey(huey_app):
    app, work = huey_app("redis")
    enq = Enqueuer(app, work)
    assert enq.use_priority is False and enq.task(plan(4)[3]).priority is None
    with pytest.raises(NotImplementedError):
        enq.burst(plan(1), [work.s(0, 0.0, "sleep", priority=3)])
    with pytest.raises(NotImplementedError):
        app.enqueue(work.s(0, 0.0, "sleep", priority=3))


def test_batch_sizes():
    assert list(batch_sizes(0)) == []
    assert list(batch_sizes(1)) == [1]
    assert list(batch_sizes(10, 1, 4)) == [1, 2, 4, 3]
    assert list(batch_sizes(10, 8, 4)) == [4, 4, 2]
    assert sum(batch_sizes(100_000)) == 100_000


def test_open_loop_schedule_is_kept(huey_app):
    app, work = huey_app("priority_redis")
    planned = [PlannedTask(s, "x", s, 1, 0.0, "sleep", at_ns=s * 3_000_000) for s in range(10)]
    timing = {}
    stamps = enqueue_planned(Enqueuer(app, work), planned, timing, lead_ns=1_000_000)
    t0 = timing["first_enqueue_ns"]
    for t in planned:
        enq_ns, intended = stamps[t.seq]
        assert intended == t0 + t.at_ns and enq_ns >= intended
    assert timing["last_enqueue_ns"] >= max(e for e, _ in stamps.values())
    assert app.storage.queue_size() == 10


@pytest.mark.parametrize("backend", ["priority_redis", "redis", "sqlite"])
def test_a_late_open_loop_producer_catches_up_in_batches(backend, huey_app):
    app, work = huey_app(backend)
    planned = [PlannedTask(s, "x", s, 2, 0.0, "sleep", at_ns=s * 1000) for s in range(40)]
    t0 = time.time_ns() - 1_000_000_000  # a second behind: every task is overdue
    stamps = Enqueuer(app, work, max_batch=16).schedule(planned, t0)
    assert all(e >= t0 + t.at_ns and i == t0 + t.at_ns
               for t, (e, i) in ((t, stamps[t.seq]) for t in planned))
    # Overdue tasks went together, at most 16 a batch; app.enqueue (sqlite) one at a time.
    batches = sorted(set(e for e, _ in stamps.values()))
    assert len(batches) == (40 if backend == "sqlite" else 3)
    assert [t.args[0] for t in drain(app, 40)] == list(range(40))


SCENARIO = """\
name: fast-{name}
backend: {backend}
workers: {workers}
classes:
  - {{name: low, priority: 1, count: 40, duration: 1ms}}
  - {{name: mid, priority: 5, count: 40, duration: 1ms}}
  - {{name: top, priority: 9, count: 40, duration: 1ms}}
arrival: {arrival}
timeout: 60s
"""


@pytest.mark.parametrize("backend,workers,arrival", [
    ("priority_redis", 1, "{start: after, order: shuffle}"),
    ("priority_redis_expire", 2, "{start: before, order: round_robin}"),
    ("redis", 2, "{start: after, order: round_robin}"),
    ("sqlite", 1, "{start: before, order: sequential}"),
    ("priority_redis", 2, "{start: before, mode: rate, rate: 400/s, process: poisson}"),
])
def test_real_consumers_run_the_fast_path(backend, workers, arrival, redis_url, tmp_path):
    sc = load_text(SCENARIO.format(name=backend.replace("_", "-"), backend=backend,
                                   workers=workers, arrival=arrival))
    out = Run(sc, redis_url).execute(str(tmp_path))  # the runner enqueues through bench.enqueue
    assert out.complete, out.problems
    assert out.lost_tasks == 0 and len(out.records) == 120
    t = out.timing
    assert t["first_enqueue_ns"] <= min(r.enqueue_ns for r in out.records)
    assert max(r.enqueue_ns for r in out.records) <= t["last_enqueue_ns"]
    m = analyze(out.records, sc.total_workers)
    if backend == "priority_redis" and "after" in arrival:  # prefilled, one worker: perfect order
        assert m.inversions == 0 and m.kendall_tau_distance == 0
        assert [r.cls for r in sorted(out.records, key=lambda r: r.start_ns)] == \
            ["top"] * 40 + ["mid"] * 40 + ["low"] * 40
    if "rate" in arrival:
        assert all(r.intended_ns is not None for r in out.records)
