"""What a result was measured on: versions, host and mode (recorded in result.json)."""

import os
import platform
import socket
import sys
from importlib import metadata

import bench


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def collect(conn, mode):
    """Environment of a run; `conn` is the run's Redis client, `mode` local or docker."""
    try:
        server = conn.info("server").get("redis_version")
    except Exception:  # the run already talked to Redis; a missing INFO is not worth failing for
        server = None
    return {
        "bench": bench.__version__,
        "huey": _version("huey"),
        "redis_py": _version("redis"),
        "redis_server": server,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "mode": mode,
    }
