"""Tests of scenario loading: every error case names file, line and field; valid files build frozen records."""

import dataclasses
import json
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from bench import scenario
from bench.errors import ScenarioError, ScenarioErrors
from bench.scenario import (Arrival, Cell, Polling, Scenario, TaskClass, load, load_text, parse_duration,
                            parse_rate)

DATA = Path(__file__).parent / "data" / "scenarios"

MINIMAL = "name: smoke\nclasses:\n  - {name: lo, priority: 1, count: 10}\n"


def errors_of(text, path="s.yaml"):
    """Rendered errors of loading text (which must fail)."""
    with pytest.raises(ScenarioErrors) as info:
        load_text(textwrap.dedent(text), path)
    assert info.value.exit_code == 2
    return [str(e) for e in info.value.errors]


def file_errors(name):
    path = DATA / name
    with pytest.raises(ScenarioErrors) as info:
        load(path)
    return [str(e).replace(f"{path}:", "F:", 1) for e in info.value.errors]


def one_error(text):
    errs = errors_of(text)
    assert len(errs) == 1, errs
    return errs[0]


# ---------------------------------------------------------------- valid files


def test_minimal_file_takes_every_default():
    sc = load(DATA / "valid-minimal.yaml")
    assert sc == Scenario(name="smoke", classes=(TaskClass("lo", 1, 10),))
    assert (sc.description, sc.backend, sc.consumers, sc.workers, sc.worker_type) == (
        "", "priority_redis", 1, 1, "thread")
    assert sc.arrival == Arrival("before", "round_robin")
    assert (sc.seed, sc.timeout_s) == (1, 300.0)
    assert sc.classes[0].duration_s == 0.0 and sc.classes[0].work == "sleep"
    assert sc.source == str(DATA / "valid-minimal.yaml")
    assert sc.total_tasks == 10 and sc.total_workers == 1
    assert sc.arrival == Arrival(mode="burst", rate_per_s=None, process="poisson")
    assert (sc.repeat, sc.warmup, sc.matrix) == (1, 0, ())
    assert sc.polling == Polling(delay_s=0.1, max_delay_s=10.0, backoff=1.15)
    assert sc.cells() == [Cell("", (), sc)]
    sc.validate()


def test_full_file_uses_every_field():
    sc = load(DATA / "valid-full.yaml")
    assert sc == Scenario(
        name="full-example",
        description="Two classes on a prefilled queue: does hi overtake lo?",
        backend="sqlite",
        consumers=2,
        workers=4,
        worker_type="process",
        classes=(
            TaskClass("lo", 0, 100, 0.25, "sleep"),
            TaskClass("hi", 10, 20, 1.5, "cpu"),
            TaskClass("bulk_2", -5, 3, 2.0, "sleep"),
        ),
        arrival=Arrival(start="before", order="shuffle", mode="rate", rate_per_s=200.0, process="uniform"),
        seed=42,
        timeout_s=600.0,
        repeat=3,
        warmup=2,
        matrix=(("workers", (4, 8)), ("worker_type", ("thread", "process")), ("rate", (100.0, 0.5))),
        polling=Polling(delay_s=0.005, max_delay_s=2.0, backoff=1.5),
    )
    assert sc.total_tasks == 123 and sc.total_workers == 8 and len(sc.cells()) == 8
    # Every schema key appears in the example, so it documents the whole schema.
    text = (DATA / "valid-full.yaml").read_text()
    for f in (scenario._SCENARIO.fields + scenario._CLASSES.fields + scenario._ARRIVAL.fields
              + scenario._POLLING.fields):
        assert f"{f.key}:" in text, f.key


def test_to_dict_is_json_and_in_schema_shape():
    d = load(DATA / "valid-full.yaml").to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["timeout_s"] == 600.0 and d["arrival"] == {
        "start": "before", "order": "shuffle", "mode": "rate", "rate_per_s": 200.0, "process": "uniform"}
    assert d["classes"][0] == {"name": "lo", "priority": 0, "count": 100, "duration_s": 0.25, "work": "sleep"}
    assert list(d) == ["name", "description", "backend", "consumers", "workers", "worker_type",
                       "classes", "arrival", "seed", "timeout_s", "repeat", "warmup", "matrix", "polling"]
    assert (d["repeat"], d["warmup"]) == (3, 2)
    assert d["matrix"] == {"workers": [4, 8], "worker_type": ["thread", "process"], "rate": [100.0, 0.5]}
    assert list(d["matrix"]) == ["workers", "worker_type", "rate"]  # the file's order
    assert d["polling"] == {"delay_s": 0.005, "max_delay_s": 2.0, "backoff": 1.5}
    assert load_text(MINIMAL).to_dict()["arrival"] == {
        "start": "before", "order": "round_robin", "mode": "burst", "rate_per_s": None, "process": "poisson"}
    assert load_text(MINIMAL).to_dict()["matrix"] == {}


def test_records_are_frozen_and_source_does_not_affect_equality():
    sc = load_text(MINIMAL, "a.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.name = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.classes[0].count = 3
    assert sc == load_text(MINIMAL, "b.yaml")
    assert hash(sc) == hash(load_text(MINIMAL))
    assert load_text(MINIMAL).source == "<string>"
    assert Scenario("x", [TaskClass("a", 1, 1)]).classes == (TaskClass("a", 1, 1),)


def test_constants():
    assert scenario.BACKENDS == ("priority_redis", "priority_redis_expire", "redis", "sqlite")
    assert scenario.WORKER_TYPES == ("thread", "process", "greenlet")
    assert scenario.WORK_KINDS == ("sleep", "cpu")
    assert scenario.START_MODES == ("before", "after")
    assert scenario.ORDERS == ("round_robin", "sequential", "shuffle")
    assert scenario.ARRIVAL_MODES == ("burst", "rate")
    assert scenario.PROCESSES == ("poisson", "uniform")
    assert scenario.MATRIX_FIELDS == ("consumers", "workers", "worker_type", "backend", "seed", "rate")


def test_priority_bounds_are_inclusive():
    sc = load_text("name: p\nclasses:\n  - {name: a, priority: -2147483648, count: 1}\n"
                   "  - {name: b, priority: 2147483647, count: 1}\n")
    assert [c.priority for c in sc.classes] == [-(2**31), 2**31 - 1]


def test_limits_are_inclusive():
    sc = load_text("name: big\nconsumers: 64\nworkers: 256\ntimeout: 1440m\n"
                   "classes:\n  - {name: a, priority: 1, count: 999999, duration: 60m}\n"
                   "  - {name: b, priority: 1, count: 1}\n")
    assert sc.total_tasks == 1_000_000 and sc.total_workers == 64 * 256
    assert sc.timeout_s == 86400.0 and sc.classes[0].duration_s == 3600.0


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize("value, seconds", [
    ("250ms", 0.25), (2, 2.0), ("1.5s", 1.5), ("500us", 0.0005), ("2m", 120.0), (0, 0.0),
    (0.5, 0.5), ("3", 3.0), ("0.1ms", 0.0001), (" 10 s ", 10.0), (".5s", 0.5),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds
    assert isinstance(parse_duration(value), float)


@pytest.mark.parametrize("value, message", [
    ("5h", "unknown duration unit 'h' in '5h' (allowed: us, ms, s, m)"),
    ("10sec", "unknown duration unit 'sec' in '10sec' (allowed: us, ms, s, m)"),
    ("-1s", "duration must not be negative, got '-1s'"),
    (-3, "duration must not be negative, got -3"),
    ("fast", "invalid duration 'fast': expected seconds, or a string with a unit (us, ms, s, m) "
             "such as '250ms', '1.5s', '2m'"),
    ("", "invalid duration '': expected seconds"),
    (True, "expected a duration (seconds, or a string with a unit (us, ms, s, m) such as '250ms', '1.5s', '2m'), "
           "got boolean true"),
    (None, "got null"),
    ([1], "got a list"),
    (float("inf"), "duration must be finite, got inf"),
    (float("nan"), "duration must be finite, got nan"),
    (10**400, "duration must be finite, got 1000"),
    ("1" * 400 + "s", "duration must be finite, got '111"),
])
def test_parse_duration_rejects(value, message):
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert message in str(info.value)


def test_duration_fields_in_a_file():
    sc = load_text("name: d\ntimeout: 90\nclasses:\n  - {name: a, priority: 1, count: 1, duration: 250ms}\n")
    assert sc.timeout_s == 90.0 and sc.classes[0].duration_s == 0.25
    assert errors_of("""\
        name: d
        timeout: 0
        classes:
          - {name: a, priority: 1, count: 1, duration: 61m}
          - {name: b, priority: 1, count: 1, duration: 5h}
        """) == [
        "s.yaml:2: timeout: must be > 0, got 0",
        "s.yaml:4: classes[0].duration: must be at most 1h (3600 seconds), got '61m'",
        "s.yaml:5: classes[1].duration: unknown duration unit 'h' in '5h' (allowed: us, ms, s, m)",
    ]
    assert one_error(MINIMAL + "timeout: 1441m\n") == (
        "s.yaml:4: timeout: must be at most 24h (86400 seconds), got '1441m'")


# ---------------------------------------------------------------- whole-file errors


def test_missing_file():
    with pytest.raises(ScenarioErrors) as info:
        load(DATA / "no-such.yaml")
    (err,) = info.value.errors
    assert (err.line, err.field) == (None, None)
    assert str(err) == f"{DATA / 'no-such.yaml'}: no such file"


def test_directory_is_not_a_file():
    with pytest.raises(ScenarioErrors) as info:
        load(DATA)
    assert str(info.value).startswith(f"{DATA}: cannot read: ")


def test_not_utf8(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioErrors) as info:
        load(p)
    assert str(info.value) == f"{p}: not UTF-8 text (invalid continuation byte at byte 9)"


def test_malformed_yaml_reports_line_and_column():
    assert file_errors("bad-syntax.yaml") == ["F:5: invalid YAML: expected ',' or ']', but got ':' (column 10)"]
    assert one_error("name: a\n  bad: indent\n") == (
        "s.yaml:2: invalid YAML: mapping values are not allowed here (column 6)")
    assert one_error("a: 1\n---\nb: 2\n") == (
        "s.yaml:2: invalid YAML: expected a single document in the stream, but found another document (column 1)")


@pytest.mark.parametrize("name", ["empty.yaml", "comments-only.yaml"])
def test_empty_file(name):
    assert file_errors(name) == ["F: empty scenario: expected a mapping"]


def test_empty_document_marker():
    assert one_error("---\n") == "s.yaml: empty scenario: expected a mapping"


def test_top_level_must_be_a_mapping():
    assert file_errors("bad-top-list.yaml") == ["F:1: expected a mapping of fields, got a list"]
    assert one_error("just text\n") == "s.yaml:1: expected a mapping of fields, got string 'just text'"


# ---------------------------------------------------------------- field errors


def test_many_errors_reported_together_in_line_order():
    assert file_errors("bad-many.yaml") == [
        "F:1: name: must match [a-z0-9][a-z0-9-]{0,62} (lowercase letters, digits and '-'; "
        "it names result directories), got 'Bad Name'",
        "F:2: consumers: must be >= 1, got 0",
        "F:3: workers: expected an integer, got boolean true",
        "F:4: worker_type: must be one of thread, process, greenlet, got 'thred' (did you mean 'thread'?)",
        "F:5: clases: unknown field (did you mean 'classes'?)",
        "F:7: classes[0].priority: missing required field",
        "F:8: classes[0].prority: unknown field (did you mean 'priority'?)",
        "F:9: classes[0].count: expected an integer, got string 'ten'",
        "F:11: classes[1].priority: expected an integer, got float 1.5",
        "F:13: classes[1].duration: unknown duration unit 'h' in '5h' (allowed: us, ms, s, m)",
        "F:14: classes[1].work: must be one of sleep, cpu, got 'spin'",
        "F:16: arrival.order: must be one of round_robin, sequential, shuffle, got 'random'",
        "F:17: timeout: duration must not be negative, got '-1s'",
    ]


def test_errors_carry_structured_location():
    with pytest.raises(ScenarioErrors) as info:
        load_text(MINIMAL.replace("count: 10", "count: 0"), "x.yaml")
    (err,) = info.value.errors
    assert isinstance(err, ScenarioError)
    assert (err.path, err.line, err.field, err.message) == ("x.yaml", 3, "classes[0].count", "must be >= 1, got 0")


def test_unknown_fields_at_every_level():
    assert errors_of("""\
        name: u
        Seed: 3
        zzz: 1
        classes:
          - {name: a, priority: 1, count: 1, duration_s: 2}
        arrival:
          strat: after
        """) == [
        "s.yaml:2: Seed: unknown field (did you mean 'seed'?)",
        "s.yaml:3: zzz: unknown field (allowed: name, description, backend, consumers, workers, worker_type, "
        "classes, arrival, seed, timeout, repeat, warmup, matrix, polling)",
        "s.yaml:5: classes[0].duration_s: unknown field (did you mean 'duration'?)",
        "s.yaml:7: arrival.strat: unknown field (did you mean 'start'?)",
    ]


def test_missing_required_fields_point_at_their_mapping():
    assert errors_of("""\
        description: no name, no classes
        """) == ["s.yaml:1: name: missing required field", "s.yaml:1: classes: missing required field"]
    assert errors_of("""\
        name: m
        classes:
          - name: a
          - priority: 1
            count: 1
        """) == [
        "s.yaml:3: classes[0].priority: missing required field",
        "s.yaml:3: classes[0].count: missing required field",
        "s.yaml:4: classes[1].name: missing required field",
    ]


@pytest.mark.parametrize("line, message", [
    ("consumers: true", "consumers: expected an integer, got boolean true"),
    ("consumers: no", "consumers: expected an integer, got boolean false"),
    ("workers: 2.0", "workers: expected an integer, got float 2.0"),
    ("workers: '2'", "workers: expected an integer, got string '2'"),
    ("seed: ~", "seed: expected an integer, got null"),
    ("seed: [1]", "seed: expected an integer, got a list"),
    ("seed: -1", "seed: must be >= 0, got -1"),
    ("description: 12", "description: expected a string, got integer 12 (quote it to make it text)"),
    ("description: {a: 1}", "description: expected a string, got a mapping"),
    ("backend: huey", "backend: must be one of priority_redis, priority_redis_expire, redis, sqlite, got 'huey'"),
    ("backend: priority-redis", "backend: must be one of priority_redis, priority_redis_expire, redis, sqlite, "
                                "got 'priority-redis' (did you mean 'priority_redis'?)"),
    ("backend: 1", "backend: expected one of priority_redis, priority_redis_expire, redis, sqlite, got integer 1"),
    ("worker_type: gevent", "worker_type: must be one of thread, process, greenlet, got 'gevent' "
                            "(did you mean 'greenlet'?)"),
    ("arrival: after", "arrival: expected a mapping of fields, got string 'after'"),
    ("arrival:", "arrival: expected a mapping of fields, got null"),
    ("arrival: [before]", "arrival: expected a mapping of fields, got a list"),
    ("arrival: {start: never}", "arrival.start: must be one of before, after, got 'never'"),
    ("arrival: {order: round-robin}", "arrival.order: must be one of round_robin, sequential, shuffle, "
                                      "got 'round-robin' (did you mean 'round_robin'?)"),
    ("timeout: 2020-01-01", "timeout: expected a duration (seconds, or a string with a unit (us, ms, s, m) "
                            "such as '250ms', '1.5s', '2m'), got date 2020-01-01"),
])
def test_wrong_top_level_values(line, message):
    assert one_error(MINIMAL + line + "\n") == "s.yaml:4: " + message


@pytest.mark.parametrize("fields, message", [
    ("name: 5, priority: 1, count: 1", "classes[0].name: expected a string, got integer 5 (quote it to make it text)"),
    ("name: 'a b', priority: 1, count: 1",
     "classes[0].name: must match [A-Za-z0-9_-]{1,32} (letters, digits, '_' and '-', at most 32), got 'a b'"),
    ("name: " + "x" * 33 + ", priority: 1, count: 1",
     "classes[0].name: must match [A-Za-z0-9_-]{1,32} (letters, digits, '_' and '-', at most 32), "
     f"got '{'x' * 33}'"),
    ("name: a, priority: high, count: 1", "classes[0].priority: expected an integer, got string 'high'"),
    ("name: a, priority: true, count: 1", "classes[0].priority: expected an integer, got boolean true"),
    ("name: a, priority: 2147483648, count: 1",
     "classes[0].priority: must be <= 2147483647, got 2147483648 (priorities are 32-bit signed integers)"),
    ("name: a, priority: -2147483649, count: 1", "classes[0].priority: must be >= -2147483648, got -2147483649"),
    ("name: a, priority: 1, count: 0", "classes[0].count: must be >= 1, got 0"),
    ("name: a, priority: 1, count: -4", "classes[0].count: must be >= 1, got -4"),
    ("name: a, priority: 1, count: ten", "classes[0].count: expected an integer, got string 'ten'"),
    ("name: a, priority: 1, count: 1, duration: -1", "classes[0].duration: duration must not be negative, got -1"),
    ("name: a, priority: 1, count: 1, work: spin", "classes[0].work: must be one of sleep, cpu, got 'spin'"),
])
def test_wrong_class_values(fields, message):
    assert one_error(f"name: c\nclasses:\n  - {{{fields}}}\n") == "s.yaml:3: " + message


def test_classes_must_be_a_non_empty_list_of_mappings():
    assert one_error("name: c\nclasses: []\n") == "s.yaml:2: classes: must list at least one entry"
    assert one_error("name: c\nclasses: {name: a}\n") == "s.yaml:2: classes: expected a list, got a mapping"
    assert one_error("name: c\nclasses: lo\n") == "s.yaml:2: classes: expected a list, got string 'lo'"
    assert one_error("name: c\nclasses:\n  - lo\n") == (
        "s.yaml:3: classes[0]: expected a mapping of fields, got string 'lo'")


@pytest.mark.parametrize("bad", ["Smoke", "-smoke", "smoke test", "smoke_test", "a" * 64, "smoke/../x", ""])
def test_scenario_name_rules(bad):
    assert one_error(f"name: '{bad}'\nclasses: [{{name: a, priority: 1, count: 1}}]\n").startswith(
        "s.yaml:1: name: must match [a-z0-9][a-z0-9-]{0,62} ")


@pytest.mark.parametrize("good", ["0", "smoke", "a-b-9", "a" * 63])
def test_scenario_names_accepted(good):
    assert load_text(f"name: '{good}'\nclasses: [{{name: a, priority: 1, count: 1}}]\n").name == good


def test_duplicate_keys_and_class_names():
    assert file_errors("bad-duplicates.yaml") == [
        "F:2: name: duplicate key 'name' (first at line 1)",
        "F:10: classes[2].name: duplicate class name 'a' (already used by classes[0])",
        "F:13: classes[2].count: duplicate key 'count' (first at line 12)",
    ]


def test_absurd_sizes_refused_with_a_hint():
    assert file_errors("bad-too-big.yaml") == [
        "F:2: consumers: must be <= 64, got 65 (each consumer is a process or container; "
        "use more workers per consumer)",
        "F:3: workers: must be <= 256, got 257 (workers per consumer; spread them over more consumers)",
        "F:4: classes: 1000001 tasks in total is more than this benchmark will enqueue (at most 1000000); "
        "split the scenario",
    ]


def test_total_is_checked_even_when_another_class_is_broken():
    assert errors_of("""\
        name: t
        classes:
          - {name: a, priority: x, count: 1}
          - {name: b, priority: 1, count: 2000000}
        """) == [
        "s.yaml:2: classes: 2000000 tasks in total is more than this benchmark will enqueue (at most 1000000); "
        "split the scenario",
        "s.yaml:3: classes[0].priority: expected an integer, got string 'x'",
    ]


def test_merge_keys_and_anchors():
    # Anchors are plain YAML and fine; merge keys would hide where a value came from.
    sc = load_text("name: a\nclasses:\n  - &c {name: a, priority: 1, count: 1}\n  - {name: b, priority: 2, count: 1}\n")
    assert sc.classes[0].name == "a"
    assert errors_of("name: a\nclasses:\n  - {<<: {name: a}, priority: 1, count: 1}\n") == [
        "s.yaml:3: classes[0].<<: YAML merge keys ('<<') are not supported; write the fields out",
        "s.yaml:3: classes[0].name: missing required field",
    ]


# ---------------------------------------------------------------- safe loading


def test_python_tags_are_rejected_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    tags = [
        f'!!python/object/apply:os.system ["touch {marker}"]',
        f'!!python/object/apply:subprocess.check_call [["touch", "{marker}"]]',
        "!!python/name:os.system",
        f'!!python/object/new:os.system ["touch {marker}"]',
    ]
    for tag in tags:
        errs = errors_of(f"name: {tag}\nclasses: [{{name: a, priority: 1, count: 1}}]\n")
        assert len(errs) == 1 and errs[0].startswith("s.yaml:1: name: unsupported YAML tag '!!python/"), errs
        assert errs[0].endswith("(a scenario is plain data; nothing in it is run)")
    assert file_errors("bad-unsafe.yaml") == [
        "F:1: name: unsupported YAML tag '!!python/object/apply:os.system' "
        "(a scenario is plain data; nothing in it is run)"]
    assert one_error('!!python/object/apply:os.system ["echo hi"]\n') == (
        "s.yaml:1: unsupported YAML tag '!!python/object/apply:os.system' "
        "(a scenario is plain data; nothing in it is run)")
    assert not marker.exists()


def test_unsafe_tags_nested_in_values_and_structure():
    assert one_error("name: a\nclasses:\n  - name: a\n    priority: 1\n    count: 1\n    work:\n"
                     "      - !!python/name:os.system ''\n") \
        .startswith("s.yaml:7: classes[0].work: unsupported YAML tag '!!python/name:os.system'")
    assert one_error("name: a\narrival: !!python/object:bench.scenario.Arrival {start: after}\n"
                     "classes: [{name: a, priority: 1, count: 1}]\n") \
        .startswith("s.yaml:2: arrival: unsupported YAML tag '!!python/object:bench.scenario.Arrival'")
    assert one_error("name: a\nclasses: !custom [{name: a, priority: 1, count: 1}]\n") \
        .startswith("s.yaml:2: classes: unsupported YAML tag '!custom'")


def test_explicit_safe_tags_are_fine():
    assert load_text("name: !!str smoke\nclasses: [{name: !!str 10, priority: !!int '3', count: 1}]\n").classes[0] \
        == TaskClass("10", 3, 1)


# ---------------------------------------------------------------- validate() on built records


def test_load_text_equals_direct_construction():
    direct = Scenario(name="smoke", classes=(TaskClass(name="lo", priority=1, count=10),))
    direct.validate()
    assert load_text(MINIMAL) == direct
    assert load_text(MINIMAL).to_dict() == direct.to_dict()


def test_validate_runs_the_loaders_checks():
    bad = Scenario(name="Bad", consumers=True, timeout_s=0.0, arrival=Arrival(order="random"),
                   classes=(TaskClass("a", 2**31, 0, duration_s=-1.0),))
    with pytest.raises(ValueError) as info:
        bad.validate()
    assert str(info.value).splitlines() == [
        "name: must match [a-z0-9][a-z0-9-]{0,62} (lowercase letters, digits and '-'; it names result directories), "
        "got 'Bad'",
        "consumers: expected an integer, got boolean true",
        "classes[0].priority: must be <= 2147483647, got 2147483648 (priorities are 32-bit signed integers)",
        "classes[0].count: must be >= 1, got 0",
        "classes[0].duration: duration must not be negative, got -1.0",
        "arrival.order: must be one of round_robin, sequential, shuffle, got 'random'",
        "timeout: must be > 0, got 0.0",
    ]


def test_validate_cross_field_checks():
    dup = r"^classes\[1\]\.name: duplicate class name 'a' \(already used by classes\[0\]\)$"
    with pytest.raises(ValueError, match=dup):
        Scenario("d", (TaskClass("a", 1, 1), TaskClass("a", 2, 1))).validate()
    with pytest.raises(ValueError, match="1000001 tasks in total"):
        Scenario("t", (TaskClass("a", 1, 1_000_000), TaskClass("b", 2, 1))).validate()


def test_validate_checks_record_types():
    with pytest.raises(ValueError, match=r"classes: expected a non-empty tuple of TaskClass, got a list"):
        Scenario("e", []).validate()
    with pytest.raises(ValueError, match=r"classes\[0\]: expected an instance of TaskClass, got a mapping"):
        Scenario("e", ({"name": "a"},)).validate()
    with pytest.raises(ValueError, match=r"arrival: expected an instance of Arrival, got string 'before'"):
        Scenario("e", (TaskClass("a", 1, 1),), arrival="before").validate()


def test_bad_text_under_a_safe_tag_and_control_characters():
    assert one_error(MINIMAL + "seed: !!int abc\n") == "s.yaml:4: seed: invalid !!int value: 'abc'"
    assert one_error(MINIMAL + "description: \x07\n") == (
        "s.yaml:4: invalid YAML: unacceptable character #x0007: special characters are not allowed (column 14)")


# ---------------------------------------------------------------- repetitions


def test_repeat_and_warmup():
    sc = load_text(MINIMAL + "repeat: 100\nwarmup: 10\n")
    assert (sc.repeat, sc.warmup) == (100, 10)
    assert load_text(MINIMAL + "warmup: 0\nrepeat: 1\n") == load_text(MINIMAL)
    assert errors_of(MINIMAL + "repeat: 0\nwarmup: -1\n") == [
        "s.yaml:4: repeat: must be >= 1, got 0", "s.yaml:5: warmup: must be >= 0, got -1"]
    assert errors_of(MINIMAL + "repeat: 101\nwarmup: 11\n") == [
        "s.yaml:4: repeat: must be <= 100, got 101", "s.yaml:5: warmup: must be <= 10, got 11"]
    assert one_error(MINIMAL + "repeat: 3.0\n") == "s.yaml:4: repeat: expected an integer, got float 3.0"
    assert one_error(MINIMAL + "warmup: yes\n") == "s.yaml:4: warmup: expected an integer, got boolean true"


# ---------------------------------------------------------------- rates and open-loop arrivals


@pytest.mark.parametrize("value, per_s", [
    (200, 200.0), (0.5, 0.5), ("200/s", 200.0), ("12000/m", 200.0), ("0.5/s", 0.5), ("30/m", 0.5),
    ("200", 200.0), (" 7 / s ", 7.0), (".5/s", 0.5), ("+3/s", 3.0), ("100/m", 100 / 60),
])
def test_parse_rate(value, per_s):
    assert parse_rate(value) == per_s
    assert isinstance(parse_rate(value), float)


@pytest.mark.parametrize("value, message", [
    ("200/h", "unknown rate unit '/h' in '200/h' (allowed: /s, /m)"),
    ("200/sec", "unknown rate unit '/sec' in '200/sec' (allowed: /s, /m)"),
    ("200/", "unknown rate unit '/' in '200/' (allowed: /s, /m)"),
    (0, "rate must be > 0, got 0"),
    ("0/s", "rate must be > 0, got '0/s'"),
    (-5, "rate must be > 0, got -5"),
    ("-5/s", "rate must be > 0, got '-5/s'"),
    ("200s", "invalid rate '200s': expected tasks per second, or a string with a unit (/s, /m) "
             "such as '200/s', '12000/m', '0.5/s'"),
    ("fast", "invalid rate 'fast'"),
    ("", "invalid rate ''"),
    (True, "expected a rate (tasks per second, or a string with a unit (/s, /m) such as '200/s', '12000/m', "
           "'0.5/s'), got boolean true"),
    (None, "got null"),
    ([200], "got a list"),
    (float("inf"), "rate must be finite, got inf"),
    (float("nan"), "rate must be finite, got nan"),
    (10**400, "rate must be finite"),
])
def test_parse_rate_rejects(value, message):
    with pytest.raises(ValueError) as info:
        parse_rate(value)
    assert message in str(info.value)


RATE = MINIMAL + "arrival:\n  mode: rate\n"


def test_open_loop_arrival():
    sc = load_text(RATE + "  rate: 12000/m\n  process: uniform\n")
    assert sc.arrival == Arrival(start="before", order="round_robin", mode="rate", rate_per_s=200.0,
                                 process="uniform")
    assert load_text(RATE + "  rate: 100000/s\n").arrival.rate_per_s == 100_000.0  # inclusive
    assert load_text(RATE + "  rate: 0.5\n").arrival.process == "poisson"
    assert load_text(MINIMAL + "arrival: {mode: burst, start: after}\n").arrival == Arrival(start="after")


@pytest.mark.parametrize("lines, message", [
    ("  rate: 100001\n", "s.yaml:6: arrival.rate: must be at most 100000/s, got 100001"),
    ("  rate: 6000001/m\n", "s.yaml:6: arrival.rate: must be at most 100000/s, got '6000001/m'"),
    ("  rate: 0\n", "s.yaml:6: arrival.rate: rate must be > 0, got 0"),
    ("  rate: 200/h\n", "s.yaml:6: arrival.rate: unknown rate unit '/h' in '200/h' (allowed: /s, /m)"),
    ("  rate: [200]\n", "s.yaml:6: arrival.rate: expected a rate (tasks per second, or a string with a unit "
                        "(/s, /m) such as '200/s', '12000/m', '0.5/s'), got a list"),
    ("  rate: 5\n  process: exponential\n", "s.yaml:7: arrival.process: must be one of poisson, uniform, "
                                            "got 'exponential'"),
    ("", "s.yaml:5: arrival.rate: required with mode: rate (tasks per second, such as 200/s), "
         "unless matrix.rate lists the rates"),
    ("  rate: 5\n  start: after\n", "s.yaml:7: arrival.start: must be 'before' with mode: rate "
                                    "(an open-loop producer feeds running consumers)"),
])
def test_open_loop_errors(lines, message):
    assert one_error(RATE + lines) == message


def test_rate_and_process_only_with_mode_rate():
    assert errors_of(MINIMAL + "arrival:\n  rate: 200/s\n  process: uniform\n") == [
        "s.yaml:5: arrival.rate: only with mode: rate (mode: burst enqueues as fast as possible)",
        "s.yaml:6: arrival.process: only with mode: rate (mode: burst enqueues as fast as possible)",
    ]
    # Written out, even at its default, process says the author expects an open loop.
    assert one_error(MINIMAL + "arrival: {mode: burst, process: poisson}\n") == (
        "s.yaml:4: arrival.process: only with mode: rate (mode: burst enqueues as fast as possible)")
    assert one_error(MINIMAL + "arrival: {mode: sometimes}\n") == (
        "s.yaml:4: arrival.mode: must be one of burst, rate, got 'sometimes'")


# ---------------------------------------------------------------- backends and polling


def test_new_backends():
    for backend in ("priority_redis_expire", "sqlite"):
        assert load_text(MINIMAL + f"backend: {backend}\n").backend == backend


def test_polling():
    sc = load_text(MINIMAL + "backend: sqlite\npolling:\n  delay: 1ms\n  max_delay: 10ms\n  backoff: 2\n")
    assert sc.polling == Polling(delay_s=0.001, max_delay_s=0.01, backoff=2.0)
    assert isinstance(sc.polling.backoff, float)
    assert load_text(MINIMAL + "polling: {}\n").polling == Polling()
    assert load_text(MINIMAL + "polling: {delay: 10s, max_delay: 10s, backoff: 1}\n").polling == Polling(10, 10, 1.0)
    assert load_text(MINIMAL + "polling: {delay: 1m, max_delay: 1m, backoff: 10}\n").polling == Polling(60, 60, 10.0)
    # Redis backends block on their queue: polling is accepted there and changes nothing.
    assert load_text(MINIMAL + "backend: redis\npolling: {delay: 5ms}\n").polling.delay_s == 0.005


@pytest.mark.parametrize("text, message", [
    ("polling: {delay: 0}", "s.yaml:4: polling.delay: must be > 0, got 0"),
    ("polling: {delay: 61s}", "s.yaml:4: polling.delay: must be at most 1m (60 seconds), got '61s'"),
    ("polling: {max_delay: 2m}", "s.yaml:4: polling.max_delay: must be at most 1m (60 seconds), got '2m'"),
    ("polling: {backoff: 0.99}", "s.yaml:4: polling.backoff: must be >= 1.0, got 0.99"),
    ("polling: {backoff: 11}", "s.yaml:4: polling.backoff: must be <= 10.0, got 11"),
    ("polling: {backoff: fast}", "s.yaml:4: polling.backoff: expected a number, got string 'fast'"),
    ("polling: {backoff: .inf}", "s.yaml:4: polling.backoff: must be finite, got inf"),
    ("polling: {interval: 1s}", "s.yaml:4: polling.interval: unknown field (allowed: delay, max_delay, backoff)"),
    ("polling: 1ms", "s.yaml:4: polling: expected a mapping of fields, got string '1ms'"),
    # max_delay's default (10 s) is below this delay: the error points at the delay.
    ("polling: {delay: 20s}", "s.yaml:4: polling.max_delay: must be at least polling.delay (20 s), got 10 s"),
    ("polling:\n  delay: 50ms\n  max_delay: 10ms",
     "s.yaml:6: polling.max_delay: must be at least polling.delay (0.05 s), got 0.01 s"),
])
def test_polling_errors(text, message):
    assert one_error(MINIMAL + text + "\n") == message


# ---------------------------------------------------------------- matrix


SCALING = """\
name: m
workers: 3
classes: [{name: a, priority: 1, count: 10}]
matrix:
  workers: [1, 2, 4, 8]
  worker_type: [thread, process]
"""


def test_matrix_expands_in_order():
    sc = load_text(SCALING)
    assert sc.matrix == (("workers", (1, 2, 4, 8)), ("worker_type", ("thread", "process")))
    cells = sc.cells()
    assert [c.key for c in cells] == [
        "workers=1,worker_type=thread", "workers=1,worker_type=process",
        "workers=2,worker_type=thread", "workers=2,worker_type=process",
        "workers=4,worker_type=thread", "workers=4,worker_type=process",
        "workers=8,worker_type=thread", "workers=8,worker_type=process",
    ]
    c = cells[3]
    assert c.pairs == (("workers", 2), ("worker_type", "process"))
    assert c.params == {"workers": 2, "worker_type": "process"}
    # The cell's scenario: the matrix applied (overriding the top-level workers: 3), none left.
    assert c.scenario == replace(sc, workers=2, worker_type="process", matrix=())
    assert c.scenario.source == sc.source and c.scenario.cells() == [Cell("", (), c.scenario)]
    assert sc.total_tasks == 10 and sc.total_workers == 3  # per run; the matrix is not applied
    for cell in cells:
        cell.scenario.validate()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.key = "x"
    assert hash(c) == hash(load_text(SCALING).cells()[3])


def test_matrix_order_is_the_files():
    sc = load_text(MINIMAL + "matrix:\n  backend: [sqlite, redis]\n  consumers: [2, 1]\n  seed: [0, 9]\n")
    assert [k for k, _ in sc.matrix] == ["backend", "consumers", "seed"]
    assert [c.key for c in sc.cells()][:3] == [
        "backend=sqlite,consumers=2,seed=0", "backend=sqlite,consumers=2,seed=9", "backend=sqlite,consumers=1,seed=0"]
    assert len(sc.cells()) == 8


def test_matrix_over_rate_implies_mode_rate():
    sc = load_text(MINIMAL + "matrix:\n  rate: [100/s, 12000/m, 0.5]\n")
    assert sc.arrival.mode == "rate" and sc.arrival.rate_per_s is None
    assert sc.matrix == (("rate", (100.0, 200.0, 0.5)),)
    assert [c.key for c in sc.cells()] == ["rate=100", "rate=200", "rate=0.5"]
    assert [c.scenario.arrival for c in sc.cells()] == [
        Arrival(mode="rate", rate_per_s=r) for r in (100.0, 200.0, 0.5)]
    sc.validate()
    # With mode and a rate written out, the matrix's rates replace the rate.
    sc = load_text(MINIMAL + "arrival: {mode: rate, rate: 5, process: uniform}\nmatrix: {rate: [7]}\n")
    assert sc.cells()[0].scenario.arrival == Arrival(mode="rate", rate_per_s=7.0, process="uniform")


@pytest.mark.parametrize("text, messages", [
    ("matrix: {wrokers: [1]}", ["s.yaml:4: matrix.wrokers: unknown matrix field (did you mean 'workers'?)"]),
    ("matrix: {zzz: [1]}", ["s.yaml:4: matrix.zzz: unknown matrix field "
                            "(allowed: consumers, workers, worker_type, backend, seed, rate)"]),
    ("matrix: {timeout: [1s, 2s]}", ["s.yaml:4: matrix.timeout: 'timeout' cannot vary in a matrix "
                                     "(allowed: consumers, workers, worker_type, backend, seed, rate)"]),
    ("matrix: {workers: [1, 2, 0]}", ["s.yaml:4: matrix.workers[2]: must be >= 1, got 0"]),
    ("matrix:\n  workers:\n    - 1\n    - 257\n",
     ["s.yaml:7: matrix.workers[1]: must be <= 256, got 257 (workers per consumer; spread them over more consumers)"]),
    ("matrix: {consumers: [65]}", ["s.yaml:4: matrix.consumers[0]: must be <= 64, got 65 (each consumer is a "
                                   "process or container; use more workers per consumer)"]),
    ("matrix: {worker_type: [thread, thred]}", ["s.yaml:4: matrix.worker_type[1]: must be one of thread, process, "
                                                "greenlet, got 'thred' (did you mean 'thread'?)"]),
    ("matrix: {backend: [redis, mysql]}", ["s.yaml:4: matrix.backend[1]: must be one of priority_redis, "
                                           "priority_redis_expire, redis, sqlite, got 'mysql'"]),
    ("matrix: {seed: [-1]}", ["s.yaml:4: matrix.seed[0]: must be >= 0, got -1"]),
    ("matrix: {rate: [10/s, 0]}", ["s.yaml:4: matrix.rate[1]: rate must be > 0, got 0"]),
    ("matrix: {rate: [200/h]}", ["s.yaml:4: matrix.rate[0]: unknown rate unit '/h' in '200/h' (allowed: /s, /m)"]),
    ("matrix: {workers: []}", ["s.yaml:4: matrix.workers: must list at least one value"]),
    ("matrix: {workers: 4}", ["s.yaml:4: matrix.workers: expected a list of values, got integer 4 "
                              "(write [4] for a single value)"]),
    ("matrix: {workers: {a: 1}}", ["s.yaml:4: matrix.workers: expected a list of values, got a mapping"]),
    ("matrix: {workers: }", ["s.yaml:4: matrix.workers: expected a list of values, got null"]),
    ("matrix: {workers: [1, [2]]}", ["s.yaml:4: matrix.workers[1]: expected an integer, got a list"]),
    ("matrix: {workers: [1, 2, 1]}", ["s.yaml:4: matrix.workers[2]: duplicate value 1 "
                                      "(already listed as matrix.workers[0])"]),
    ("matrix: {rate: [200/s, 12000/m]}", ["s.yaml:4: matrix.rate[1]: duplicate value 200 "
                                          "(already listed as matrix.rate[0])"]),
    ("matrix: {}", ["s.yaml:4: matrix: must name at least one field (leave matrix out for a single cell)"]),
    ("matrix:", ["s.yaml:4: matrix: expected a mapping of field: [values], got null"]),
    ("matrix: [workers]", ["s.yaml:4: matrix: expected a mapping of field: [values], got a list"]),
    ("matrix:\n  workers: [1]\n  workers: [2]", ["s.yaml:6: matrix.workers: duplicate key 'workers' "
                                                 "(first at line 5)"]),
    ("matrix: {<<: {workers: [1]}}", ["s.yaml:4: matrix.<<: YAML merge keys ('<<') are not supported; "
                                      "write the fields out"]),
    ("matrix: {workers: [1, !!python/name:os.system '']}", [
        "s.yaml:4: matrix.workers[1]: unsupported YAML tag '!!python/name:os.system' "
        "(a scenario is plain data; nothing in it is run)"]),
])
def test_matrix_errors(text, messages):
    assert errors_of(MINIMAL + text + "\n") == messages


def test_matrix_over_rate_needs_mode_rate():
    assert one_error(MINIMAL + "arrival: {mode: burst}\nmatrix:\n  rate: [10, 20]\n") == (
        "s.yaml:6: matrix.rate: a matrix over rate needs arrival mode: rate (set it, or leave mode out), "
        "got mode: burst")
    # Implied mode: rate brings its rule about start.
    assert one_error(MINIMAL + "arrival: {start: after}\nmatrix:\n  rate: [10, 20]\n") == (
        "s.yaml:4: arrival.start: must be 'before' with mode: rate (an open-loop producer feeds running consumers)")


def test_many_new_field_errors_in_one_file():
    assert file_errors("bad-new-fields.yaml") == [
        "F:2: backend: must be one of priority_redis, priority_redis_expire, redis, sqlite, got 'sqlite_huey' "
        "(did you mean 'sqlite'?)",
        "F:6: arrival.mode: must be one of burst, rate, got 'open'",
        "F:7: arrival.rate: unknown rate unit '/h' in '200/h' (allowed: /s, /m)",
        "F:8: arrival.process: must be one of poisson, uniform, got 'gaussian'",
        "F:9: repeat: must be >= 1, got 0",
        "F:10: warmup: must be <= 10, got 11",
        "F:12: matrix.wrokers: unknown matrix field (did you mean 'workers'?)",
        "F:13: matrix.workers[2]: must be >= 1, got 0",
        "F:14: matrix.worker_type: expected a list of values, got string 'thread' (write [thread] for a single value)",
        "F:15: matrix.backend: must list at least one value",
        "F:16: matrix.seed[1]: duplicate value 1 (already listed as matrix.seed[0])",
        "F:17: matrix.rate[1]: duplicate value 100 (already listed as matrix.rate[0])",
        "F:18: matrix.timeout: 'timeout' cannot vary in a matrix "
        "(allowed: consumers, workers, worker_type, backend, seed, rate)",
        "F:20: polling.delay: must be > 0, got 0",
        "F:21: polling.max_delay: must be at most 1m (60 seconds), got '2m'",
        "F:22: polling.backoff: must be >= 1.0, got 0.9",
    ]


def test_session_size_limits_are_inclusive():
    eight = "matrix: {workers: [1, 2, 3, 4, 5, 6, 7, 8], consumers: [1, 2, 3, 4, 5, 6, 7, 8]}\n"
    assert len(load_text(MINIMAL + eight).cells()) == 64
    # 1000000 tasks per run x 5 runs: exactly the session limit.
    big = "name: b\nclasses: [{name: a, priority: 1, count: 1000000}]\n"
    assert load_text(big + "repeat: 4\nwarmup: 1\n").repeat == 4
    assert load_text("name: b\nclasses: [{name: a, priority: 1, count: 62500}]\n"
                     "repeat: 10\nmatrix: {seed: [1, 2, 3, 4, 5, 6, 7, 8]}\n").total_tasks == 62500


def test_session_size_limits():
    nine = "matrix:\n  workers: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n  consumers: [1, 2, 3, 4, 5, 6, 7, 8]\n"
    assert one_error(MINIMAL + nine) == (
        "s.yaml:4: matrix: 72 cells (9 x 8 values) are more than one scenario runs (at most 64); split the scenario")
    big = "name: b\nclasses: [{name: a, priority: 1, count: 1000000}]\n"
    assert one_error(big + "repeat: 5\nwarmup: 1\n") == (
        "s.yaml:3: repeat: 6000000 tasks over all runs (1000000 per run x 1 cell x 6 runs per cell, warm-ups "
        "included) is more than this benchmark will enqueue (at most 5000000); split the scenario")
    assert one_error(big + "warmup: 5\n") == (
        "s.yaml:3: warmup: 6000000 tasks over all runs (1000000 per run x 1 cell x 6 runs per cell, warm-ups "
        "included) is more than this benchmark will enqueue (at most 5000000); split the scenario")
    assert one_error("name: b\nclasses: [{name: a, priority: 1, count: 100000}]\nrepeat: 7\n"
                     "matrix:\n  seed: [1, 2, 3, 4, 5, 6, 7, 8]\n") == (
        "s.yaml:4: matrix: 5600000 tasks over all runs (100000 per run x 8 cells x 7 runs per cell, warm-ups "
        "included) is more than this benchmark will enqueue (at most 5000000); split the scenario")
    # A run that is already too big is reported once, as before.
    assert errors_of("name: b\nclasses: [{name: a, priority: 1, count: 1000001}]\nrepeat: 9\n") == [
        "s.yaml:2: classes: 1000001 tasks in total is more than this benchmark will enqueue (at most 1000000); "
        "split the scenario"]


# ---------------------------------------------------------------- new rules on built records


def test_scenario_takes_a_matrix_mapping():
    sc = Scenario("m", (TaskClass("a", 1, 1),), matrix={"workers": [1, 2], "backend": ["redis"]})
    assert sc.matrix == (("workers", (1, 2)), ("backend", ("redis",)))
    assert hash(sc) == hash(Scenario("m", (TaskClass("a", 1, 1),), matrix=sc.matrix))
    sc.validate()


def test_validate_runs_the_new_checks():
    a = (TaskClass("a", 1, 1),)
    cases = [
        (dict(arrival=Arrival(mode="rate")), "arrival.rate: required with mode: rate"),
        (dict(arrival=Arrival(mode="rate", rate_per_s=5.0, start="after")), "arrival.start: must be 'before'"),
        (dict(arrival=Arrival(rate_per_s=5.0)), "arrival.rate: only with mode: rate"),
        (dict(arrival=Arrival(process="uniform")), "arrival.process: only with mode: rate"),
        (dict(arrival=Arrival(mode="rate", rate_per_s=0.0)), "arrival.rate: rate must be > 0, got 0.0"),
        (dict(matrix={"rate": [5.0]}), "matrix.rate: a matrix over rate needs arrival mode: rate"),
        (dict(matrix={"workers": [0, 1, 1]}),
         "matrix.workers[0]: must be >= 1, got 0\n"
         "matrix.workers[2]: duplicate value 1 (already listed as matrix.workers[1])"),
        (dict(matrix={"wrokers": [1]}), "matrix.wrokers: unknown matrix field (did you mean 'workers'?)"),
        (dict(matrix={"workers": []}), "matrix.workers: must list at least one value"),
        (dict(matrix="workers"), "matrix: expected a tuple of (field, values) pairs, got string 'workers'"),
        (dict(matrix=(("workers", (1,)), ("workers", (2,)))), "matrix.workers: duplicate matrix field 'workers'"),
        (dict(polling=Polling(delay_s=1.0, max_delay_s=0.5)), "polling.max_delay: must be at least polling.delay"),
        (dict(polling=Polling(backoff=True)), "polling.backoff: expected a number, got boolean true"),
        (dict(polling="fast"), "polling: expected an instance of Polling, got string 'fast'"),
        (dict(repeat=0, warmup=11), "repeat: must be >= 1, got 0\nwarmup: must be <= 10, got 11"),
        (dict(matrix={"seed": list(range(65))}), "matrix: 65 cells (65 values) are more than one scenario runs"),
        (dict(classes=(TaskClass("a", 1, 1_000_000),), repeat=6), "repeat: 6000000 tasks over all runs"),
    ]
    for kwargs, message in cases:
        kwargs.setdefault("classes", a)
        with pytest.raises(ValueError) as info:
            Scenario("v", **kwargs).validate()
        assert str(info.value).startswith(message), (kwargs, str(info.value))
    Scenario("v", a, arrival=Arrival(mode="rate"), matrix={"rate": [5.0, 0.5]}).validate()
    Scenario("v", a, arrival=Arrival(mode="rate", rate_per_s=1.0, process="uniform"),
             polling=Polling(0.001, 0.001, 1.0), repeat=100, warmup=10).validate()


def test_cells_of_a_built_scenario():
    sc = Scenario("c", (TaskClass("a", 1, 1),), arrival=Arrival(mode="rate", rate_per_s=3.0),
                  matrix={"backend": ["sqlite", "redis"], "rate": [1.5, 2.0]})
    assert [(c.key, c.scenario.backend, c.scenario.arrival.rate_per_s) for c in sc.cells()] == [
        ("backend=sqlite,rate=1.5", "sqlite", 1.5), ("backend=sqlite,rate=2", "sqlite", 2.0),
        ("backend=redis,rate=1.5", "redis", 1.5), ("backend=redis,rate=2", "redis", 2.0)]
    assert all(c.scenario.matrix == () for c in sc.cells())
