"""A bounded keep-alive HTTP load client for the web benchmarks (when ``wrk`` is not installed, or requests vary).

One thread per connection, for at most ``seconds`` and 2,000 requests per
second of it; each request is made by ``make(i)`` (method, path, body,
headers) so that requests can rotate through links, ids or new records.
An answer whose status is not in ``ok`` counts as a failure.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from bench._timing import median

__all__ = ["Request", "free_port", "run_load", "start_server", "stop_server", "test_database"]

#: (method, path, body or None, headers)
Request = tuple[str, str, bytes | None, dict[str, str]]


def run_load(
    port: int,
    make: Callable[[int], Request],
    connections: int,
    seconds: float,
    ok: Collection[int] = (200,),
) -> dict[str, float]:
    """Requests per second, the median latency (ms) and the failures of ``connections`` clients for ``seconds``."""
    limit = int(seconds * 2000)
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    counter = iter(range(limit))

    def run() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        try:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                method, path, body, headers = make(i)
                start = time.perf_counter()
                try:
                    connection.request(method, path, body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    good = response.status in ok
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    good = False
                mine.append(time.perf_counter() - start)
                if not good:
                    with lock:
                        failures[0] += 1
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    started = time.perf_counter()
    workers = [threading.Thread(target=run) for _ in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return {
        "rps": len(latencies) / elapsed,
        "median_ms": median(latencies) * 1000 if latencies else float("nan"),
        "failures": failures[0],
    }


def test_database(given: str | None) -> tuple[str, bool]:
    """The benchmark's database: ``given``, else ``$CRM_BENCH_POSTGRES_URL``, else ``$CRM_TEST_POSTGRES_URL``
    (``""`` for none); and whether it is PostgreSQL."""
    url = given or os.environ.get("CRM_BENCH_POSTGRES_URL") or os.environ.get("CRM_TEST_POSTGRES_URL")
    return (url, url.startswith(("postgres://", "postgresql://"))) if url else ("", False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(command: Sequence[str], config: Path, port: int) -> subprocess.Popen[bytes]:
    """Start a server process on ``config``; return once ``/healthz`` answers 200 (its log: ``server.log`` beside it)."""
    env = {**os.environ, "CRM_CONFIG": str(config)}
    env.pop("CRM_PLUGINS", None)
    # its log goes to a file: a pipe nobody reads would fill up and stop the server
    log = open(config.parent / "server.log", "wb")
    server = subprocess.Popen(list(command), env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"the server stopped: {(config.parent / 'server.log').read_text(errors='replace')[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError("the server did not answer /healthz within 60 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
