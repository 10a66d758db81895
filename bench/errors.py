"""Typed errors raised by library code; only the CLI turns them into messages and exit codes."""


class BenchError(Exception):
    """Base class of every error the CLI reports without a traceback."""

    exit_code = 1


class ScenarioError(BenchError):
    """One problem in a scenario file, located by file, line and field path."""

    exit_code = 2

    def __init__(self, path, line, field, message):
        self.path, self.line, self.field, self.message = path, line, field, message
        super().__init__(str(self))

    def __str__(self):
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ScenarioErrors(BenchError):
    """Every problem found in one or more scenario files (reported together)."""

    exit_code = 2

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class EventsError(BenchError):
    """An events.csv (or result directory) that cannot be analyzed."""

    exit_code = 2


class RedisUnavailable(BenchError):
    """Redis cannot be reached or started."""

    exit_code = 3


class AgentsUnavailable(BenchError):
    """Fewer consumer agents answered than the scenario needs."""

    exit_code = 4


class RunIncomplete(BenchError):
    """A run ended without every task's record; partial results were saved."""

    exit_code = 5
