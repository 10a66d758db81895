"""The runner's fast enqueue path: huey's own messages, written in batches, stored as huey stores them.

`app.enqueue(task)` costs one round trip per task. For a burst, `Enqueuer.burst` serializes
each task with huey's `serialize_task` and writes a whole batch with ONE variadic command,
ZADD (priority queues) or LPUSH (RedisStorage), so Redis ends up holding exactly what
per-task `app.enqueue` calls would have left there:

- PriorityRedisStorage and PriorityRedisExpireStorage (`RedisPriorityQueue.enqueue`): member
  `struct.pack('>Q', microseconds) + data`, score `-priority` (0 without one);
- RedisStorage: `LPUSH key d1 d2 ...` leaves the list that LPUSH d1, LPUSH d2, ... would;
- anything else (SQLite, an overridden `enqueue`, immediate mode): plain `app.enqueue`.

What `app.enqueue` also does, and how it is honoured here:
- `task.resolve_expires(app.utc)` when the task expires: done;
- the SIGNAL_ENQUEUED signal: emitted per task, before the write as huey does, but only
  when a receiver is connected (`app._signal.receivers`): with none it is a no-op;
- the `Result` handles it returns: not built; the runner reads results from the store.

Ties stay FIFO: huey orders equal priorities by the 8-byte microsecond prefix it takes
from the producer's clock, so two tasks in one microsecond would sort by their data
bytes. The prefix here is max(now_us, last + 1): strictly increasing per Enqueuer (run
one producer per queue, as the runner does).

Stamps: a batch is one atomic command, so every task in it becomes visible at once; its
enqueue_ns is taken once, after that command returned. A task is never counted as
waiting before it was really in Redis (the inversion metric and the oracle rely on it).

Batches grow 1, 2, 4, ... up to `max_batch`: the first task is in Redis after one
round trip, so consumers already running (`arrival.start: before`) get work at once, and
the bulk still moves at the batched rate. benchmarks/enqueue_rate.py has the figures.
In open loop (`schedule`) each task goes when due; the tasks already due when the
producer gets to them (it fell behind) go together in one batch, so a late producer
catches up at the batched rate instead of falling further behind.
"""

import struct
import time
from itertools import repeat

from huey import signals as S
from huey.storage import RedisPriorityQueue, RedisStorage

MAX_BATCH = 256  # benchmarks/enqueue_rate.py: near the best rate; a longer command only
                 # delays the other clients (consumers' BZPOPMIN) and the first task of a batch
_PREFIX = struct.Struct(">Q")


def batch_sizes(total, first=1, cap=MAX_BATCH):
    """Sizes 1, 2, 4, ... cap, cap, ... (starting at `first`) summing to total."""
    size, left = max(1, min(first, cap)), total
    while left > 0:
        yield min(size, left)
        left -= size
        size = min(size * 2, cap)


def storage_kind(app):
    """'zset', 'list' or None (fall back to app.enqueue): by the enqueue method huey would run."""
    if app._immediate:
        return None
    enqueue = type(app.storage).enqueue
    if enqueue is RedisPriorityQueue.enqueue:
        return "zset"
    if enqueue is RedisStorage.enqueue:
        return "list"
    return None


class Enqueuer:
    """Enqueues planned tasks (bench.plan.PlannedTask) of the `work` task; one per producer."""

    def __init__(self, app, work, max_batch=MAX_BATCH, first_batch=1):
        self.app, self.work = app, work
        self.max_batch, self.first_batch = max_batch, first_batch
        self.kind = storage_kind(app)
        self.use_priority = app.storage.priority  # RedisHuey refuses any priority: the baseline
        self._last_us = 0
        if self.kind:  # connect now: redis-py connects on the first command, ~3 ms here
            app.storage.conn.ping()

    def task(self, t, id=None):
        """The huey task of a planned task, as the runner has always built it (`id` for tests)."""
        return self.work.s(t.seq, t.duration_s, t.work,
                           priority=t.priority if self.use_priority else None, id=id)

    def burst(self, planned, tasks=None):
        """Enqueue every planned task as fast as possible; returns seq -> (enqueue_ns, None).

        `tasks`: the huey task objects, if the caller built them (default: `self.task(t)`,
        built batch by batch so the first batch leaves without waiting for the rest).
        """
        planned = list(planned)
        tasks = list(tasks) if tasks is not None else None
        stamps, lo = {}, 0
        # The fallback (app.enqueue) stamps each task as it returns, as the runner always did.
        sizes = (batch_sizes(len(planned), self.first_batch, self.max_batch) if self.kind
                 else repeat(1, len(planned)))
        for size in sizes:
            batch = planned[lo:lo + size]
            now_ns = self._write(list(map(self.task, batch)) if tasks is None
                                 else tasks[lo:lo + size])
            for t in batch:
                stamps[t.seq] = (now_ns, None)
            lo += size
        return stamps

    def schedule(self, planned, t0_ns):
        """Open loop: each task at t0_ns + at_ns; returns seq -> (enqueue_ns, intended_ns)."""
        planned = list(planned)
        cap = self.max_batch if self.kind else 1  # app.enqueue: each task stamped on its own
        stamps, i = {}, 0
        while i < len(planned):
            task = self.task(planned[i])  # built before the wait: its cost adds no lag
            ahead_s = (t0_ns + (planned[i].at_ns or 0) - time.time_ns()) / 1e9
            if ahead_s > 0:
                time.sleep(ahead_s)
            now_ns, j = time.time_ns(), i + 1
            while j < len(planned) and j - i < cap and t0_ns + (planned[j].at_ns or 0) <= now_ns:
                j += 1  # already due too: the producer is behind, send them together
            batch = planned[i:j]
            enqueue_ns = self._write([task] + [self.task(t) for t in batch[1:]])
            for t in batch:
                stamps[t.seq] = (enqueue_ns, t0_ns + (t.at_ns or 0))
            i = j
        return stamps

    def one(self, t, task=None):
        """Enqueue one planned task now; returns its enqueue_ns."""
        return self._write([task if task is not None else self.task(t)])

    def _write(self, tasks):
        """One ZADD/LPUSH of huey's serialized messages; the time_ns after it returned."""
        app, storage = self.app, self.app.storage
        if self.kind is None:
            for task in tasks:
                app.enqueue(task)
            return time.time_ns()
        notify = app._signal.receivers.get(S.SIGNAL_ENQUEUED) or app._signal.receivers["any"]
        datas, scores = [], []
        for task in tasks:
            if task.expires:
                task.resolve_expires(app.utc)
            if notify:
                app._emit(S.SIGNAL_ENQUEUED, task)
            datas.append(app.serialize_task(task))
            scores.append(0 if task.priority is None else -task.priority)
        if self.kind == "list":
            if any(scores):
                raise NotImplementedError("Task priorities are not supported by this storage.")
            storage.conn.lpush(storage.queue_key, *datas)
        else:
            now_us, last = time.time_ns() // 1000, self._last_us
            mapping = {}
            for data, score in zip(datas, scores):
                last = max(now_us, last + 1)
                mapping[_PREFIX.pack(last) + data] = score
            self._last_us = last
            storage.conn.zadd(storage.queue_key, mapping)
        return time.time_ns()


def enqueue_planned(enq, planned, timing, lead_ns=0):
    """The runner's enqueue: seq -> (enqueue_ns, intended_ns); sets timing's first/last_enqueue_ns.

    `enq` is an Enqueuer, made ahead so its connection is open. A burst goes in growing
    batches from now; an open-loop schedule (at_ns set) starts at t0 = now + lead_ns, so
    task 0 is not late.
    """
    if all(t.at_ns is None for t in planned):
        timing["first_enqueue_ns"] = time.time_ns()
        stamps = enq.burst(planned)
    else:
        timing["first_enqueue_ns"] = t0 = time.time_ns() + lead_ns
        stamps = enq.schedule(planned, t0)
    timing["last_enqueue_ns"] = time.time_ns()
    return stamps
