"""A bounded keep-alive HTTP load client for the web benchmarks (when ``wrk`` is not installed, or requests vary).

One thread per connection, for at most ``seconds`` and 2,000 requests per
second of it; each request is made by ``make(i)`` (method, path, body,
headers) so that requests can rotate through links, ids or new records.
An answer whose status is not in ``ok`` counts as a failure.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Collection

from bench._timing import median

__all__ = ["Request", "run_load"]

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
