"""Scenario files: safe YAML loading, validation with line numbers, and frozen records."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Optional

import yaml

from bench.errors import ScenarioError, ScenarioErrors

BACKENDS = ("priority_redis", "redis")
WORKER_TYPES = ("thread", "process", "greenlet")
WORK_KINDS = ("sleep", "cpu")
START_MODES = ("before", "after")
ORDERS = ("round_robin", "sequential", "shuffle")

MAX_TASKS = 1_000_000
MAX_CONSUMERS = 64
MAX_WORKERS = 256
MAX_DURATION_S = 3600.0
MAX_TIMEOUT_S = 86400.0
PRIORITY_MIN, PRIORITY_MAX = -(2**31), 2**31 - 1
SEED_MAX = 2**63 - 1
NAME_RE = r"[a-z0-9][a-z0-9-]{0,62}"
CLASS_NAME_RE = r"[A-Za-z0-9_-]{1,32}"

# Decimal factors keep "250ms" == 0.25 exactly instead of 250 * 0.001.
_UNITS = {"": Decimal(1), "us": Decimal("0.000001"), "ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60)}
_DURATION_RE = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([^\s\d.+-]*)\s*")
_DURATION_HELP = "seconds, or a string with a unit (us, ms, s, m) such as '250ms', '1.5s', '2m'"


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
    """When consumers start relative to enqueueing, and the order tasks are enqueued in."""

    start: str = "before"
    order: str = "round_robin"


@dataclass(frozen=True)
class Scenario:
    """One benchmark scenario, as loaded from a YAML file."""

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
    # Where a scenario came from is not part of what it is: equal files at two paths are equal.
    source: Optional[str] = field(default=None, compare=False)

    def __post_init__(self):
        if isinstance(self.classes, list):
            object.__setattr__(self, "classes", tuple(self.classes))

    @property
    def total_tasks(self):
        return sum(c.count for c in self.classes)

    @property
    def total_workers(self):
        return self.consumers * self.workers

    def validate(self):
        """Raise ValueError listing every problem ('field.path: message' per line)."""
        problems = _record_problems(self, _SCENARIO, "")
        if not problems:
            problems = _cross_problems(self.classes)
        if problems:
            raise ValueError("\n".join(f"{p}: {m}" for p, m in problems))

    def to_dict(self):
        """Plain JSON-able dict in the schema's shape; durations in seconds (duration_s, timeout_s)."""
        return _to_dict(self, _SCENARIO)


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
        seconds = float(value) if abs(value) < 1e300 else math.inf  # float(10**400) would raise
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be finite, got {value!r}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    return seconds


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


# ---------------------------------------------------------------- the schema, as data

_REQUIRED = object()


@dataclass(frozen=True)
class _Field:
    """One schema field: YAML key, check (value -> normalized, or a _Sub), default, record attribute."""

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
))
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
))


def _join(where, key):
    return f"{where}.{key}" if where else str(key)


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


def _record_problems(rec, sub, where):
    """Field checks on an already-built record, as (field path, message)."""
    problems = []
    for f in sub.fields:
        v, path = getattr(rec, f.name), _join(where, f.key)
        if not isinstance(f.check, _Sub):
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


def _to_dict(rec, sub):
    out = {}
    for f in sub.fields:
        v = getattr(rec, f.name)
        if isinstance(f.check, _Sub):
            v = [_to_dict(x, f.check) for x in v] if f.check.many else _to_dict(v, f.check)
        out[f.name] = v
    return out


# ---------------------------------------------------------------- the loader

_TAG = "tag:yaml.org,2002:"


def _short_tag(tag):
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _line(node):
    return node.start_mark.line + 1


class _Builder:
    """Walks a composed YAML node tree against the schema, collecting every error."""

    def __init__(self, loader, path):
        self.loader, self.path, self.errors = loader, path, []
        self.lines, self.lists = {}, {}  # field path -> key line; list path -> items (None where invalid)

    def error(self, line, field_path, message):
        self.errors.append(ScenarioError(self.path, line, field_path, message))

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

    def record(self, node, where, sub):
        """Build sub.cls from a mapping node, or return None (errors recorded)."""
        if self.bad_tag_here(node, where):
            return None
        if not isinstance(node, yaml.MappingNode):
            found = self.found(node, where)
            if found:
                self.error(_line(node), where or None, f"expected a mapping of fields, got {found}")
            return None
        present, known = {}, {f.key for f in sub.fields}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                self.error(_line(knode), where or None, "expected a field name, got a complex key")
                continue
            key, path = knode.value, _join(where, knode.value)
            if knode.tag == _TAG + "merge":
                self.error(_line(knode), path, "YAML merge keys ('<<') are not supported; write the fields out")
            elif key in present:
                self.error(_line(knode), path, f"duplicate key '{key}' (first at line {_line(present[key][0])})")
            elif key not in known:
                hint = _suggest(key, known) or f" (allowed: {', '.join(f.key for f in sub.fields)})"
                self.error(_line(knode), path, f"unknown field{hint}")
            else:
                present[key] = (knode, vnode)
        values, ok = {}, True
        for f in sub.fields:
            path = _join(where, f.key)
            if f.key not in present:
                if f.default is _REQUIRED:
                    self.error(_line(node), path, "missing required field")
                    ok = False
                else:
                    values[f.name] = f.default
                continue
            knode, vnode = present[f.key]
            self.lines[path] = _line(knode)
            v = self.nested(vnode, path, f.check) if isinstance(f.check, _Sub) else self.leaf(vnode, path, f.check)
            ok = ok and v is not _REQUIRED
            values[f.name] = v
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
    for p, msg in _cross_problems(b.lists.get("classes", ())):
        b.error(b.lines.get(p), p, msg)
    if b.errors:
        raise ScenarioErrors(sorted(b.errors, key=lambda e: e.line or 0))
    return replace(sc, source=path)


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
