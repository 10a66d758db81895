"""Scenario files: safe YAML loading, validation with line numbers, and frozen records."""

from __future__ import annotations

import difflib
import itertools
import math
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Optional

import yaml

from bench.errors import ScenarioError, ScenarioErrors

BACKENDS = ("priority_redis", "priority_redis_expire", "redis", "sqlite")
WORKER_TYPES = ("thread", "process", "greenlet")
WORK_KINDS = ("sleep", "cpu")
START_MODES = ("before", "after")
ORDERS = ("round_robin", "sequential", "shuffle")
ARRIVAL_MODES = ("burst", "rate")
PROCESSES = ("poisson", "uniform")
# Fields a matrix may vary, in the order its "allowed" list names them; rate is arrival.rate.
MATRIX_FIELDS = ("consumers", "workers", "worker_type", "backend", "seed", "rate")

MAX_TASKS = 1_000_000          # per run: one cell, one repetition
MAX_SESSION_TASKS = 5_000_000  # over every cell, warm-up and repetition of a file
MAX_CELLS = 64
MAX_REPEAT = 100
MAX_WARMUP = 10
MAX_CONSUMERS = 64
MAX_WORKERS = 256
MAX_DURATION_S = 3600.0
MAX_TIMEOUT_S = 86400.0
MAX_POLL_S = 60.0
MAX_BACKOFF = 10.0
MAX_RATE_PER_S = 100_000.0
PRIORITY_MIN, PRIORITY_MAX = -(2**31), 2**31 - 1
SEED_MAX = 2**63 - 1
NAME_RE = r"[a-z0-9][a-z0-9-]{0,62}"
CLASS_NAME_RE = r"[A-Za-z0-9_-]{1,32}"

# Decimal factors keep "250ms" == 0.25 exactly instead of 250 * 0.001.
_UNITS = {"": Decimal(1), "us": Decimal("0.000001"), "ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60)}
_DURATION_RE = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([^\s\d.+-]*)\s*")
_DURATION_HELP = "seconds, or a string with a unit (us, ms, s, m) such as '250ms', '1.5s', '2m'"
# Seconds per unit of a rate's "per": "12000/m" == 200.0 per second exactly.
_RATE_UNITS = {"s": Decimal(1), "m": Decimal(60)}
_RATE_RE = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:/\s*(\S*))?\s*")
_RATE_HELP = "tasks per second, or a string with a unit (/s, /m) such as '200/s', '12000/m', '0.5/s'"


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class TaskClass:
    """One class of identical tasks enqueued with the same priority."""

    name: str
    priority: int
    count: int
    duration_s: float = 0.0
    work: str = "sleep"


@dataclass(frozen=True)
class Arrival:
    """When consumers start relative to enqueueing, the order tasks are enqueued in, and how fast.

    mode burst enqueues everything as fast as possible; mode rate is an open-loop producer
    enqueueing rate_per_s tasks a second on average, spaced by `process`.
    """

    start: str = "before"
    order: str = "round_robin"
    mode: str = "burst"
    rate_per_s: Optional[float] = None
    process: str = "poisson"


@dataclass(frozen=True)
class Polling:
    """huey_consumer's polling of an empty queue (-d, -m, -b): what a polling backend (sqlite) waits."""

    delay_s: float = 0.1
    max_delay_s: float = 10.0
    backoff: float = 1.15


@dataclass(frozen=True)
class Scenario:
    """One benchmark scenario, as loaded from a YAML file.

    matrix is ((field, (value, ...)), ...) in file order; cells() expands it. A field set both
    at top level and in the matrix takes the matrix's values.
    """

    name: str
    classes: tuple
    description: str = ""
    backend: str = "priority_redis"
    consumers: int = 1
    workers: int = 1
    worker_type: str = "thread"
    arrival: Arrival = Arrival()
    seed: int = 1
    timeout_s: float = 300.0
    repeat: int = 1
    warmup: int = 0
    matrix: tuple = ()
    polling: Polling = Polling()
    # Where a scenario came from is not part of what it is: equal files at two paths are equal.
    source: Optional[str] = field(default=None, compare=False)

    def __post_init__(self):
        if isinstance(self.classes, list):
            object.__setattr__(self, "classes", tuple(self.classes))
        m = list(self.matrix.items()) if isinstance(self.matrix, dict) else self.matrix
        if isinstance(m, (list, tuple)) and all(
                isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[1], (list, tuple)) for p in m):
            object.__setattr__(self, "matrix", tuple((k, tuple(vs)) for k, vs in m))

    @property
    def total_tasks(self):
        """Tasks per run: one cell, one repetition."""
        return sum(c.count for c in self.classes)

    @property
    def total_workers(self):
        return self.consumers * self.workers

    def cells(self):
        """The matrix's cells in order (the last field varies fastest); one cell, key "", without a matrix."""
        if not self.matrix:
            return [Cell("", (), self)]
        keys = [k for k, _ in self.matrix]
        out = []
        for combo in itertools.product(*(vs for _, vs in self.matrix)):
            pairs = tuple(zip(keys, combo))
            out.append(Cell(",".join(f"{k}={_cell_value(v)}" for k, v in pairs), pairs, self._with(pairs)))
        return out

    def _with(self, pairs):
        """This scenario without its matrix, one value of each matrix field applied."""
        changes = {"matrix": ()}
        for k, v in pairs:
            if k == "rate":
                changes["arrival"] = replace(changes.get("arrival", self.arrival), mode="rate", rate_per_s=float(v))
            else:
                changes[k] = v
        return replace(self, **changes)

    def validate(self):
        """Raise ValueError listing every problem ('field.path: message' per line)."""
        problems = _record_problems(self, _SCENARIO, "")
        if not problems:
            values = {f.name: getattr(self, f.name) for f in _SCENARIO.fields}
            problems = _cross_problems(self.classes) + _setup_problems(
                values, self.classes, lambda path: _differs_from_default(self, path))
        if problems:
            raise ValueError("\n".join(f"{p}: {m}" for p, m in problems))

    def to_dict(self):
        """Plain JSON-able dict in the schema's shape; durations in seconds (duration_s, timeout_s,
        delay_s, max_delay_s), arrival rate as rate_per_s, matrix as {field: [values]}."""
        return _to_dict(self, _SCENARIO)


@dataclass(frozen=True)
class Cell:
    """One combination of matrix values: its key ("workers=2,worker_type=thread"), the
    (field, value) pairs in matrix order, and the scenario it runs (matrix applied, none left)."""

    key: str
    pairs: tuple
    scenario: Scenario

    @property
    def params(self):
        return dict(self.pairs)


def _cell_value(v):
    """A matrix value as it appears in a cell key: 200.0 -> '200', 0.5 -> '0.5'."""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


# ---------------------------------------------------------------- value checks


def _describe(v):
    """Name a found value for an 'expected X, got Y' message."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"boolean {str(v).lower()}"
    if isinstance(v, int):
        return f"integer {v}"
    if isinstance(v, float):
        return f"float {v!r}"
    if isinstance(v, str):
        return f"string {v if len(v) <= 40 else v[:37] + '...'!r}"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return f"{type(v).__name__} {str(v)[:40]}"


def _suggest(word, choices):
    """A ' (did you mean X?)' hint, or ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _finite_float(value):
    return float(value) if abs(value) < 1e300 else math.inf  # float(10**400) would raise


def parse_duration(value):
    """Seconds as a float from a number (seconds) or a string like '250ms'; ValueError if invalid."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a duration ({_DURATION_HELP}), got {_describe(value)}")
    if isinstance(value, str):
        m = _DURATION_RE.fullmatch(value)
        if not m:
            raise ValueError(f"invalid duration {value!r}: expected {_DURATION_HELP}")
        number, unit = m.groups()
        if unit not in _UNITS:
            raise ValueError(f"unknown duration unit {unit!r} in {value!r} (allowed: us, ms, s, m)")
        seconds = float(Decimal(number) * _UNITS[unit])
    else:
        seconds = _finite_float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be finite, got {value!r}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    return seconds


def parse_rate(value):
    """Tasks per second as a float from a number (per second) or a string like '200/s', '12000/m'.

    ValueError if invalid, zero or negative; a plain number string ('200') is per second.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a rate ({_RATE_HELP}), got {_describe(value)}")
    if isinstance(value, str):
        m = _RATE_RE.fullmatch(value)
        if not m:
            raise ValueError(f"invalid rate {value!r}: expected {_RATE_HELP}")
        number, unit = m.groups()
        unit = "s" if unit is None else unit
        if unit not in _RATE_UNITS:
            raise ValueError(f"unknown rate unit '/{unit}' in {value!r} (allowed: /s, /m)")
        per_s = float(Decimal(number) / _RATE_UNITS[unit])
    else:
        per_s = _finite_float(value)
    if not math.isfinite(per_s):
        raise ValueError(f"rate must be finite, got {value!r}")
    if per_s <= 0:
        raise ValueError(f"rate must be > 0, got {value!r}")
    return per_s


def _integer(lo=None, hi=None, hint=""):
    # hint explains the upper bound: only absurd sizes need one.
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int):  # bool is an int subclass; never a count
            raise ValueError(f"expected an integer, got {_describe(v)}")
        if lo is not None and v < lo:
            raise ValueError(f"must be >= {lo}, got {v}")
        if hi is not None and v > hi:
            raise ValueError(f"must be <= {hi}, got {v}{hint}")
        return v

    return check


def _number(lo, hi):
    """A finite int or float within [lo, hi], as a float."""
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"expected a number, got {_describe(v)}")
        x = _finite_float(v)
        if not math.isfinite(x):
            raise ValueError(f"must be finite, got {v!r}")
        if x < lo:
            raise ValueError(f"must be >= {lo!r}, got {v!r}")
        if x > hi:
            raise ValueError(f"must be <= {hi!r}, got {v!r}")
        return x

    return check


def _string(pattern=None, what=""):
    def check(v):
        if not isinstance(v, str):
            quote = " (quote it to make it text)" if isinstance(v, (bool, int, float)) else ""
            raise ValueError(f"expected a string, got {_describe(v)}{quote}")
        if pattern and not re.fullmatch(pattern, v):
            raise ValueError(f"must match {pattern} ({what}), got {v!r}")
        return v

    return check


def _choice(choices):
    def check(v):
        allowed = ", ".join(choices)
        if not isinstance(v, str):
            raise ValueError(f"expected one of {allowed}, got {_describe(v)}")
        if v not in choices:
            raise ValueError(f"must be one of {allowed}, got {v!r}{_suggest(v, choices)}")
        return v

    return check


def _duration(hi, hi_label, positive=False):
    def check(v):
        seconds = parse_duration(v)
        if positive and seconds <= 0:
            raise ValueError(f"must be > 0, got {v!r}")
        if seconds > hi:
            raise ValueError(f"must be at most {hi_label} ({hi:g} seconds), got {v!r}")
        return seconds

    return check


def _rate(hi):
    def check(v):
        per_s = parse_rate(v)
        if per_s > hi:
            raise ValueError(f"must be at most {hi:g}/s, got {v!r}")
        return per_s

    return check


# ---------------------------------------------------------------- the schema, as data

_REQUIRED = object()


@dataclass(frozen=True)
class _Field:
    """One schema field: YAML key, check (value -> normalized, a _Sub or a _Matrix), default, record attribute.

    A default of None makes the field optional with no value (validate() skips its check then).
    """

    key: str
    check: object
    default: object = _REQUIRED
    attr: str = ""

    @property
    def name(self):
        return self.attr or self.key


@dataclass(frozen=True)
class _Sub:
    """A nested record (or a non-empty list of them when many) built from a mapping."""

    cls: type
    fields: tuple
    many: bool = False


@dataclass(frozen=True)
class _Matrix:
    """A mapping of field -> non-empty list of distinct values, each value checked by that field's
    own check; paths maps a matrix key to its field's dotted key path when they differ."""

    keys: tuple
    paths: tuple = ()

    def checks(self):
        """Matrix key -> check, looked up when used (the table below refers to this matrix)."""
        paths = dict(self.paths)
        return {k: _field_at(_SCENARIO, paths.get(k, k)).check for k in self.keys}


def _field_at(sub, dotted):
    """The _Field at a dotted key path ('arrival.rate') of a _Sub."""
    head, _, rest = dotted.partition(".")
    f = next(f for f in sub.fields if f.key == head)
    return _field_at(f.check, rest) if rest else f


_CLASSES = _Sub(TaskClass, (
    _Field("name", _string(CLASS_NAME_RE, "letters, digits, '_' and '-', at most 32")),
    _Field("priority", _integer(PRIORITY_MIN, PRIORITY_MAX, " (priorities are 32-bit signed integers)")),
    _Field("count", _integer(1)),
    _Field("duration", _duration(MAX_DURATION_S, "1h"), 0.0, "duration_s"),
    _Field("work", _choice(WORK_KINDS), "sleep"),
), many=True)
_ARRIVAL = _Sub(Arrival, (
    _Field("start", _choice(START_MODES), "before"),
    _Field("order", _choice(ORDERS), "round_robin"),
    _Field("mode", _choice(ARRIVAL_MODES), "burst"),
    _Field("rate", _rate(MAX_RATE_PER_S), None, "rate_per_s"),
    _Field("process", _choice(PROCESSES), "poisson"),
))
_POLLING = _Sub(Polling, (
    _Field("delay", _duration(MAX_POLL_S, "1m", positive=True), 0.1, "delay_s"),
    _Field("max_delay", _duration(MAX_POLL_S, "1m", positive=True), 10.0, "max_delay_s"),
    _Field("backoff", _number(1.0, MAX_BACKOFF), 1.15),
))
_MATRIX = _Matrix(MATRIX_FIELDS, (("rate", "arrival.rate"),))
_SCENARIO = _Sub(Scenario, (
    _Field("name", _string(NAME_RE, "lowercase letters, digits and '-'; it names result directories")),
    _Field("description", _string(), ""),
    _Field("backend", _choice(BACKENDS), "priority_redis"),
    _Field("consumers", _integer(1, MAX_CONSUMERS,
                                 " (each consumer is a process or container; use more workers per consumer)"), 1),
    _Field("workers", _integer(1, MAX_WORKERS, " (workers per consumer; spread them over more consumers)"), 1),
    _Field("worker_type", _choice(WORKER_TYPES), "thread"),
    _Field("classes", _CLASSES),
    _Field("arrival", _ARRIVAL, Arrival()),
    _Field("seed", _integer(0, SEED_MAX), 1),
    _Field("timeout", _duration(MAX_TIMEOUT_S, "24h", positive=True), 300.0, "timeout_s"),
    _Field("repeat", _integer(1, MAX_REPEAT), 1),
    _Field("warmup", _integer(0, MAX_WARMUP), 0),
    _Field("matrix", _MATRIX, ()),
    _Field("polling", _POLLING, Polling()),
))


def _join(where, key):
    return f"{where}.{key}" if where else str(key)


def _differs_from_default(rec, dotted):
    """Whether a record's field at a dotted key path differs from the field's default."""
    sub, path = _SCENARIO, dotted.split(".")
    for key in path[:-1]:
        f = next(f for f in sub.fields if f.key == key)
        rec, sub = getattr(rec, f.name), f.check
    f = next(f for f in sub.fields if f.key == path[-1])
    return getattr(rec, f.name) != f.default


def _matrix_key_problem(key, keys):
    """Why a matrix key is refused, or None."""
    allowed = f" (allowed: {', '.join(keys)})"
    if key in keys:
        return None
    if key in {f.key for f in _SCENARIO.fields + _CLASSES.fields + _ARRIVAL.fields + _POLLING.fields}:
        return f"'{key}' cannot vary in a matrix{allowed}"
    return f"unknown matrix field{_suggest(key, keys) or allowed}"


def _matrix_value_problems(items, check, path):
    """Check a matrix field's (list index, constructed value) pairs: (normalized tuple, or None
    if any failed, and [(list index, message)])."""
    out, seen, problems = [], {}, []
    for i, v in items:
        try:
            v = check(v)
        except ValueError as e:
            problems.append((i, str(e)))
            continue
        if v in seen:
            problems.append((i, f"duplicate value {_cell_value(v)} (already listed as {path}[{seen[v]}])"))
            continue
        seen[v] = i
        out.append(v)
    return (None if problems else tuple(out)), problems


def _cross_problems(classes):
    """Checks spanning several classes, as (field path, message); None is a class that failed its own checks."""
    problems, first, total = [], {}, 0
    for i, c in enumerate(classes):
        if c is None:
            continue  # the rest still get checked: a partial total that is already too big is too big
        if c.name in first:
            problems.append((f"classes[{i}].name",
                             f"duplicate class name '{c.name}' (already used by classes[{first[c.name]}])"))
        first.setdefault(c.name, i)
        total += c.count
    if total > MAX_TASKS:
        problems.append(("classes", f"{total} tasks in total is more than this benchmark will enqueue "
                                    f"(at most {MAX_TASKS}); split the scenario"))
    return problems


def _setup_problems(values, classes, given):
    """Checks spanning fields (arrival mode, polling, session size), as (field path, message).

    values maps record attributes to values that passed their own checks (a field that failed is
    missing); classes may hold None for a broken class; given(dotted key path) tells whether the
    file set a field (for a built record: whether it differs from the default).
    """
    problems = []
    arrival, matrix, polling = values.get("arrival"), values.get("matrix"), values.get("polling")
    varied = {k for k, _ in matrix} if matrix is not None else None
    if arrival is not None and arrival.mode == "rate":
        if arrival.start != "before":
            problems.append(("arrival.start", "must be 'before' with mode: rate "
                                              "(an open-loop producer feeds running consumers)"))
        if arrival.rate_per_s is None and varied is not None and "rate" not in varied:
            problems.append(("arrival.rate", "required with mode: rate (tasks per second, such as 200/s), "
                                             "unless matrix.rate lists the rates"))
    elif arrival is not None:
        if arrival.rate_per_s is not None:
            problems.append(("arrival.rate", "only with mode: rate (mode: burst enqueues as fast as possible)"))
        if given("arrival.process"):
            problems.append(("arrival.process", "only with mode: rate (mode: burst enqueues as fast as possible)"))
        if varied and "rate" in varied:
            problems.append(("matrix.rate", "a matrix over rate needs arrival mode: rate "
                                            "(set it, or leave mode out), got mode: burst"))
    if polling is not None and polling.max_delay_s < polling.delay_s:
        problems.append(("polling.max_delay", f"must be at least polling.delay ({polling.delay_s:g} s), "
                                              f"got {polling.max_delay_s:g} s"))
    counts = [len(vs) for _, vs in matrix] if matrix else []
    cells = math.prod(counts)
    if cells > MAX_CELLS:
        problems.append(("matrix", f"{cells} cells ({' x '.join(map(str, counts))} values) are more than one "
                                   f"scenario runs (at most {MAX_CELLS}); split the scenario"))
    tasks = sum(c.count for c in classes if c is not None)
    runs = values.get("repeat", 1) + values.get("warmup", 0)
    if tasks <= MAX_TASKS and cells <= MAX_CELLS and tasks * cells * runs > MAX_SESSION_TASKS:
        where = "matrix" if matrix else "warmup" if given("warmup") and not given("repeat") else "repeat"
        problems.append((where, f"{tasks * cells * runs} tasks over all runs ({tasks} per run x {cells} "
                                f"cell{'s' if cells != 1 else ''} x {runs} runs per cell, warm-ups included) "
                                f"is more than this benchmark will enqueue (at most {MAX_SESSION_TASKS}); "
                                "split the scenario"))
    return problems


def _record_problems(rec, sub, where):
    """Field checks on an already-built record, as (field path, message)."""
    problems = []
    for f in sub.fields:
        v, path = getattr(rec, f.name), _join(where, f.key)
        if isinstance(f.check, _Matrix):
            problems += _matrix_record_problems(v, f.check, path)
            continue
        if not isinstance(f.check, _Sub):
            if v is None and f.default is None:
                continue
            try:
                f.check(v)
            except ValueError as e:
                problems.append((path, str(e)))
            continue
        items = v if f.check.many else [v]
        if f.check.many and (not isinstance(v, (tuple, list)) or not v):
            problems.append((path, f"expected a non-empty tuple of {f.check.cls.__name__}, got {_describe(v)}"))
            continue
        for i, item in enumerate(items):
            p = f"{path}[{i}]" if f.check.many else path
            if isinstance(item, f.check.cls):
                problems += _record_problems(item, f.check, p)
            else:
                problems.append((p, f"expected an instance of {f.check.cls.__name__}, got {_describe(item)}"))
    return problems


def _matrix_record_problems(matrix, mx, path):
    """A built matrix: a tuple of (field, non-empty tuple of values) pairs, fields distinct."""
    shape = "expected a tuple of (field, values) pairs"
    if not isinstance(matrix, tuple):
        return [(path, f"{shape}, got {_describe(matrix)}")]
    problems, seen, checks = [], set(), mx.checks()
    for i, pair in enumerate(matrix):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
                and isinstance(pair[1], tuple)):
            problems.append((f"{path}[{i}]", f"{shape}, got {_describe(pair)}"))
            continue
        key, values = pair
        p = _join(path, key)
        problem = _matrix_key_problem(key, mx.keys) or (
            f"duplicate matrix field '{key}'" if key in seen else None) or (
            "must list at least one value" if not values else None)
        seen.add(key)
        if problem:
            problems.append((p, problem))
        else:
            problems += [(f"{p}[{i}]", m) for i, m in _matrix_value_problems(enumerate(values), checks[key], p)[1]]
    return problems


def _to_dict(rec, sub):
    out = {}
    for f in sub.fields:
        v = getattr(rec, f.name)
        if isinstance(f.check, _Matrix):
            v = {k: list(vs) for k, vs in v}
        elif isinstance(f.check, _Sub):
            v = [_to_dict(x, f.check) for x in v] if f.check.many else _to_dict(v, f.check)
        out[f.name] = v
    return out


# ---------------------------------------------------------------- the loader

_TAG = "tag:yaml.org,2002:"
# Where to point when a cross-field problem's own key is absent from the file.
_ANCHORS = {"arrival.rate": "arrival.mode", "polling.max_delay": "polling.delay"}


def _short_tag(tag):
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _line(node):
    return node.start_mark.line + 1


class _Builder:
    """Walks a composed YAML node tree against the schema, collecting every error."""

    def __init__(self, loader, path):
        self.loader, self.path, self.errors = loader, path, []
        self.lines, self.lists = {}, {}  # field path -> key line; list path -> items (None where invalid)
        self.values = {}  # field path -> value built (or defaulted) there, for cross-field checks

    def error(self, line, field_path, message):
        self.errors.append(ScenarioError(self.path, line, field_path, message))

    def line_of(self, field_path):
        """The line of a field's key, else of a related key (_ANCHORS), else of its parent's key."""
        while field_path:
            for p in (field_path, _ANCHORS.get(field_path)):
                if p in self.lines:
                    return self.lines[p]
            field_path = field_path.rpartition(".")[0]
        return None

    def bad_tag_here(self, node, where):
        """Report a tag SafeLoader has no constructor for (e.g. !!python/...) on this node alone."""
        if node.tag in yaml.SafeLoader.yaml_constructors or node.tag == _TAG + "merge":
            return False
        self.error(_line(node), where or None,
                   f"unsupported YAML tag '{_short_tag(node.tag)}' (a scenario is plain data; nothing in it is run)")
        return True

    def bad_tag(self, node, where, seen=None):
        """bad_tag_here over a whole subtree (aliases visited once)."""
        seen = set() if seen is None else seen
        if id(node) in seen:
            return False
        seen.add(id(node))
        if self.bad_tag_here(node, where):
            return True
        children = node.value if isinstance(node, yaml.SequenceNode) else []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        return any(self.bad_tag(child, where, seen) for child in children)

    def value(self, node, where):
        """The plain Python value of a leaf node, or _REQUIRED after reporting why there is none."""
        if self.bad_tag(node, where):
            return _REQUIRED
        try:
            return self.loader.construct_object(node, deep=True)
        except Exception as e:  # noqa: BLE001 - safe constructors fail on bad text (!!int x) in many ways
            problem = e.problem if isinstance(e, yaml.MarkedYAMLError) else repr(getattr(node, "value", ""))
            self.error(_line(node), where or None, f"invalid {_short_tag(node.tag)} value: {problem}")
            return _REQUIRED

    def found(self, node, where):
        """Describe a node of the wrong shape, or None if describing it already failed (and was reported)."""
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        v = self.value(node, where)
        return None if v is _REQUIRED else _describe(v)

    def mapping(self, node, where, what):
        """True if node is a mapping; otherwise report 'expected {what}, got ...'."""
        if self.bad_tag_here(node, where):
            return False
        if not isinstance(node, yaml.MappingNode):
            found = self.found(node, where)
            if found:
                self.error(_line(node), where or None, f"expected {what}, got {found}")
            return False
        return True

    def keys(self, node, where, unknown):
        """The mapping's usable key -> (key node, value node), in file order; unknown(key) is why a
        key is refused, or None. Complex, merge, duplicate and refused keys are reported."""
        present = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                self.error(_line(knode), where or None, "expected a field name, got a complex key")
                continue
            key, path = knode.value, _join(where, knode.value)
            refused = unknown(key)
            if knode.tag == _TAG + "merge":
                self.error(_line(knode), path, "YAML merge keys ('<<') are not supported; write the fields out")
            elif key in present:
                self.error(_line(knode), path, f"duplicate key '{key}' (first at line {_line(present[key][0])})")
            elif refused:
                self.error(_line(knode), path, refused)
            else:
                present[key] = (knode, vnode)
        return present

    def record(self, node, where, sub):
        """Build sub.cls from a mapping node, or return None (errors recorded)."""
        if not self.mapping(node, where, "a mapping of fields"):
            return None
        known = {f.key for f in sub.fields}
        hint = f" (allowed: {', '.join(f.key for f in sub.fields)})"
        present = self.keys(node, where, lambda k: None if k in known else f"unknown field{_suggest(k, known) or hint}")
        values, ok = {}, True
        for f in sub.fields:
            path = _join(where, f.key)
            if f.key not in present:
                if f.default is _REQUIRED:
                    self.error(_line(node), path, "missing required field")
                    ok = False
                else:
                    values[f.name] = self.values[path] = f.default
                continue
            knode, vnode = present[f.key]
            self.lines[path] = _line(knode)
            if isinstance(f.check, _Matrix):
                v = self.matrix(vnode, path, f.check)
            elif isinstance(f.check, _Sub):
                v = self.nested(vnode, path, f.check)
            else:
                v = self.leaf(vnode, path, f.check)
            ok = ok and v is not _REQUIRED
            values[f.name] = v
            if v is not _REQUIRED:
                self.values[path] = v
        return sub.cls(**values) if ok else None

    def leaf(self, node, path, check):
        v = self.value(node, path)
        if v is _REQUIRED:
            return v
        try:
            return check(v)
        except ValueError as e:
            self.error(_line(node), path, str(e))
            return _REQUIRED

    def nested(self, node, path, sub):
        if not sub.many:
            rec = self.record(node, path, sub)
            return _REQUIRED if rec is None else rec
        if self.bad_tag_here(node, path):
            return _REQUIRED
        if not isinstance(node, yaml.SequenceNode):
            found = self.found(node, path)
            if found:
                self.error(_line(node), path, f"expected a list, got {found}")
            return _REQUIRED
        if not node.value:
            self.error(_line(node), path, "must list at least one entry")
            return _REQUIRED
        items = self.lists[path] = [self.record(item, f"{path}[{i}]", sub) for i, item in enumerate(node.value)]
        return _REQUIRED if None in items else tuple(items)

    def matrix(self, node, where, mx):
        """((field, values), ...) in file order from a mapping of lists, or _REQUIRED (errors recorded)."""
        if not self.mapping(node, where, "a mapping of field: [values]"):
            return _REQUIRED
        if not node.value:
            self.error(_line(node), where, "must name at least one field (leave matrix out for a single cell)")
            return _REQUIRED
        checks, pairs = mx.checks(), []
        present = self.keys(node, where, lambda k: _matrix_key_problem(k, mx.keys))
        ok = len(present) == len(node.value)
        for key, (knode, vnode) in present.items():
            path = _join(where, key)
            self.lines[path] = _line(knode)
            values = self.matrix_values(vnode, path, checks[key])
            ok = ok and values is not _REQUIRED
            pairs.append((key, values))
        return tuple(pairs) if ok else _REQUIRED

    def matrix_values(self, node, path, check):
        if self.bad_tag_here(node, path):
            return _REQUIRED
        if not isinstance(node, yaml.SequenceNode):
            found = self.found(node, path)
            if found:
                one = f" (write [{node.value}] for a single value)" if isinstance(node, yaml.ScalarNode) \
                    and node.value else ""
                self.error(_line(node), path, f"expected a list of values, got {found}{one}")
            return _REQUIRED
        if not node.value:
            self.error(_line(node), path, "must list at least one value")
            return _REQUIRED
        raw = [self.value(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        usable = [(i, v) for i, v in enumerate(raw) if v is not _REQUIRED]  # the rest were reported
        values, problems = _matrix_value_problems(usable, check, path)
        for i, message in problems:
            self.error(_line(node.value[i]), f"{path}[{i}]", message)
        return _REQUIRED if values is None or len(usable) < len(raw) else values


def load_text(text, path="<string>"):
    """Parse and validate scenario YAML text; raise ScenarioErrors listing every problem."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as e:  # a control character; the reader knows only its offset
        line, column = text.count("\n", 0, e.position) + 1, e.position - text.rfind("\n", 0, e.position)
        message = f"invalid YAML: unacceptable character #x{e.character:04x}: {e.reason} (column {column})"
        raise ScenarioErrors([ScenarioError(path, line, None, message)]) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = f" (column {mark.column + 1})" if mark else ""
            problem = e.problem or e.context
            if e.context and problem.startswith("but "):  # the composer splits one sentence in two
                problem = f"{e.context}, {problem}"
            raise ScenarioErrors([ScenarioError(path, mark.line + 1 if mark else None, None,
                                                f"invalid YAML: {problem}{where}")]) from None
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "null"):
            raise ScenarioErrors([ScenarioError(path, None, None, "empty scenario: expected a mapping")])
        b = _Builder(loader, path)
        sc = b.record(node, "", _SCENARIO)
    finally:
        loader.dispose()
    classes = b.lists.get("classes", ())
    values = {f.name: b.values[f.key] for f in _SCENARIO.fields if f.key in b.values}
    arrival, matrix = values.get("arrival"), values.get("matrix")
    if arrival is not None and matrix and "rate" in dict(matrix) and "arrival.mode" not in b.lines:
        values["arrival"] = arrival = replace(arrival, mode="rate")  # a matrix over rate implies mode: rate
    for p, msg in _cross_problems(classes) + _setup_problems(values, classes, lambda p: p in b.lines):
        b.error(b.line_of(p), p, msg)
    if b.errors:
        raise ScenarioErrors(sorted(b.errors, key=lambda e: e.line or 0))
    return replace(sc, arrival=arrival, source=path)


def load(path):
    """Read and validate a scenario file; raise ScenarioErrors listing every problem."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ScenarioErrors([ScenarioError(path, None, None, "no such file")]) from None
    except UnicodeDecodeError as e:
        message = f"not UTF-8 text ({e.reason} at byte {e.start})"
        raise ScenarioErrors([ScenarioError(path, None, None, message)]) from None
    except OSError as e:
        raise ScenarioErrors([ScenarioError(path, None, None, f"cannot read: {e.strerror or e}")]) from None
    return load_text(text, path)
