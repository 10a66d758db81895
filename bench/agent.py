"""Consumer agent: waits for run specs on Redis, runs `huey_consumer` for each, reports back.

Protocol (all keys under `bench:`; JSON values):
  bench:agents                 zset  agent id -> last heartbeat (epoch s)
  bench:agent:<id>:inbox       list  commands for one agent: {"cmd": "start", ...spec} | {"cmd": "stop"}
  bench:agent:<id>:claim       str   run id that reserved this agent (SET NX, expires)
  bench:run:<run>:status       list  agent reports: {"agent", "state": started|exited|stopped|error, ...}
  bench:run:<run>:ready        list  one entry per consumer worker that is up (pushed by the workload)
The runner never needs a Docker socket: any agent that reaches the Redis can serve a run.
"""

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import redis

from bench.clocks import measure_offset

AGENTS_KEY = "bench:agents"
PR_SET_PDEATHSIG = 1
HEARTBEAT_S = 1.0
ALIVE_S = 5.0  # an agent silent for longer is presumed gone
STOP_GRACE_S = 10.0


def inbox_key(agent_id):
    return f"bench:agent:{agent_id}:inbox"


def claim_key(agent_id):
    return f"bench:agent:{agent_id}:claim"


def status_key(run_id):
    return f"bench:run:{run_id}:status"


def default_agent_id():
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def die_with_parent():
    """In the consumer, before exec: on Linux, get SIGTERM when the agent dies (even SIGKILLed)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: a killed agent's consumer outlives it, as any orphan would


def consumer_command(spec):
    """The huey_consumer command line for a run spec."""
    # The console script beside this interpreter, else the same module run by it: never a
    # huey_consumer found on PATH, which may belong to another environment.
    script = os.path.join(os.path.dirname(sys.executable), "huey_consumer")
    base = [script] if os.access(script, os.X_OK) else [sys.executable, "-m",
                                                        "huey.bin.huey_consumer"]
    # -n: no periodic tasks; -q: per-task INFO logging would slow the workers we measure.
    return base + ["bench.workload.huey", "-w", str(spec["workers"]),
                   "-k", spec["worker_type"], "-n", "-q"] + list(spec.get("consumer_flags", ()))


class Agent:
    """Serves runs one at a time until stopped (or after one run with once=True)."""

    def __init__(self, redis_url, agent_id=None, once=False, log=None, parent_pid=None):
        self.conn = redis.Redis.from_url(redis_url, socket_connect_timeout=5,
                                         health_check_interval=30)
        self.redis_url = redis_url
        self.agent_id = agent_id or default_agent_id()
        self.once = once
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.consumer = None
        self.run_id = None
        self.served = 0
        self._stopping = False
        self.parent_pid = parent_pid  # local agents leave when the runner that made them is gone

    def request_stop(self, *_):
        self._stopping = True

    def report(self, state, **extra):
        if self.run_id:
            msg = dict(agent=self.agent_id, state=state, host=socket.gethostname(), **extra)
            try:
                self.conn.rpush(status_key(self.run_id), json.dumps(msg))
            except redis.RedisError as e:
                self.log(f"agent {self.agent_id}: could not report {state}: {e}")

    def heartbeat(self):
        self.conn.zadd(AGENTS_KEY, {self.agent_id: time.time()})

    def serve(self):
        """Main loop; returns when asked to stop, or after one run in once mode."""
        self.log(f"agent {self.agent_id} waiting for runs")
        last_beat, redis_down = 0.0, False
        try:
            while not self._stopping and not (self.once and self.served and not self.consumer):
                if self.parent_pid and os.getppid() != self.parent_pid:
                    self.log(f"agent {self.agent_id}: the runner is gone, stopping")
                    break
                try:
                    if time.monotonic() - last_beat >= HEARTBEAT_S:
                        self.heartbeat()
                        last_beat = time.monotonic()
                    self._check_consumer()
                    item = self.conn.blpop([inbox_key(self.agent_id)], timeout=0.5)
                    redis_down = False
                except (redis.ConnectionError, redis.TimeoutError) as e:
                    # Redis restarting: keep the consumer, retry; huey's workers retry too.
                    if not redis_down:
                        self.log(f"agent {self.agent_id}: Redis unreachable ({e}), retrying")
                    redis_down = True
                    time.sleep(0.5)
                    continue
                if item:
                    self._handle(json.loads(item[1]))
        finally:
            self._stop_consumer()
            try:
                self.conn.zrem(AGENTS_KEY, self.agent_id)
                self.conn.delete(inbox_key(self.agent_id), claim_key(self.agent_id))
            except redis.RedisError:
                pass  # Redis gone: so are these keys

    def _handle(self, cmd):
        if cmd.get("cmd") == "start" and self.consumer is None:
            self._start_consumer(cmd)
        elif cmd.get("cmd") == "stop":
            self._stop_consumer()

    def _start_consumer(self, spec):
        self.run_id = spec["run_id"]
        env = dict(os.environ, BENCH_BACKEND=spec["backend"], BENCH_HUEY_NAME=spec["run_id"],
                   BENCH_REDIS_URL=spec.get("redis_url") or self.redis_url,
                   BENCH_WORKER_TYPE=spec["worker_type"],
                   BENCH_SQLITE_PATH=spec.get("sqlite_path") or "")
        cmd = consumer_command(spec)
        try:
            self.consumer = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                             preexec_fn=die_with_parent)
        except OSError as e:
            self.report("error", message=f"cannot start {cmd[0]}: {e}")
            self.served += 1
            return
        self.log(f"agent {self.agent_id}: run {self.run_id}: started consumer pid {self.consumer.pid}")
        clock = measure_offset(self.conn)
        self.report("started", pid=self.consumer.pid, clock_offset_ns=clock.offset_ns,
                    clock_rtt_ns=clock.rtt_ns)

    def _check_consumer(self):
        if self.consumer is not None and self.consumer.poll() is not None:
            code = self.consumer.returncode
            self.log(f"agent {self.agent_id}: consumer exited unexpectedly with {code}")
            self.report("exited", code=code)
            self._finish()

    def _stop_consumer(self):
        if self.consumer is None:
            return
        if self.consumer.poll() is None:
            self.consumer.send_signal(signal.SIGINT)  # huey: SIGINT = finish running tasks, then exit
            try:
                self.consumer.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.consumer.kill()
                self.consumer.wait()
        self.report("stopped", code=self.consumer.returncode)
        self._finish()

    def _finish(self):
        self.conn.delete(claim_key(self.agent_id))
        self.consumer = None
        self.served += 1


def run_agent(redis_url, agent_id=None, once=False, parent_pid=None):
    """Entry point of `bench agent`: serve until SIGINT/SIGTERM."""
    agent = Agent(redis_url, agent_id=agent_id, once=once, parent_pid=parent_pid)
    signal.signal(signal.SIGTERM, agent.request_stop)
    signal.signal(signal.SIGINT, agent.request_stop)
    agent.serve()
    return agent
