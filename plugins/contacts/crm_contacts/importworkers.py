"""Worker processes that validate import rows, and that never outlive the import.

Each worker is a plain child interpreter (``python -m
crm_contacts.importworkers``) that reads pickled batches on its standard
input and writes the results on its standard output: no forkserver and no
resource tracker, nothing but two pipes whose other ends only the importing
process holds. When that process ends in any way (an exception, SIGINT,
SIGTERM or SIGKILL) the worker's next read or write fails and it exits; on
Linux the kernel also kills it at once (``PR_SET_PDEATHSIG``). Ctrl-C
reaches the importing process alone (the workers ignore SIGINT), which then
closes the pipes and reaps the workers.

Batches go round-robin, one outstanding batch per worker, so the results
come back in file order and neither side can block the other.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from crm_core.memory import collector_paused

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


def _serve() -> None:
    """The worker's loop: ``(function, args)`` first, then a batch per message until EOF or ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importing process's to handle
    _die_with_parent(int(sys.argv[1]))
    requests = os.fdopen(0, "rb")
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to standard error, not into the results
    try:
        function, args = pickle.load(requests)
        # the collector would walk each batch's rows for nothing: a sixth of a worker's time
        with collector_paused() as tidy:
            while True:
                batch = pickle.load(requests)
                if batch is None:
                    return
                pickle.dump(function(batch, *args), results, protocol=pickle.HIGHEST_PROTOCOL)
                results.flush()
                tidy()
    except (EOFError, OSError):  # the importing process is gone
        return


class ValidationPool:
    """``jobs`` worker processes running ``function(batch, *args)``; use as a context manager."""

    def __init__(self, jobs: int, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._processes: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(jobs):
                process = subprocess.Popen(
                    [sys.executable, "-m", "crm_contacts.importworkers", str(os.getpid())],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    close_fds=True,
                )
                self._processes.append(process)
                self._send(process, (function, args))
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes]

    @staticmethod
    def _send(process: subprocess.Popen[bytes], message: Any) -> None:
        stream: IO[bytes] = process.stdin  # type: ignore[assignment]
        pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
        stream.flush()

    def map(
        self, batches: Iterator[Sequence[Any]], waited: Callable[[float], None] | None = None
    ) -> Iterator[tuple[Sequence[Any], Any]]:
        """``(batch, result)`` for each batch, in order; ``waited(seconds)`` is told how long results took."""
        pending: deque[tuple[int, Sequence[Any]]] = deque()
        jobs = len(self._processes)
        turn = 0
        for batch in batches:
            if len(pending) == jobs:
                yield self._receive(*pending.popleft(), waited)
            try:
                self._send(self._processes[turn], batch)
            except OSError:
                raise self._died(turn) from None
            pending.append((turn, batch))
            turn = (turn + 1) % jobs
        while pending:
            yield self._receive(*pending.popleft(), waited)

    def _died(self, turn: int) -> RuntimeError:
        process = self._processes[turn]
        try:
            code = process.wait(2)
        except subprocess.TimeoutExpired:
            code = None
        return RuntimeError(f"an import worker (process {process.pid}) ended unexpectedly (exit code {code})")

    def _receive(
        self, turn: int, batch: Sequence[Any], waited: Callable[[float], None] | None
    ) -> tuple[Sequence[Any], Any]:
        start = time.perf_counter()
        try:
            result = pickle.load(self._processes[turn].stdout)  # type: ignore[arg-type]
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self._died(turn) from None
        if waited is not None:
            waited(time.perf_counter() - start)
        return batch, result

    def close(self) -> None:
        """Stop the workers and wait for them: asked first, then terminated, then killed."""
        for process in self._processes:
            try:
                self._send(process, None)
            except (OSError, ValueError):
                pass
            for stream in (process.stdin, process.stdout):
                try:
                    stream.close()  # type: ignore[union-attr]
                except OSError:
                    pass
        for process in self._processes:
            try:
                process.wait(2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes = []

    def __enter__(self) -> ValidationPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    _serve()
