#!/usr/bin/env bash
# Make this Debian bookworm machine build and run the benchmark image with no
# container registry and no network but the Debian and PyPI mirrors:
#
#   1. install docker.io, docker-compose (v1) and debootstrap if missing
#   2. start dockerd if none answers (--bridge=none --iptables=false)
#   3. make the base image bench-base:bookworm with debootstrap, unless present
#      (rootfs tarball cached at /var/cache/bench/base-bookworm.tar)
#   4. download the wheelhouse wheels/ for the base image's Python
#   5. build huey-priority-bench:latest from it, offline
#
# Idempotent; a second run on the same machine takes seconds. Must run as root.
# .ci/docker-teardown.sh undoes step 2 (and stops the compose project).
#
# Afterwards: `. /var/run/bench-docker/env` (DOCKER_HOST, COMPOSE_FILE for the
# host-network override, REDIS_IMAGE/PYTHON_IMAGE=bench-base:bookworm so that
# nothing is pulled, BENCH_UID/BENCH_GID = the invoking user). Call
# /usr/bin/docker (Debian's client, same release as the daemon) rather than a
# `docker` earlier on PATH. docker-compose (v1) talks to DOCKER_HOST itself;
# give `docker-compose run` -T when stdin may be closed (v1 crashes otherwise).
#
# Knobs (environment): BENCH_BASE_IMAGE, BENCH_IMAGE, BENCH_SUITE,
# BENCH_CACHE_DIR, BENCH_STATE_DIR, BENCH_DEBIAN_MIRROR (default: the mirror
# apt uses here), BENCH_DOCKER_STORAGE_DRIVER (default: dockerd's choice).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BENCH_SUITE=${BENCH_SUITE:-bookworm}
BENCH_BASE_IMAGE=${BENCH_BASE_IMAGE:-bench-base:$BENCH_SUITE}
BENCH_IMAGE=${BENCH_IMAGE:-huey-priority-bench:latest}
BENCH_CACHE_DIR=${BENCH_CACHE_DIR:-/var/cache/bench}
BENCH_STATE_DIR=${BENCH_STATE_DIR:-/var/run/bench-docker}
BASE_PACKAGES=python3,python3-venv,ca-certificates,redis-server
BASE_TARBALL=$BENCH_CACHE_DIR/base-$BENCH_SUITE.tar
DOCKER_SOCKET=/var/run/docker.sock
export DOCKER_HOST=${DOCKER_HOST:-unix://$DOCKER_SOCKET}
DOCKER=/usr/bin/docker

log() { printf '[docker-setup] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

TIMINGS=()
timed() { # timed LABEL command...: run it, record and print how long it took
    local label=$1 t0 t1 dt
    shift
    log "── $label"
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    TIMINGS+=("$(printf '%-30s %7ss' "$label" "$dt")")
    log "   $label: ${dt}s"
}

[ "$(id -u)" -eq 0 ] || die "run as root (installs packages, starts dockerd, runs debootstrap)"
mkdir -p "$BENCH_STATE_DIR" "$BENCH_CACHE_DIR"

# ---- 1. packages ------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install_packages() {
    local missing=() p own_policy=
    for p in docker.io docker-compose debootstrap; do
        installed "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "   already installed: docker.io docker-compose debootstrap"
        return
    fi
    # Keep the packages' init scripts from starting a dockerd of their own
    # (with a docker0 bridge and iptables rules): we start ours below.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    log "   installing: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
}

# ---- 2. dockerd ---------------------------------------------------------------
docker_answers() { "$DOCKER" info >/dev/null 2>&1; }

start_dockerd() {
    if docker_answers; then
        log "   a dockerd already answers on $DOCKER_HOST: using it"
        return
    fi
    case $DOCKER_HOST in
        "unix://$DOCKER_SOCKET") ;;
        *) die "DOCKER_HOST=$DOCKER_HOST does not answer, and this script only starts a daemon on $DOCKER_SOCKET" ;;
    esac
    local pidfile=$BENCH_STATE_DIR/dockerd.pid logfile=$BENCH_STATE_DIR/dockerd.log pid
    local args=(--host="unix://$DOCKER_SOCKET" --pidfile="$pidfile"
                --bridge=none --iptables=false --ip-masq=false)
    [ -z "${BENCH_DOCKER_STORAGE_DRIVER:-}" ] || args+=(--storage-driver="$BENCH_DOCKER_STORAGE_DRIVER")
    log "   dockerd ${args[*]}  (log: $logfile)"
    # setsid + nohup: the daemon outlives this script and its process group.
    setsid nohup /usr/sbin/dockerd "${args[@]}" >"$logfile" 2>&1 </dev/null &
    pid=$!
    for _ in $(seq 1 120); do
        docker_answers && break
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$logfile" >&2
            die "dockerd exited during startup (log above, full log $logfile)"
        fi
        sleep 0.5
    done
    docker_answers || { tail -n 30 "$logfile" >&2; die "dockerd did not answer within 60s"; }
    log "   dockerd pid $pid, storage driver $("$DOCKER" info --format '{{.Driver}}'), cgroup driver $("$DOCKER" info --format '{{.CgroupDriver}}')"
}

# ---- 3. base image ---------------------------------------------------------
debian_mirror() { # the mirror apt is configured with for $BENCH_SUITE
    if [ -n "${BENCH_DEBIAN_MIRROR:-}" ]; then
        echo "$BENCH_DEBIAN_MIRROR"
        return
    fi
    python3 - "$BENCH_SUITE" <<'PY'
import glob, re, sys
suite = sys.argv[1]
def one_line(path):
    for line in open(path, encoding="utf-8", errors="replace"):
        line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb" and line[2] == suite:
            yield line[1]
def deb822(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    for stanza in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1].isspace() and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" in fields.get("types", "").split() and suite in fields.get("suites", "").split():
            yield from fields.get("uris", "").split()
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
found = [u for f in files if glob.os.path.exists(f) for u in one_line(f)]
found += [u for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")) for u in deb822(f)]
if not found:
    sys.exit(f"no 'deb' source for suite {suite} in /etc/apt/sources.list*; set BENCH_DEBIAN_MIRROR")
print(found[0])
PY
}

make_base_tarball() { # debootstrap a minimal rootfs and tar it into $BASE_TARBALL
    local mirror rootfs
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d /var/tmp/bench-rootfs.XXXXXX)
    # shellcheck disable=SC2064
    trap "umount -R '$rootfs/proc' '$rootfs/sys' 2>/dev/null || true; rm -rf '$rootfs'" EXIT
    log "   debootstrap --variant=minbase --include=$BASE_PACKAGES $BENCH_SUITE (apt's mirror)"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$BENCH_SUITE" "$rootfs" "$mirror" \
        >"$BENCH_STATE_DIR/debootstrap.log" 2>&1 \
        || { tail -n 30 "$BENCH_STATE_DIR/debootstrap.log" >&2; die "debootstrap failed (log: $BENCH_STATE_DIR/debootstrap.log)"; }
    # Package caches, lists, man pages, translations and docs (but the
    # copyright files) are dead weight in the image: about 50 MB.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
           "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/* \
           "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    find "$rootfs"/usr/share/doc -type f ! -name copyright -delete
    find "$rootfs"/usr/share/doc -depth -type d -empty -delete
    tar --numeric-owner -C "$rootfs" -cf "$BASE_TARBALL.tmp" .
    mv "$BASE_TARBALL.tmp" "$BASE_TARBALL"
    rm -rf "$rootfs"
    trap - EXIT
}

make_base_image() {
    if "$DOCKER" image inspect "$BENCH_BASE_IMAGE" >/dev/null 2>&1; then
        log "   $BENCH_BASE_IMAGE already present"
        return
    fi
    if [ -s "$BASE_TARBALL" ]; then
        log "   importing cached rootfs $BASE_TARBALL (delete it to debootstrap afresh)"
    else
        make_base_tarball
    fi
    "$DOCKER" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        --message "debootstrap $BENCH_SUITE minbase + $BASE_PACKAGES" \
        "$BASE_TARBALL" "$BENCH_BASE_IMAGE" >/dev/null
    "$DOCKER" run --rm --network none "$BENCH_BASE_IMAGE" sh -c 'python3 --version && redis-server --version' >&2
}

# ---- 4. wheelhouse ---------------------------------------------------------
# Wheels for the *image's* Python, not the host's: requirement markers are
# evaluated with the base image's marker environment (bookworm's python3 is
# 3.11.2, so `async-timeout; python_full_version < "3.11.3"` is needed there
# although a newer host Python skips it) and wheels are picked for its
# interpreter and glibc. Binary wheels only: the image has no compiler.
fill_wheels() {
    local target stamp reqs plats=() p
    mkdir -p wheels
    target=$("$DOCKER" run --rm --network none "$BENCH_BASE_IMAGE" python3 -c '
import json, os, platform, sys
v = sys.version_info
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": "%d.%d.%d" % v[:3],
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": "%d.%d" % v[:2],
    "sys_platform": sys.platform,
    "glibc": os.confstr("CS_GNU_LIBC_VERSION").split()[1],
}, sort_keys=True))')
    stamp=$( { cat requirements.lock; echo "$target"; } | sha256sum | cut -d' ' -f1)
    if [ "$(cat wheels/.bench-stamp 2>/dev/null)" = "$stamp" ] && ls wheels/*.whl >/dev/null 2>&1; then
        log "   wheels/ already matches requirements.lock and $BENCH_BASE_IMAGE"
        return
    fi
    # Requirements whose markers hold on the target, markers stripped; then
    # the --platform tags that its glibc accepts.
    reqs=$(mktemp)
    python3 - "$target" requirements.lock >"$reqs" <<'PY'
import json, sys
from pip._vendor.packaging.requirements import Requirement
env = json.loads(sys.argv[1])
for raw in open(sys.argv[2], encoding="utf-8"):
    line = raw.split("#", 1)[0].strip()
    if not line:
        continue
    if line.startswith("-"):
        sys.exit(f"requirements.lock: options are not supported here: {line}")
    req = Requirement(line)
    if req.marker is None or req.marker.evaluate(env):
        req.marker = None
        print(req)
PY
    read -r pyver machine glibc_minor < <(python3 -c '
import json, sys; t = json.loads(sys.argv[1])
print(t["python_version"], t["platform_machine"], t["glibc"].split(".")[1])' "$target")
    for ((p = glibc_minor; p >= 5; p--)); do plats+=(--platform "manylinux_2_${p}_$machine"); done
    plats+=(--platform "manylinux2014_$machine")
    [ "$machine" != x86_64 ] || plats+=(--platform manylinux2010_x86_64 --platform manylinux1_x86_64)
    log "   pip download for CPython $pyver/$machine, glibc 2.$glibc_minor: $(tr '\n' ' ' <"$reqs")"
    rm -f wheels/*.whl wheels/.bench-stamp
    python3 -m pip download --no-deps --only-binary=:all: --dest wheels \
        --implementation cp --python-version "$pyver" --abi "cp${pyver/./}" "${plats[@]}" \
        -r "$reqs" >"$BENCH_STATE_DIR/pip-download.log" 2>&1 \
        || { tail -n 30 "$BENCH_STATE_DIR/pip-download.log" >&2; die "pip download failed (log: $BENCH_STATE_DIR/pip-download.log)"; }
    rm -f "$reqs"
    echo "$stamp" >wheels/.bench-stamp
    log "   $(find wheels -name '*.whl' | wc -l) wheels, $(du -sh wheels | cut -f1)"
}

# ---- 5. the image ----------------------------------------------------------
build_image() {
    # Legacy builder (no buildx on Debian's 20.10), no network: the wheelhouse
    # has everything, and nothing else is reachable anyway.
    DOCKER_BUILDKIT=0 "$DOCKER" build --network none --pull=false --force-rm \
        --build-arg PYTHON_IMAGE="$BENCH_BASE_IMAGE" \
        --build-arg GIT_COMMIT="$(git rev-parse HEAD 2>/dev/null || true)" -t "$BENCH_IMAGE" . \
        >"$BENCH_STATE_DIR/build.log" 2>&1 \
        || { tail -n 40 "$BENCH_STATE_DIR/build.log" >&2; die "docker build failed (log: $BENCH_STATE_DIR/build.log)"; }
    log "   $BENCH_IMAGE: $("$DOCKER" image inspect "$BENCH_IMAGE" --format '{{.Size}}' | awk '{ printf "%.0f MB", $1 / 1e6 }')"
}

T0=$(date +%s.%N)
timed "packages"              install_packages
timed "dockerd"               start_dockerd
timed "base image"            make_base_image
timed "wheelhouse"            fill_wheels
timed "bench image"           build_image
mkdir -p results

# What the compose files need to run offline on the host network; CI does
# `. /var/run/bench-docker/env`. The runner writes ./results as the invoking
# user (root in CI); the agents and Redis run as the images' own users.
cat >"$BENCH_STATE_DIR/env" <<ENV
export DOCKER_HOST=$DOCKER_HOST
export COMPOSE_FILE=docker-compose.yml:docker-compose.host.yml
export BENCH_IMAGE=$BENCH_IMAGE
export PYTHON_IMAGE=$BENCH_BASE_IMAGE
export REDIS_IMAGE=$BENCH_BASE_IMAGE
export BENCH_UID=${SUDO_UID:-$(id -u)}
export BENCH_GID=${SUDO_GID:-$(id -g)}
ENV
log "── done in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
printf '%s\n' "${TIMINGS[@]}" >&2
log "then: . $BENCH_STATE_DIR/env; docker-compose up -d ...; docker-compose run -T --rm bench ...; /usr/bin/docker ..."
