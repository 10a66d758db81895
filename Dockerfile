# Image of the huey priority benchmark: `python -m bench {agent,run,validate,analyze}`.
#
#   docker build -t huey-priority-bench .
#       official python:3.12-slim base; dependencies from wheels/ if it holds
#       any *.whl, else from the package index.
#   docker build --network none --build-arg PYTHON_IMAGE=bench-base:bookworm -t huey-priority-bench .
#       what CI does (.ci/docker-setup.sh): a debootstrap-made Debian base
#       (python3 + python3-venv, no pip outside a venv, no `python` alias) and
#       a wheelhouse downloaded for that base's Python, fully offline.
#
# Works on both bases: everything runs from a venv made with `python3 -m venv`.
# wheels/ must match PYTHON_IMAGE's Python (cp311 wheels for bookworm's 3.11.2,
# cp312 for python:3.12-slim); when it holds wheels, the build never uses the
# network and fails if one is missing.
ARG PYTHON_IMAGE=python:3.12-slim

# ---- stage 1: the venv, built where the wheelhouse is; the wheels stay here --
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
# `wheel[s]` is a glob: it copies the *contents* of wheels/ when that folder
# exists and silently matches nothing when it does not, so the build needs
# neither wheels/.gitkeep nor any wheel.
COPY requirements.lock wheel[s] /tmp/deps/
RUN set -eu; \
    python3 -m venv /opt/venv; \
    if ls /tmp/deps/*.whl >/dev/null 2>&1; then \
        echo "installing from the wheelhouse, offline"; \
        /opt/venv/bin/pip install --no-index --find-links /tmp/deps -r /tmp/deps/requirements.lock \
        || { echo "wheels/ lacks a wheel for this image's $(python3 -V): refill it for this" \
                  "Python (.ci/docker-setup.sh does it for its base image), or empty it" \
                  "(rm wheels/*.whl) to install from the package index" >&2; exit 1; }; \
    else \
        echo "no wheelhouse: installing from the package index"; \
        /opt/venv/bin/pip install -r /tmp/deps/requirements.lock; \
    fi; \
    /opt/venv/bin/pip check; \
    rm -rf /tmp/deps

# ---- stage 2: runtime ---------------------------------------------------------
FROM ${PYTHON_IMAGE}
# PATH is spelled out in full: an image made by `docker import` may define no
# PATH at all, and `$PATH` would then expand to nothing.
ENV BENCH_SHARED_DIR=/shared \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# /shared: where the runner puts a sqlite backend's database for the consumers (a volume
# in docker-compose.yml); sticky and world-writable, since the runner may be another user.
RUN groupadd --gid 1000 bench \
 && useradd --uid 1000 --gid 1000 --create-home --shell /bin/bash bench \
 && mkdir -p /app/results \
 && chown bench:bench /app/results \
 && mkdir -m 1777 /shared
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
# The project is not pip-installed: PYTHONPATH=/app makes `bench` importable
# from any working directory, on any Python version, with no build backend
# and no network (setuptools is pinned only for Python < 3.13).
COPY pyproject.toml ./
COPY bench/ ./bench/
COPY scenarios/ ./scenarios/
USER bench
# Recorded in result.json (the image has no .git to ask); last, so a new commit
# rebuilds only this layer.
ARG GIT_COMMIT=
ENV BENCH_GIT_COMMIT=${GIT_COMMIT}
# The agent finishes its current run and exits cleanly on SIGINT.
STOPSIGNAL SIGINT
ENTRYPOINT ["python", "-m", "bench"]
CMD ["--help"]
