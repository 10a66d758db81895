"""What a result was measured on (recorded in result.json): versions, hardware, limits, mode."""

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata

import bench

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cpu_model():
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith(("model name", "Model", "cpu model")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def cgroup_cpu_limit():
    """CPUs this process may use per cgroup quota (v2 cpu.max, else v1 cfs); None if unlimited."""
    v2 = _read("/sys/fs/cgroup/cpu.max")
    if v2:
        quota, period = (v2.split() + ["100000"])[:2]
        return None if quota == "max" else int(quota) / int(period)
    quota, period = _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    if quota and period and int(quota) > 0:
        return int(quota) / int(period)
    return None


def cgroup_memory_limit_bytes():
    """Memory limit of this cgroup; None if unlimited (v1 reports a huge number then)."""
    raw = _read("/sys/fs/cgroup/memory.max") or _read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    if not raw or raw == "max" or int(raw) >= 2**60:
        return None
    return int(raw)


def git_commit():
    """The project's commit: from git, else BENCH_GIT_COMMIT (images are built without .git)."""
    try:
        out = subprocess.run(["git", "-C", PROJECT_DIR, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "-C", PROJECT_DIR, "status", "--porcelain", "--",
                                    "bench"], capture_output=True, text=True, timeout=5).stdout
            return out.stdout.strip() + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return os.environ.get("BENCH_GIT_COMMIT") or None


def collect(conn, mode):
    """Environment of a run; `conn` is the run's Redis client, `mode` local or docker."""
    try:
        server = conn.info("server").get("redis_version")
    except Exception:  # the run already talked to Redis; a missing INFO is not worth failing for
        server = None
    return {
        "bench": bench.__version__,
        "git_commit": git_commit(),
        "huey": _version("huey"),
        "redis_py": _version("redis"),
        "redis_server": server,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cgroup_cpu_limit": cgroup_cpu_limit(),
        "cgroup_memory_limit_bytes": cgroup_memory_limit_bytes(),
        "mode": mode,
    }
