"""Start a server process on the loopback interface and wait for its health check: for
the tests that talk to a real server and for the benchmarks (no pytest here)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def started_server(command: list[str], health_url: str, *, seconds: float,
                   **popen_options) -> subprocess.Popen:
    """Start ``command`` and wait until ``health_url`` answers 200; TimeoutError (and the
    process killed) when it does not within ``seconds``."""
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              **popen_options)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(health_url, timeout=2).status == 200:
                return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise TimeoutError(f"{command[0]} did not answer {health_url} within {seconds:g} s")
