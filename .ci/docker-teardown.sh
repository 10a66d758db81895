#!/usr/bin/env bash
# Undo what .ci/docker-setup.sh left running: remove the compose project's
# containers (services and `run` one-offs), then stop the dockerd that the
# setup script started (recognised by its pidfile; a dockerd started by
# anything else is left alone). Images and the rootfs cache are kept, so the
# next setup takes seconds. Idempotent: nothing running is not an error.
#
# The compose project is the one docker-compose would pick here: name from
# COMPOSE_PROJECT_NAME (default: this checkout's folder name), files from
# COMPOSE_FILE (default: docker-compose.yml:docker-compose.host.yml).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BENCH_STATE_DIR=${BENCH_STATE_DIR:-/var/run/bench-docker}
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
export COMPOSE_FILE=${COMPOSE_FILE:-docker-compose.yml:docker-compose.host.yml}
DOCKER=/usr/bin/docker
PIDFILE=$BENCH_STATE_DIR/dockerd.pid
rc=0

log() { printf '[docker-teardown] %s\n' "$*" >&2; }

if [ -x "$DOCKER" ] && "$DOCKER" info >/dev/null 2>&1; then
    if command -v docker-compose >/dev/null; then
        log "docker-compose down (project ${COMPOSE_PROJECT_NAME:-$(basename "$PWD")})"
        docker-compose down --remove-orphans --timeout 20 \
            || { log "docker-compose down failed: removing the containers by label"; rc=1; }
    fi
    # Whatever of the project is still there (one-off `run` containers of an
    # interrupted job, or containers of files not in COMPOSE_FILE).
    project=${COMPOSE_PROJECT_NAME:-$(basename "$PWD")}
    project=$(printf '%s' "$project" | tr '[:upper:]' '[:lower:]' | tr -cd 'a-z0-9_-')
    leftovers=$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$project")
    if [ -n "$leftovers" ]; then
        # shellcheck disable=SC2086
        log "removing leftover containers: $(printf '%s ' $leftovers)"
        # shellcheck disable=SC2086
        "$DOCKER" rm -f $leftovers >/dev/null
    fi
else
    log "no dockerd answers on $DOCKER_HOST: no containers to remove"
fi

if [ -s "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
        log "stopping dockerd pid $pid"
        kill -TERM "$pid"
        for _ in $(seq 1 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "dockerd pid $pid still running after 30s: SIGKILL"
            kill -KILL "$pid"
        fi
    else
        log "stale pidfile $PIDFILE (pid $pid is not dockerd)"
    fi
    rm -f "$PIDFILE"
    # dockerd leaves its default network namespace mounted.
    ! mountpoint -q /run/docker/netns/default || umount /run/docker/netns/default
else
    log "no dockerd started by docker-setup.sh ($PIDFILE absent)"
fi
log "done"
exit $rc
