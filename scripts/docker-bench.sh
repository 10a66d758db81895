#!/usr/bin/env bash
# `make bench` in containers: Redis, N consumer agents (N = what the scenarios need) and the
# runner, through docker compose (v2) or docker-compose (v1). Everything it starts is removed
# when it ends, Ctrl-C included. Usage: scripts/docker-bench.sh SCENARIO [RESULTS]
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-scenarios}
results=${2:-results}

die() { echo "docker-bench: $*" >&2; exit 2; }
case $scenario in
  scenarios|scenarios/*|./scenarios|./scenarios/*) ;;
  *) die "in docker mode scenarios must live under scenarios/ (mounted into the runner): got '$scenario'" ;;
esac
[ "$results" = results ] || die "in docker mode results go to ./results (mounted into the runner): got '$results'"
[ -e "$scenario" ] || die "no such scenario file or directory: $scenario"

if docker compose version >/dev/null 2>&1; then compose=(docker compose)
elif command -v docker-compose >/dev/null; then compose=(docker-compose)
else die "neither 'docker compose' nor 'docker-compose' is installed"; fi

# The runner writes ./results as the invoking user, so results stay the user's files.
export BENCH_UID=${BENCH_UID:-$(id -u)} BENCH_GID=${BENCH_GID:-$(id -g)}
GIT_COMMIT=${GIT_COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}
export GIT_COMMIT
mkdir -p results
tty=(-T); [ -t 0 ] && [ -t 1 ] && tty=()

cleanup() { "${compose[@]}" down --volumes --remove-orphans --timeout 20 >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'echo "docker-bench: interrupted, removing containers" >&2; exit 130' INT TERM

echo "docker-bench: building the image (cached after the first time)" >&2
"${compose[@]}" build consumer >&2
consumers=$("${compose[@]}" run "${tty[@]}" --rm --no-deps bench consumers "$scenario" | tr -d '\r')
echo "docker-bench: starting redis and $consumers consumer agent(s)" >&2
"${compose[@]}" up -d --scale consumer="$consumers" redis consumer >&2
"${compose[@]}" run "${tty[@]}" --rm bench run --results results "$scenario"
