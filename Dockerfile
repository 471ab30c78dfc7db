# syntax=docker/dockerfile:1
# Production image of Domain Shift Lab: `streamlit run app.py` on port 8501, as a non-root user.
#
#   docker build -t domain-shift-lab .
#   docker run --rm -p 8501:8501 domain-shift-lab
#
# Several replicas behind nginx with sticky sessions and one cookie secret: deploy/docker-compose.yml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Dependencies in their own layer, so that a code change does not reinstall torch. requirements.txt
# names compatible ranges and pip takes PyPI's default torch and torchvision builds (with their
# CUDA libraries, which also run without a GPU). Do not switch to a "+cpu" torch wheel from
# download.pytorch.org: PyPI's torchvision then fails to import (operator torchvision::nms does
# not exist). The install is about 5 GB, most of it torch's CUDA libraries. requirements.lock pins
# every package at the versions the test suite passed with (README "Pinned installs").
COPY requirements.txt requirements.lock ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip install -r requirements.txt -c requirements.lock

# An unprivileged user. The code stays owned by root (read-only to the app); only /app/.cache
# and the user's home are writable. /app/.cache/results is the result store (core/talk/result_store.py,
# $DSL_RESULT_STORE): pickled results, so no other user may write there.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
    && mkdir -p /app/.cache/results \
    && chown -R app:app /app/.cache

COPY . .

# Threads. Every browser session runs its script on its own thread inside ONE Python process, so
# torch gets one intra-op thread per process (app.py calls configure_threads(default=1);
# DSL_TORCH_THREADS overrides it) and the OpenMP/BLAS pools are capped at one as well: idle
# OpenMP/BLAS threads spin and steal the cores that other sessions are training on. Scale with
# replicas (one process each), not with threads; see README "Deployment".
ENV DSL_TORCH_THREADS=1 \
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    HOME=/home/app \
    XDG_CACHE_HOME=/app/.cache \
    DSL_RESULT_STORE=/app/.cache/results
# DSL_DEVICE is left unset: cuda when the container sees a GPU (docker run --gpus all), else cpu.

USER app
EXPOSE 8501

# The slim image has no curl: ask Streamlit's health endpoint with the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_stcore/health' % os.environ.get('STREAMLIT_SERVER_PORT', '8501'), timeout=4)"]

# .streamlit/config.toml (copied with the code) sets headless, no file watcher, the upload limit
# and the theme; STREAMLIT_* environment variables override it (STREAMLIT_SERVER_COOKIE_SECRET,
# STREAMLIT_SERVER_PORT, ...). The port is left to them (default 8501): a command-line flag would
# override the variable, and the health check reads it.
CMD ["streamlit", "run", "app.py", "--server.address", "0.0.0.0"]
