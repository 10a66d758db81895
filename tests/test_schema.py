"""scenarios/scenario.schema.json and the loader agree, both ways.

(a) every shipped scenario and every valid test file passes both; (b) a table of invalid
documents fails both; (c) the schema's properties at every level are the loader's field
table; (d) enums, defaults, bounds and patterns agree. What only the loader can check is
listed in LOADER_ONLY, so a rule that moves into the schema moves out of that list.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from bench import scenario
from bench.errors import ScenarioErrors
from bench.scenario import load, load_text

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "scenarios" / "scenario.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
SCHEMA_LINE = "# yaml-language-server: $schema=./scenario.schema.json"
SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.yaml"))
VALID_FILES = sorted((ROOT / "tests" / "data" / "scenarios").glob("valid-*.yaml"))

BASE = "name: s\nclasses:\n  - {name: lo, priority: 1, count: 10}\n"


@pytest.fixture(scope="module")
def validator():
    import jsonschema  # a test dependency (requirements-test.lock): never skipped

    jsonschema.Draft7Validator.check_schema(SCHEMA)
    return jsonschema.Draft7Validator(SCHEMA)


def schema_errors(validator, text):
    return [e.message for e in validator.iter_errors(yaml.safe_load(text))]


def loader_errors(text):
    try:
        load_text(text, "s.yaml")
    except ScenarioErrors as e:
        return [str(x) for x in e.errors]
    return []


def deref(node):
    """Follow local $refs ('#/a/b') to the schema node they name."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = SCHEMA
        for part in ref[2:].split("/"):
            node = node[part]
    return node


# ---------------------------------------------------------------- (a) valid documents pass both


def test_the_scenario_library_is_there():
    names = {p.name for p in SCENARIO_FILES}
    assert {"seed-demo.yaml", "smoke.yaml", "three-class-mix.yaml", "no-priority-baseline.yaml", "starvation.yaml",
            "worker-scaling.yaml", "backend-comparison.yaml", "long-task-blocking.yaml"} <= names
    assert {p.name for p in VALID_FILES} >= {"valid-full.yaml", "valid-minimal.yaml"}


@pytest.mark.parametrize("path", SCENARIO_FILES + VALID_FILES, ids=lambda p: p.name)
def test_valid_files_pass_schema_and_loader(validator, path):
    text = path.read_text(encoding="utf-8")
    assert schema_errors(validator, text) == []
    load(path)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_scenario_files_name_the_schema_and_their_purpose(path):
    assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
    sc = load(path)
    assert sc.description and "\n" not in sc.description


VALID_SNIPPETS = [
    ("every default", ""),
    ("empty arrival and polling", "arrival: {}\npolling: {}\n"),
    ("open loop", "arrival: {mode: rate, rate: 200/s, process: uniform}\n"),
    ("rate as a number", "arrival: {mode: rate, rate: 0.5}\n"),
    ("rate per minute, spaced", "arrival: {mode: rate, rate: ' 12000 / m '}\n"),
    ("rate string without unit", "arrival: {mode: rate, rate: '200'}\n"),
    ("rates only in the matrix", "arrival: {mode: rate}\nmatrix: {rate: [10/s, 20]}\n"),
    ("matrix over rate implies mode", "matrix: {rate: [10/s, 20]}\n"),
    ("matrix overrides top level", "workers: 3\narrival: {mode: rate, rate: 5}\n"
                                   "matrix: {workers: [1, 2], rate: [7]}\n"),
    ("every matrix field", "matrix:\n  consumers: [1, 2]\n  workers: [1]\n  worker_type: [thread, greenlet]\n"
                           "  backend: [sqlite, priority_redis_expire]\n  seed: [0, 5]\n  rate: [1]\n"
                           "arrival: {mode: rate}\n"),
    ("durations in every form", "timeout: ' 10 s '\npolling: {delay: .5ms, max_delay: +2s, backoff: 1}\n"
                                "classes:\n  - {name: a, priority: 1, count: 1, duration: '3'}\n"),
    ("polling on redis", "backend: redis\npolling: {delay: 5ms, max_delay: 5ms, backoff: 10}\n"),
    ("bounds", "repeat: 100\nwarmup: 10\nconsumers: 64\nworkers: 256\nseed: 9223372036854775807\n"
               "arrival: {mode: rate, rate: 100000}\ntimeout: 86400\n"),
]


@pytest.mark.parametrize("extra", [s for _, s in VALID_SNIPPETS], ids=[i for i, _ in VALID_SNIPPETS])
def test_valid_snippets_pass_both(validator, extra):
    text = "name: s\n" + extra if "classes:" in extra else BASE + extra
    assert schema_errors(validator, text) == []
    assert loader_errors(text) == []


# ---------------------------------------------------------------- (b) invalid documents fail both

INVALID = [
    # unknown keys, at every level
    ("unknown top-level key", BASE + "zzz: 1\n"),
    ("misspelt key", BASE + "worker: 2\n"),
    ("unknown class key", "name: s\nclasses:\n  - {name: lo, priority: 1, count: 1, prio: 2}\n"),
    ("unknown arrival key", BASE + "arrival: {strat: after}\n"),
    ("unknown polling key", BASE + "polling: {interval: 1s}\n"),
    ("unknown matrix field", BASE + "matrix: {wrokers: [1, 2]}\n"),
    ("non-matrix field in matrix", BASE + "matrix: {timeout: [1s]}\n"),
    # missing required fields
    ("no name", "classes:\n  - {name: lo, priority: 1, count: 1}\n"),
    ("no classes", "name: s\n"),
    ("class without count", "name: s\nclasses:\n  - {name: lo, priority: 1}\n"),
    ("empty classes", "name: s\nclasses: []\n"),
    # wrong types
    ("workers as text", BASE + "workers: two\n"),
    ("workers as boolean", BASE + "workers: true\n"),
    ("seed as list", BASE + "seed: [1]\n"),
    ("description as mapping", BASE + "description: {a: 1}\n"),
    ("classes as text", "name: s\nclasses: lo\n"),
    ("arrival as text", BASE + "arrival: after\n"),
    ("polling as text", BASE + "polling: 1ms\n"),
    ("matrix as list", BASE + "matrix: [workers]\n"),
    ("repeat as float", BASE + "repeat: 1.5\n"),
    ("timeout null", BASE + "timeout: ~\n"),
    ("timeout as date", BASE + "timeout: 2020-01-01\n"),
    ("backoff as text", BASE + "polling: {backoff: fast}\n"),
    # bad enums
    ("backend", BASE + "backend: huey\n"),
    ("worker_type", BASE + "worker_type: gevent\n"),
    ("work", "name: s\nclasses:\n  - {name: lo, priority: 1, count: 1, work: spin}\n"),
    ("start", BASE + "arrival: {start: never}\n"),
    ("order", BASE + "arrival: {order: random}\n"),
    ("mode", BASE + "arrival: {mode: open}\n"),
    ("process", BASE + "arrival: {mode: rate, rate: 5, process: gaussian}\n"),
    # out of range
    ("consumers 0", BASE + "consumers: 0\n"),
    ("consumers 65", BASE + "consumers: 65\n"),
    ("workers 257", BASE + "workers: 257\n"),
    ("priority above 32 bits", "name: s\nclasses:\n  - {name: lo, priority: 2147483648, count: 1}\n"),
    ("count 0", "name: s\nclasses:\n  - {name: lo, priority: 1, count: 0}\n"),
    ("seed -1", BASE + "seed: -1\n"),
    ("repeat 0", BASE + "repeat: 0\n"),
    ("repeat 101", BASE + "repeat: 101\n"),
    ("warmup 11", BASE + "warmup: 11\n"),
    ("warmup -1", BASE + "warmup: -1\n"),
    ("backoff below 1", BASE + "polling: {backoff: 0.9}\n"),
    ("backoff above 10", BASE + "polling: {backoff: 11}\n"),
    ("timeout 0", BASE + "timeout: 0\n"),
    ("timeout above 24h", BASE + "timeout: 86401\n"),
    ("poll delay 0", BASE + "polling: {delay: 0}\n"),
    ("poll delay above 1m", BASE + "polling: {delay: 61}\n"),
    ("duration above 1h", "name: s\nclasses:\n  - {name: lo, priority: 1, count: 1, duration: 3601}\n"),
    ("rate above 100000/s", BASE + "arrival: {mode: rate, rate: 100001}\n"),
    # names
    ("scenario name", "name: Bad Name\nclasses:\n  - {name: lo, priority: 1, count: 1}\n"),
    ("class name", "name: s\nclasses:\n  - {name: 'a b', priority: 1, count: 1}\n"),
    # bad durations
    ("duration unit h", "name: s\nclasses:\n  - {name: lo, priority: 1, count: 1, duration: 5h}\n"),
    ("duration unit sec", BASE + "timeout: 10sec\n"),
    ("duration text", BASE + "timeout: fast\n"),
    ("negative duration", "name: s\nclasses:\n  - {name: lo, priority: 1, count: 1, duration: -1s}\n"),
    ("negative number duration", "name: s\nclasses:\n  - {name: lo, priority: 1, count: 1, duration: -1}\n"),
    ("poll delay text", BASE + "polling: {max_delay: soon}\n"),
    # bad rates
    ("rate unit h", BASE + "arrival: {mode: rate, rate: 200/h}\n"),
    ("rate without slash", BASE + "arrival: {mode: rate, rate: 200s}\n"),
    ("rate text", BASE + "arrival: {mode: rate, rate: fast}\n"),
    ("rate 0", BASE + "arrival: {mode: rate, rate: 0}\n"),
    ("negative rate", BASE + "arrival: {mode: rate, rate: -5/s}\n"),
    ("rate as list", BASE + "arrival: {mode: rate, rate: [5]}\n"),
    # arrival rules
    ("mode rate without a rate", BASE + "arrival: {mode: rate}\n"),
    ("mode rate, start after", BASE + "arrival: {mode: rate, rate: 5, start: after}\n"),
    ("rate without mode rate", BASE + "arrival: {rate: 5}\n"),
    ("rate with mode burst", BASE + "arrival: {mode: burst, rate: 5}\n"),
    ("process without mode rate", BASE + "arrival: {process: uniform}\n"),
    ("process with mode burst", BASE + "arrival: {mode: burst, process: poisson}\n"),
    ("matrix over rate, mode burst", BASE + "arrival: {mode: burst}\nmatrix: {rate: [5]}\n"),
    ("matrix over rate, start after", BASE + "arrival: {start: after}\nmatrix: {rate: [5]}\n"),
    # bad matrices
    ("empty matrix", BASE + "matrix: {}\n"),
    ("null matrix", BASE + "matrix:\n"),
    ("empty value list", BASE + "matrix: {workers: []}\n"),
    ("value not a list", BASE + "matrix: {workers: 4}\n"),
    ("duplicate values", BASE + "matrix: {workers: [1, 2, 1]}\n"),
    ("bad matrix value", BASE + "matrix: {workers: [1, 0]}\n"),
    ("bad matrix enum", BASE + "matrix: {backend: [redis, mysql]}\n"),
    ("bad matrix rate", BASE + "matrix: {rate: [200/h]}\n"),
    ("matrix list too long", BASE + "matrix: {seed: [" + ", ".join(map(str, range(65))) + "]}\n"),
]


@pytest.mark.parametrize("text", [t for _, t in INVALID], ids=[i for i, _ in INVALID])
def test_invalid_documents_fail_both(validator, text):
    assert schema_errors(validator, text), "the schema accepts it"
    assert loader_errors(text), "the loader accepts it"


# Rules a JSON Schema cannot state (or states only for numbers, not for strings with units).
LOADER_ONLY = [
    ("duplicate class names", "name: s\nclasses:\n  - {name: a, priority: 1, count: 1}\n"
                              "  - {name: a, priority: 2, count: 1}\n"),
    ("integral float as integer", BASE + "workers: 2.0\n"),
    ("string duration above its maximum", BASE + "timeout: 1441m\n"),
    ("zero string duration where > 0", BASE + "polling: {delay: 0ms}\n"),
    ("zero string rate", BASE + "arrival: {mode: rate, rate: 0/s}\n"),
    ("string rate above its maximum", BASE + "arrival: {mode: rate, rate: 200000/s}\n"),
    ("matrix values equal once units apply", BASE + "matrix: {rate: [200/s, 12000/m]}\n"),
    ("polling.max_delay below delay", BASE + "polling: {delay: 20s}\n"),
    ("more than 1000000 tasks per run", "name: s\nclasses:\n  - {name: a, priority: 1, count: 1000001}\n"),
    ("more than 64 cells", BASE + "matrix:\n  workers: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
                                  "  consumers: [1, 2, 3, 4, 5, 6, 7, 8]\n"),
    ("more than 5000000 tasks in all", "name: s\nclasses:\n  - {name: a, priority: 1, count: 1000000}\nrepeat: 6\n"),
]


@pytest.mark.parametrize("text", [t for _, t in LOADER_ONLY], ids=[i for i, _ in LOADER_ONLY])
def test_loader_only_rules(validator, text):
    assert loader_errors(text), "the loader accepts it"
    assert schema_errors(validator, text) == [], "the schema now rejects it too: move it to INVALID"


@pytest.mark.parametrize("kind, values", [
    ("duration", ["0", "3", "250ms", "1.5s", "2m", "500us", " 10 s ", ".5s", "+5s", "1.", "5h", "10sec", "-1s",
                  "fast", "", "1 ms s", "1e3s", "s", "..5s"]),
    ("rate", ["200/s", "12000/m", "0.5/s", "200", " 7 / s ", ".5/s", "+3/s", "200/h", "200/", "200s", "fast",
              "", "-5/s", "1e3/s", "/s", "5/s/s"]),
])
def test_string_forms_agree(validator, kind, values):
    """The schema's string patterns accept exactly the strings the loader can parse."""
    parse = {"duration": scenario.parse_duration, "rate": scenario.parse_rate}[kind]
    node = SCHEMA["definitions"][kind]
    pattern = next(b["pattern"] for b in node["oneOf"] if b.get("type") == "string")
    for v in values:
        try:
            parse(v)
            parsed = True
        except ValueError:
            parsed = False
        assert bool(re.search(pattern, v)) == parsed, v


# ---------------------------------------------------------------- (c) same fields at every level


def levels():
    """(field path, schema object node, _Sub or _Matrix) for every mapping in the format."""
    out, todo = [], [("", SCHEMA, scenario._SCENARIO)]
    while todo:
        where, node, table = todo.pop(0)
        out.append((where or "<top>", node, table))
        if isinstance(table, scenario._Sub):
            for f in table.fields:
                child = node["properties"].get(f.key)
                if child is None:
                    continue  # reported by the level's own comparison
                path = f"{where}.{f.key}" if where else f.key
                if isinstance(f.check, scenario._Sub):
                    todo.append((path, child["items"] if f.check.many else child, f.check))
                elif isinstance(f.check, scenario._Matrix):
                    todo.append((path, child, f.check))
    return out


def table_keys(table):
    return [f.key for f in table.fields] if isinstance(table, scenario._Sub) else list(table.keys)


@pytest.mark.parametrize("where, node, table", levels(), ids=[w for w, _, _ in levels()])
def test_schema_properties_are_the_field_table(where, node, table):
    assert list(node["properties"]) == table_keys(table)  # same names, same order
    assert node["type"] == "object" and node["additionalProperties"] is False
    if isinstance(table, scenario._Sub):
        required = [f.key for f in table.fields if f.default is scenario._REQUIRED]
        assert node.get("required", []) == required


def test_every_level_is_compared():
    assert [w for w, _, _ in levels()] == ["<top>", "classes", "arrival", "matrix", "polling"]


def test_every_object_is_closed_and_every_property_described():
    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object":
                assert node.get("additionalProperties") is False, path
                for key, child in node.get("properties", {}).items():
                    assert deref(child).get("description"), f"{path}.{key}"
            for key, child in node.items():
                walk(child, f"{path}/{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{path}/{i}")

    walk(SCHEMA, "#")


def test_matrix_values_use_their_fields_schema():
    paths = dict(scenario._MATRIX.paths)
    matrix = SCHEMA["properties"]["matrix"]["properties"]
    for key in scenario.MATRIX_FIELDS:
        field_node = SCHEMA
        for part in paths.get(key, key).split("."):
            field_node = field_node["properties"][part]
        assert deref(matrix[key]["items"]) is field_node, key
        assert matrix[key]["type"] == "array" and matrix[key]["minItems"] == 1 and matrix[key]["uniqueItems"]
        assert matrix[key]["maxItems"] == scenario.MAX_CELLS


# ---------------------------------------------------------------- (d) enums, defaults, bounds, patterns


def leaf_fields():
    """(field path, schema property node, _Field) for every leaf field of the table."""
    out = []
    for where, node, table in levels():
        if isinstance(table, scenario._Sub):
            for f in table.fields:
                if not isinstance(f.check, (scenario._Sub, scenario._Matrix)) and f.key in node["properties"]:
                    prefix = "" if where == "<top>" else where + "."
                    out.append((prefix + f.key, node["properties"][f.key], f))
    return out


LEAVES = leaf_fields()


def test_enums_equal_the_loaders_constants():
    props = SCHEMA["properties"]
    assert props["backend"]["enum"] == list(scenario.BACKENDS)
    assert props["worker_type"]["enum"] == list(scenario.WORKER_TYPES)
    assert props["classes"]["items"]["properties"]["work"]["enum"] == list(scenario.WORK_KINDS)
    arrival = props["arrival"]["properties"]
    assert arrival["start"]["enum"] == list(scenario.START_MODES)
    assert arrival["order"]["enum"] == list(scenario.ORDERS)
    assert arrival["mode"]["enum"] == list(scenario.ARRIVAL_MODES)
    assert arrival["process"]["enum"] == list(scenario.PROCESSES)
    assert list(props["matrix"]["properties"]) == list(scenario.MATRIX_FIELDS)


@pytest.mark.parametrize("path, node, f", LEAVES, ids=[p for p, _, _ in LEAVES])
def test_enums_agree_field_by_field(path, node, f):
    """A field is an enum in the schema exactly when the loader refuses a stray word with its choices."""
    try:
        f.check("not-a-choice")
        choices = None
    except ValueError as e:
        m = re.match(r"must be one of (.*), got 'not-a-choice'", str(e))
        choices = m.group(1).split(", ") if m else None
    assert node.get("enum") == choices


@pytest.mark.parametrize("path, node, f", LEAVES, ids=[p for p, _, _ in LEAVES])
def test_defaults_agree(path, node, f):
    if f.default is scenario._REQUIRED or f.default is None:
        assert "default" not in node
    else:
        assert "default" in node, "editors complete the default"
        assert f.check(node["default"]) == f.default


def test_record_defaults_agree():
    for key in ("arrival", "polling"):
        f = next(f for f in scenario._SCENARIO.fields if f.key == key)
        assert SCHEMA["properties"][key]["default"] == {}
        assert f.default == f.check.cls()  # an empty mapping is every field's default
        assert getattr(load_text(BASE + f"{key}: {{}}\n"), f.name) == f.default
    assert "default" not in SCHEMA["properties"]["matrix"]  # {} is refused; no matrix is one cell
    assert scenario._SCENARIO.fields[-2].default == () and load_text(BASE).matrix == ()


def numeric_bounds(node):
    """minimum, maximum and exclusiveMinimum that apply to numbers (through $ref, allOf and oneOf)."""
    node = deref(node)
    out = {k: node[k] for k in ("minimum", "maximum", "exclusiveMinimum") if k in node}
    for sub in node.get("allOf", []):
        out.update(numeric_bounds(sub))
    for sub in node.get("oneOf", []):
        if deref(sub).get("type") in ("number", "integer"):
            out.update(numeric_bounds(sub))
    return out


def accepts(check, v):
    try:
        check(v)
        return True
    except ValueError:
        return False


BOUNDED = [(p, n, f) for p, n, f in LEAVES if numeric_bounds(n)]


def test_bounded_fields_are_the_numeric_ones():
    assert sorted(p for p, _, _ in BOUNDED) == sorted([
        "consumers", "workers", "seed", "repeat", "warmup", "timeout", "classes.priority", "classes.count",
        "classes.duration", "arrival.rate", "polling.delay", "polling.max_delay", "polling.backoff"])


@pytest.mark.parametrize("path, node, f", BOUNDED, ids=[p for p, _, _ in BOUNDED])
def test_numeric_bounds_agree(path, node, f):
    b = numeric_bounds(node)
    step = 1 if deref(node).get("type") == "integer" else 1e-6
    if "minimum" in b:
        assert accepts(f.check, b["minimum"]) and not accepts(f.check, b["minimum"] - step)
    if "exclusiveMinimum" in b:
        assert not accepts(f.check, b["exclusiveMinimum"]) and accepts(f.check, b["exclusiveMinimum"] + step)
    if "maximum" in b:
        assert accepts(f.check, b["maximum"]) and not accepts(f.check, b["maximum"] + step)
    else:
        assert path == "classes.count"  # bounded by the total per run, a loader-only rule


def test_name_patterns_agree():
    props = SCHEMA["properties"]
    assert props["name"]["pattern"] == f"^{scenario.NAME_RE}$"
    assert props["classes"]["items"]["properties"]["name"]["pattern"] == f"^{scenario.CLASS_NAME_RE}$"


def test_schema_is_draft_07_and_tidy():
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    # Written by hand: keep it valid JSON with no duplicate keys.
    json.loads(SCHEMA_PATH.read_text(encoding="utf-8"), object_pairs_hook=lambda pairs: (
        dict(pairs) if len({k for k, _ in pairs}) == len(pairs) else pytest.fail(f"duplicate key in {pairs}")))
