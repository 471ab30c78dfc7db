"""The app served for benchmarks and browser tests: ``streamlit run`` on a free loopback port.

Standard library only, so the browser tests' conftest can use it without importing torch.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The browser that drives the app, in the browser tests and benchmarks/bench_browser.py alike: Debian's Chromium
# (``DSL_CHROMIUM`` names another binary), started without anything that reaches the network.
CHROMIUM = os.environ.get("DSL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1500, "height": 3200}  # tall: whole pages fit, every chart mounts without scrolling


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen | None, limit: float = 120.0, log: Path | None = None) -> None:
    """Wait until ``/_stcore/health`` answers; RuntimeError when the server exits or ``limit`` passes."""
    see = f"; see {log}" if log else ""
    deadline = time.monotonic() + limit
    while True:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {server.returncode}{see}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} was not healthy within {limit:g} s{see}")
        time.sleep(0.3)


@contextlib.contextmanager
def served_app(log: Path, script: str = "app.py", cwd: Path = ROOT, options: tuple[str, ...] = (),
               env: dict[str, str] | None = None, limit: float = 120.0) -> Iterator[tuple[str, int]]:
    """Run ``streamlit run <script>`` in ``cwd`` (whose ``.streamlit/config.toml`` applies) with config
    ``options`` ("runner.postScriptGC=false") and extra environment ``env``; its output goes to ``log``.
    Yields its URL and pid once it is healthy, then stops it."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]
    for option in options:
        key, _, value = option.partition("=")
        command += [f"--{key}", value]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as output:
        server = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
                                  env={**os.environ, **(env or {})})
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, server, limit, log)
            yield url, server.pid
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=20)
