"""compare on real runs: no change reads '~', a real change (1 vs 4 workers) is significant."""

import json
import textwrap

from conftest import bench_cli, only_result_dir

SCALING = """\
    name: scaling
    workers: {workers}
    classes:
      - {{name: lo, priority: 1, count: 12, duration: 25ms}}
      - {{name: hi, priority: 2, count: 12, duration: 25ms}}
    arrival: {{start: after}}
    repeat: 4
    timeout: 60s
"""


def run(tmp_path, redis_url, workers):
    path = tmp_path / f"w{workers}.yaml"
    path.write_text(textwrap.dedent(SCALING.format(workers=workers)))
    results = tmp_path / f"r{workers}"
    proc = bench_cli("run", path, "--results", results, "--redis-url", redis_url, "-q")
    assert proc.returncode == 0, proc.stderr
    return only_result_dir(results, "scaling")


def compare_json(a, b, *extra):
    proc = bench_cli("compare", a, b, "--format", "json", *extra)
    assert proc.returncode == 0, proc.stderr
    return {row["metric"]: row for row in json.loads(proc.stdout)["rows"]}


def test_compare_flags_real_changes_and_only_them(tmp_path, redis_url):
    one, four = run(tmp_path, redis_url, 1), run(tmp_path, redis_url, 4)

    same = compare_json(one, one)
    assert same and not any(row["significant"] for row in same.values())
    table = bench_cli("compare", one, one)
    assert table.returncode == 0 and "~" in table.stdout

    refused = bench_cli("compare", one, four)
    assert refused.returncode == 2 and "--force" in refused.stderr

    changed = compare_json(one, four, "--force")
    assert changed["throughput_per_s"]["significant"] is True
    assert changed["throughput_per_s"]["b"]["median"] > 1.5 * changed["throughput_per_s"]["a"]["median"]
    assert changed["lo.wait_p99_ms"]["significant"] is True
