"""Tests of scenario loading: every error case names file, line and field; valid files build frozen records."""

import dataclasses
import json
import textwrap
from pathlib import Path

import pytest

from bench import scenario
from bench.errors import ScenarioError, ScenarioErrors
from bench.scenario import Arrival, Scenario, TaskClass, load, load_text, parse_duration

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
    sc.validate()


def test_full_file_uses_every_field():
    sc = load(DATA / "valid-full.yaml")
    assert sc == Scenario(
        name="full-example",
        description="Two classes on a prefilled queue: does hi overtake lo?",
        backend="redis",
        consumers=2,
        workers=4,
        worker_type="process",
        classes=(
            TaskClass("lo", 0, 100, 0.25, "sleep"),
            TaskClass("hi", 10, 20, 1.5, "cpu"),
            TaskClass("bulk_2", -5, 3, 2.0, "sleep"),
        ),
        arrival=Arrival(start="after", order="shuffle"),
        seed=42,
        timeout_s=600.0,
    )
    assert sc.total_tasks == 123 and sc.total_workers == 8
    # Every schema key appears in the example, so it documents the whole schema.
    text = (DATA / "valid-full.yaml").read_text()
    for f in scenario._SCENARIO.fields + scenario._CLASSES.fields + scenario._ARRIVAL.fields:
        assert f"{f.key}:" in text, f.key


def test_to_dict_is_json_and_in_schema_shape():
    d = load(DATA / "valid-full.yaml").to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["timeout_s"] == 600.0 and d["arrival"] == {"start": "after", "order": "shuffle"}
    assert d["classes"][0] == {"name": "lo", "priority": 0, "count": 100, "duration_s": 0.25, "work": "sleep"}
    assert list(d) == ["name", "description", "backend", "consumers", "workers", "worker_type",
                       "classes", "arrival", "seed", "timeout_s"]


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
    assert scenario.BACKENDS == ("priority_redis", "redis")
    assert scenario.WORKER_TYPES == ("thread", "process", "greenlet")
    assert scenario.WORK_KINDS == ("sleep", "cpu")
    assert scenario.START_MODES == ("before", "after")
    assert scenario.ORDERS == ("round_robin", "sequential", "shuffle")


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
        "classes, arrival, seed, timeout)",
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
    ("backend: huey", "backend: must be one of priority_redis, redis, got 'huey'"),
    ("backend: priority-redis", "backend: must be one of priority_redis, redis, got 'priority-redis' "
                                "(did you mean 'priority_redis'?)"),
    ("backend: 1", "backend: expected one of priority_redis, redis, got integer 1"),
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
