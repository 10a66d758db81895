#!/usr/bin/env bash
# The containerized path, for real: build the image offline, run `make bench` on the smoke
# scenario through compose on the host network (all traffic on 127.0.0.1), then check that
# a new results directory holds the three files, a complete run, docker mode, 0 inversions.
set -euo pipefail
cd "$(dirname "$0")/.."

trap 'bash .ci/docker-teardown.sh >/dev/null 2>&1 || true' EXIT
bash .ci/docker-setup.sh
# shellcheck disable=SC1091
. /var/run/bench-docker/env

before=$(ls results/smoke 2>/dev/null | sort || true)
make bench SCENARIO=scenarios/smoke.yaml BENCH_MODE=docker </dev/null
after=$(ls results/smoke | sort)
new=$(comm -13 <(echo "$before") <(echo "$after"))
[ "$(echo "$new" | grep -c .)" = 1 ] || { echo "expected one new results dir, got: '$new'" >&2; exit 1; }

python3 - "results/smoke/$new" <<'PY'
import csv, json, os, sys
d = sys.argv[1]
assert sorted(os.listdir(d)) == ["events.csv", "plots", "result.json", "summary.md"], os.listdir(d)
doc = json.load(open(os.path.join(d, "result.json")))
(run,) = doc["cells"][0]["runs"]
m = run["metrics"]
assert doc["complete"] is True and run["complete"] is True, run["problems"]
assert doc["environment"]["mode"] == "docker", doc["environment"]
assert m["tasks"] == 20 and m["inversions"] == 0, m
rows = list(csv.DictReader(open(os.path.join(d, "events.csv"))))
assert len(rows) == 20
print(f"docker smoke ok: {d}: {m['tasks']} tasks, {m['inversions']} inversions, "
      f"redis {doc['environment']['redis_server']}, host {doc['environment']['hostname']}")
PY
running=$(/usr/bin/docker ps -q | wc -l)
[ "$running" = 0 ] || { echo "containers still running after make bench: $running" >&2; exit 1; }
