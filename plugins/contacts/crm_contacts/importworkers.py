"""Worker processes that validate import rows, and that never outlive the import.

Each worker is a fresh interpreter (``spawn``: no forkserver, and no
resource tracker, since only pipes are shared) that reads batches from a
pipe whose other end only the importing process holds. When that process
ends in any way (an exception, SIGINT, SIGTERM or SIGKILL) the pipe closes
and the worker's next read or write fails, and it exits; on Linux the
kernel also kills it at once (``PR_SET_PDEATHSIG``). Ctrl-C reaches the
importing process alone (the workers ignore SIGINT), which then closes the
pipes and reaps the workers.

Batches go round-robin, one outstanding batch per worker, so the results
come back in file order and neither side can block the other.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from typing import Any, Callable, Iterator, Sequence

__all__ = ["ValidationPool"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGKILL this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the closed pipe still ends the worker
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _work(connection: Any, parent: int, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importing process's to handle
    _die_with_parent(parent)
    try:
        while True:
            batch = connection.recv()
            if batch is None:
                return
            connection.send(function(batch, *args))
    except (EOFError, OSError):  # the importing process is gone
        return


class ValidationPool:
    """``jobs`` worker processes running ``function(batch, *args)``; use as a context manager."""

    def __init__(self, jobs: int, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        context = multiprocessing.get_context("spawn")
        self._connections: list[Any] = []
        self._processes: list[Any] = []
        try:
            for number in range(jobs):
                mine, theirs = context.Pipe(duplex=True)
                process = context.Process(
                    target=_work, args=(theirs, os.getpid(), function, args), name=f"crm-import-{number + 1}", daemon=True
                )
                process.start()
                theirs.close()
                self._connections.append(mine)
                self._processes.append(process)
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    def map(self, batches: Iterator[Sequence[Any]], waited: Callable[[float], None] | None = None) -> Iterator[tuple[Sequence[Any], Any]]:
        """``(batch, result)`` for each batch, in order; ``waited(seconds)`` is told how long results took."""
        pending: deque[tuple[int, Sequence[Any]]] = deque()
        jobs = len(self._connections)
        turn = 0
        for batch in batches:
            if len(pending) == jobs:
                yield self._receive(*pending.popleft(), waited)
            self._connections[turn].send(batch)
            pending.append((turn, batch))
            turn = (turn + 1) % jobs
        while pending:
            yield self._receive(*pending.popleft(), waited)

    def _receive(self, turn: int, batch: Sequence[Any], waited: Callable[[float], None] | None) -> tuple[Sequence[Any], Any]:
        start = time.perf_counter()
        try:
            result = self._connections[turn].recv()
        except (EOFError, OSError):
            process = self._processes[turn]
            process.join(1)
            raise RuntimeError(f"import worker {process.name} ended unexpectedly (exit code {process.exitcode})") from None
        if waited is not None:
            waited(time.perf_counter() - start)
        return batch, result

    def close(self) -> None:
        """Stop the workers and wait for them: asked first, then terminated, then killed."""
        for connection in self._connections:
            try:
                connection.send(None)
            except (OSError, ValueError):
                pass
            connection.close()
        for process in self._processes:
            process.join(2)
            if process.is_alive():
                process.terminate()
                process.join(2)
            if process.is_alive():
                process.kill()
                process.join()
        self._connections = []
        self._processes = []

    def __enter__(self) -> ValidationPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
