"""Reproducible benchmark of task priority in the huey task queue."""

__version__ = "0.1.0"
