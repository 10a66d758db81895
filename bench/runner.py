"""Drives one scenario run: Redis, consumer agents, enqueue, wait, collect, clean up."""

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field

import redis

from bench import agent as agent_proto
from bench import clocks
from bench.enqueue import MAX_BATCH, Enqueuer, enqueue_planned
from bench.errors import AgentsUnavailable, BenchError, RedisUnavailable
from bench.plan import plan_tasks
from bench.records import TaskRecord
from bench.workload import make_huey, ready_key

READY_TIMEOUT_S = 60.0
AGENTS_WAIT_S = 20.0
STALL_S = 3.0  # a dead consumer's tasks count as lost after this long without progress
SNAPSHOT_MIN_S = 1.0  # results are copied out of Redis this often at most, so a Redis
SNAPSHOT_BUDGET = 50  # restart loses little; and at most 1/50 of the time goes to it
RECONNECT_S = 0.5
RESTART_CHECK_S = 1.0
OPEN_LOOP_LEAD_NS = 5_000_000  # the schedule starts a little ahead so task 0 is not late
SHARED_DIR_ENV = "BENCH_SHARED_DIR"
POLL_S = 0.02
REDIS_HINT = ("start one (e.g. `redis-server --port 6379`, or `docker compose up -d redis`), "
              "check the URL, or leave out --redis-url/REDIS_URL to let bench start a private one")


class ConsumerFailed(BenchError):
    """Consumers could not be started or died before any work was done."""


@dataclass(frozen=True)
class RunOutcome:
    """Everything a run observed; metrics are computed from it elsewhere."""

    run_id: str
    scenario: object
    planned: tuple
    records: tuple
    mode: str
    complete: bool
    problems: tuple = ()
    interrupted: bool = False
    timing: dict = field(default_factory=dict)
    clocks: dict = field(default_factory=dict)
    warnings: tuple = ()

    @property
    def lost_tasks(self):
        return len(self.planned) - len(self.records)


def new_run_id(scenario_name):
    """Alphanumeric (huey cleans names) and unique: scenario, time, randomness."""
    stem = "".join(ch for ch in scenario_name if ch.isalnum())[:24]
    return f"{stem}{time.strftime('%H%M%S', time.gmtime())}{secrets.token_hex(3)}"


def _redacted(url):
    return url.split("@", 1)[-1] if "@" in url else url


def connect(url, timeout_s=3.0):
    """A Redis client that has answered PING, or RedisUnavailable with a hint."""
    try:
        conn = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=30)
    except ValueError as e:
        raise RedisUnavailable(f"invalid Redis URL {_redacted(url)!r}: {e}; expected "
                               "redis://[:password@]host:port/db (or rediss://, unix://)")
    try:
        conn.ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        raise RedisUnavailable(f"cannot reach Redis at {_redacted(url)}: {e}; {REDIS_HINT}")
    except redis.RedisError as e:
        raise RedisUnavailable(f"Redis at {_redacted(url)} refused us: {e}")
    return conn


class LocalAgents:
    """Agent subprocesses dedicated to one run (local mode): the very code containers run."""

    def __init__(self, redis_url, run_id, count, log_dir):
        self.ids = [f"local-{run_id}-{i}" for i in range(count)]
        self.log_path = os.path.join(log_dir, "agents.log")
        self._log = open(self.log_path, "ab")
        # The agents must import this very bench package, installed or not.
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (here, os.environ.get("PYTHONPATH")) if p))
        self.procs = [subprocess.Popen(
            [sys.executable, "-m", "bench", "agent", "--redis-url", redis_url, "--id", aid, "--once",
             "--parent-pid", str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env)
            for aid in self.ids]

    def wait_registered(self, conn, timeout_s=30.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(conn.zscore(agent_proto.AGENTS_KEY, aid) for aid in self.ids):
                return
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                break
            time.sleep(0.05)
        raise ConsumerFailed(f"local agents did not start: {self.log_tail()}")

    def log_tail(self, lines=15):
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")

    def close(self, timeout_s=15.0):
        deadline = time.monotonic() + timeout_s
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self._log.close()


def polling_flags(scenario):
    """huey_consumer polling options (-d/-m/-b): they matter to polling backends (sqlite)."""
    p = scenario.polling
    return ["-d", f"{p.delay_s:g}", "-m", f"{p.max_delay_s:g}", "-b", f"{p.backoff:g}"]


def sqlite_file(run_id, workdir, agents_mode):
    """A database file the consumers can open: the run's temp dir, or a shared directory."""
    folder = os.environ.get(SHARED_DIR_ENV) or (workdir if agents_mode == "local" else None)
    if not folder:
        raise ConsumerFailed(f"backend sqlite needs a directory shared with the consumers: set "
                             f"{SHARED_DIR_ENV} (docker-compose.yml mounts one at /shared)")
    path = os.path.join(folder, f"{run_id}.db")
    # Consumers may run as another user (containers): let them write the file and its WAL.
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o666))
    os.chmod(path, 0o666)
    return path


def remove_sqlite(path):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass


def claim_agents(conn, run_id, count, candidates=None, wait_s=0.0):
    """Reserve `count` live agents for this run (SET NX), waiting up to wait_s for them."""
    claimed = []
    deadline = time.monotonic() + wait_s
    while True:
        alive = candidates or [a.decode() for a in conn.zrangebyscore(
            agent_proto.AGENTS_KEY, time.time() - agent_proto.ALIVE_S, "+inf")]
        for aid in alive:
            if len(claimed) == count:
                break
            if aid not in claimed and conn.set(agent_proto.claim_key(aid), run_id, nx=True,
                                               ex=24 * 3600):
                claimed.append(aid)
        if len(claimed) == count or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if len(claimed) < count:
        for aid in claimed:
            conn.delete(agent_proto.claim_key(aid))
        raise AgentsUnavailable(
            f"needs {count} consumers, {len(claimed)} answered: "
            f"docker compose up -d --scale consumer={count}")
    return claimed


class Run:
    """One run of one scenario against one Redis; use `execute()`."""

    def __init__(self, scenario, redis_url, mode="local", agents="local", on_progress=None):
        self.scenario = scenario
        self.redis_url = redis_url
        self.mode = mode
        self.agents_mode = agents
        self.on_progress = on_progress or (lambda done, total: None)
        self.run_id = new_run_id(scenario.name)
        self.problems = []
        self._status_seen = 0
        self.agent_states = {}
        self.started = {}  # agent id -> its "started" report (host, pid, clock offset)
        self.clock = None
        self.warnings = []
        self.sqlite_path = None
        self.enqueuer = None
        self.redis_instance = None  # Redis's own run_id: it changes when the server restarts
        self.agent_ids = []
        self.results = {}  # task id -> raw result, copied out during the run
        self._next_snapshot = 0.0

    def execute(self, workdir):
        """Run the scenario; always stops consumers and deletes the run's keys."""
        sc = self.scenario
        conn = connect(self.redis_url)
        server = conn.info("server")
        self.redis_instance = server.get("run_id")
        self.clock = clocks.measure_offset(conn)
        if sc.backend.startswith("priority_redis"):
            version = server.get("redis_version", "0")
            if int(str(version).split(".")[0]) < 5:
                raise RedisUnavailable(f"Redis {version} lacks BZPOPMIN, which "
                                       f"{sc.backend} needs: use Redis >= 5")
        planned = plan_tasks(sc)
        if sc.backend == "sqlite":
            self.sqlite_path = sqlite_file(self.run_id, workdir, self.agents_mode)
        app, work = make_huey(sc.backend, self.run_id, self.redis_url, self.sqlite_path)
        # A burst into running consumers goes one write at a time: a batch lands faster than
        # a busy worker stamps its pop, and two after-the-fact stamps would then show a pop
        # that came first at the server as an inversion. A prefill (start: after) has no
        # worker popping, and open loop sends each task when due, so both keep batching.
        into_running = sc.arrival.start == "before" and sc.arrival.mode == "burst"
        self.enqueuer = Enqueuer(app, work, max_batch=1 if into_running else MAX_BATCH)
        local = None
        agent_ids = []
        timing = {"run_started_ns": time.time_ns()}
        records, interrupted, enqueue_ns = (), False, None
        try:
            if self.agents_mode == "local":
                local = LocalAgents(self.redis_url, self.run_id, sc.consumers, workdir)
                local.wait_registered(conn)
                agent_ids = claim_agents(conn, self.run_id, sc.consumers, local.ids)
            else:
                # Containers may still be starting: give them a moment to register.
                agent_ids = claim_agents(conn, self.run_id, sc.consumers, wait_s=AGENTS_WAIT_S)
            self.agent_ids = agent_ids
            if sc.arrival.start == "before":
                self._start_consumers(conn, agent_ids)
                timing["consumers_ready_ns"] = self._wait_ready(conn, local)
                enqueue_ns = self._enqueue(planned, timing)
            else:
                enqueue_ns = self._enqueue(planned, timing)
                self._start_consumers(conn, agent_ids)
            try:
                self._wait_done(app, conn, len(planned), timing)
            except KeyboardInterrupt:
                interrupted = True
                self.problems.append("interrupted by the user")
        finally:
            try:
                if agent_ids:
                    self._stop_consumers(conn, agent_ids)
                if enqueue_ns is not None:
                    records = self._collect(app, planned, enqueue_ns)
                app.flush()  # only this run's huey keys
                conn.delete(ready_key(self.run_id), agent_proto.status_key(self.run_id))
            except redis.RedisError as e:
                self.problems.append(f"Redis failed while stopping and cleaning up ({e}); "
                                     "this run's keys may remain")
                if enqueue_ns is not None and not records:
                    records = self._records(app, planned, enqueue_ns)
            finally:
                if local:
                    local.close()
                    self._forget_agents(conn, local.ids)
                if self.sqlite_path:
                    remove_sqlite(self.sqlite_path)
        timing["run_finished_ns"] = time.time_ns()
        records = clocks.to_runner_clock(records, self.host_offsets(), self.clock)
        if len(records) < len(planned):
            self.problems.append(f"{len(planned) - len(records)} of {len(planned)} tasks "
                                 "reported no result")
        return RunOutcome(self.run_id, sc, tuple(planned), records, self.mode,
                          complete=not self.problems,
                          problems=tuple(self.problems), interrupted=interrupted, timing=timing,
                          clocks=self.clock_report(), warnings=tuple(self.warnings))

    def host_offsets(self):
        """Each consumer host's clock offset, as its agent measured it when starting."""
        return {m["host"]: clocks.ClockOffset(m["clock_offset_ns"], m["clock_rtt_ns"])
                for m in self.started.values()}

    def clock_report(self):
        """Offsets against Redis TIME, and which hosts' stamps were corrected (result.json)."""
        agents = [{"agent": a, "host": m["host"], "offset_ns": m["clock_offset_ns"],
                   "rtt_ns": m["clock_rtt_ns"], "corrected": clocks.needs_correction(
                       clocks.ClockOffset(m["clock_offset_ns"], m["clock_rtt_ns"]), self.clock)}
                  for a, m in sorted(self.started.items())]
        return {"runner_offset_ns": self.clock.offset_ns, "runner_rtt_ns": self.clock.rtt_ns,
                "agents": agents}

    def _start_consumers(self, conn, agent_ids):
        sc = self.scenario
        spec = {"cmd": "start", "run_id": self.run_id, "backend": sc.backend,
                "workers": sc.workers, "worker_type": sc.worker_type,
                "sqlite_path": self.sqlite_path, "consumer_flags": polling_flags(sc)}
        for aid in agent_ids:
            conn.rpush(agent_proto.inbox_key(aid), json.dumps(spec))

    def _statuses(self, conn):
        """New agent reports since the last call, folded into agent_states."""
        items = conn.lrange(agent_proto.status_key(self.run_id), self._status_seen, -1)
        self._status_seen += len(items)
        for raw in items:
            msg = json.loads(raw)
            self.agent_states[msg["agent"]] = msg
            if msg["state"] == "started":
                self.started[msg["agent"]] = msg
            if msg["state"] in ("exited", "error"):
                self.problems.append(f"consumer of agent {msg['agent']} {msg['state']}"
                                     f" ({msg.get('code', msg.get('message'))})")
        return items

    def _dead_agents(self):
        return [a for a, m in self.agent_states.items() if m["state"] in ("exited", "error")]

    def _wait_ready(self, conn, local):
        want = self.scenario.total_workers
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if conn.llen(ready_key(self.run_id)) >= want:
                return time.time_ns()
            self._statuses(conn)
            if self._dead_agents():
                break
            time.sleep(POLL_S)
        detail = local.log_tail() if local else "see the consumer containers' logs"
        raise ConsumerFailed(f"{conn.llen(ready_key(self.run_id))} of {want} consumer workers "
                             f"became ready: {'; '.join(self.problems) or 'timed out'}\n{detail}")

    def _enqueue(self, planned, timing):
        """Enqueue every planned task (bench.enqueue); returns seq -> (enqueue_ns, intended_ns).

        Bursts go in batches of 1, 2, 4, ... 256 tasks, open loop on its schedule (overdue
        tasks together); enqueue_ns is stamped after the write that put the task in Redis
        returned, intended_ns is the schedule's time (open loop) or None.
        """
        return enqueue_planned(self.enqueuer, planned, timing, OPEN_LOOP_LEAD_NS)

    def _wait_done(self, app, conn, total, timing):
        """Poll until every result is in, the deadline passes, or the run cannot finish."""
        sc = self.scenario
        deadline = time.monotonic() + sc.timeout_s
        stall_s = max(STALL_S, 2 * max(c.duration_s for c in sc.classes))
        last_done, last_change, lost_connection = -1, time.monotonic(), False
        next_restart_check = 0.0
        while True:
            now = time.monotonic()
            if now >= deadline:
                self.problems.append(f"timed out after {sc.timeout_s:g} s with "
                                     f"{max(last_done, 0)} of {total} tasks done")
                return
            try:
                if lost_connection or now >= next_restart_check:
                    if self._redis_restarted(conn):
                        return
                    self._check_heartbeats(conn)
                    lost_connection, next_restart_check = False, now + RESTART_CHECK_S
                done = app.storage.result_store_size()
                self._statuses(conn)
                self._snapshot(app, done, now)
                queued = app.storage.queue_size()
            except (redis.ConnectionError, redis.TimeoutError) as e:
                if not lost_connection:
                    self.problems.append(f"lost the connection to Redis mid-run ({e})")
                lost_connection = True
                time.sleep(RECONNECT_S)
                continue
            self.on_progress(done, total)
            if done >= total:
                timing["all_done_ns"] = time.time_ns()
                return
            if done != last_done:
                last_done, last_change = done, now
            dead = self._dead_agents()
            if len(dead) == sc.consumers:
                self.problems.append("every consumer died before the work was done")
                return
            if dead and queued == 0 and now - last_change > stall_s:
                self.problems.append(f"{total - done} tasks were lost with the consumer(s) "
                                     "that died: the queue is empty and no result came for "
                                     f"{stall_s:g} s")
                return
            time.sleep(POLL_S)

    def _check_heartbeats(self, conn):
        """An agent killed outright (say, its container) never reports: its silence does."""
        cutoff = time.time() - agent_proto.ALIVE_S
        for aid in self.agent_ids:
            beat = conn.zscore(agent_proto.AGENTS_KEY, aid)
            if aid not in self._dead_agents() and (beat is None or beat < cutoff):
                self.agent_states[aid] = {"agent": aid, "state": "error"}
                self.problems.append(f"agent {aid} stopped answering (no heartbeat for "
                                     f"{agent_proto.ALIVE_S:g} s): its consumer is presumed dead")

    def _forget_agents(self, conn, agent_ids):
        """Local agents are gone now: remove any key a late message recreated for them."""
        try:
            conn.delete(*[agent_proto.inbox_key(a) for a in agent_ids],
                        *[agent_proto.claim_key(a) for a in agent_ids])
            conn.zrem(agent_proto.AGENTS_KEY, *agent_ids)
        except redis.RedisError:
            pass  # already reported by the cleanup above

    def _redis_restarted(self, conn):
        """True (and a problem noted) when Redis is a new instance: this run's data is gone."""
        instance = conn.info("server").get("run_id")
        if instance == self.redis_instance:
            return False
        self.problems.append("Redis restarted mid-run: the queue and the results it held are "
                             "gone (tasks collected before the restart are kept)")
        self.redis_instance, self._status_seen = instance, 0
        return True

    def _snapshot(self, app, done, now):
        """Copy results out of Redis now and then, so a Redis restart does not lose them all."""
        if done <= len(self.results) or now < self._next_snapshot:
            return
        started = time.monotonic()
        self.results.update(app.storage.result_items())
        spent = time.monotonic() - started
        self._next_snapshot = now + max(SNAPSHOT_MIN_S, SNAPSHOT_BUDGET * spent)

    def _stop_consumers(self, conn, agent_ids):
        for aid in agent_ids:
            if aid not in self._dead_agents():  # a finished agent would leave the stop unread
                conn.rpush(agent_proto.inbox_key(aid), json.dumps({"cmd": "stop"}))
        deadline = time.monotonic() + agent_proto.STOP_GRACE_S + 5
        while time.monotonic() < deadline:
            self._statuses(conn)
            if all(self.agent_states.get(a, {}).get("state") in ("stopped", "exited", "error")
                   for a in agent_ids):
                return
            time.sleep(POLL_S)
        self.problems.append("some consumers did not confirm they stopped")

    def _collect(self, app, planned, enqueue_ns):
        """Every result still in the store, added to those copied out during the run."""
        self.results.update(app.storage.result_items())
        return self._records(app, planned, enqueue_ns)

    def _records(self, app, planned, enqueue_ns):
        """Timing records from the collected results, joined with what the runner knows."""
        by_seq = {t.seq: t for t in planned}
        records = []
        for raw in self.results.values():
            value = app.serializer.deserialize(raw)
            if not (isinstance(value, (tuple, list)) and len(value) == 4):
                continue  # an error result: the task counts as lost
            seq, start_ns, end_ns, worker = value
            t = by_seq[seq]
            enq_ns, intended_ns = enqueue_ns[seq]
            records.append(TaskRecord(seq, t.cls, t.priority, enq_ns, start_ns, end_ns, worker,
                                      intended_ns))
        records.sort(key=lambda r: r.seq)
        return tuple(records)
