"""``crm portal serve``: waitress, in one process or in several sharing one socket.

With ``--workers N`` (Unix) the parent binds the socket and forks N
children; each builds its own app (its own database connections) and
serves the shared socket with waitress. A child that dies is started again
(at most five times a minute, then the server stops); SIGTERM or Ctrl-C
stops them all.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from crm_core.cli.main import CLIState

__all__ = ["run"]

log = logging.getLogger("crm.portal")
#: restarts of dead children allowed per minute before the server gives up
MAX_RESTARTS_PER_MINUTE = 5


def _wsgi_app(crm: Any) -> Any:
    from crm_portal import create_app

    return create_app(crm)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from crm_core.errors import CRMError

        raise CRMError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port or --host"
        ) from None
    sock.listen(1024)
    return sock


def _serve(app: Any, sock: socket.socket, threads: int, url_prefix: str) -> None:
    import waitress

    # waitress warns on every request that waits for a thread: under load that is a line per request,
    # written while the server is busiest; saturation shows in the latency anyway
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    server = waitress.create_server(app, sockets=[sock], threads=threads, url_prefix=url_prefix, ident="crm-portal")
    server.run()


def run(state: CLIState, *, host: str, port: int, threads: int, workers: int, url_prefix: str) -> None:
    url_prefix = ("/" + url_prefix.strip("/")) if url_prefix.strip("/") else ""
    crm = state.crm()
    app = _wsgi_app(crm)  # built now: a bad configuration or plugin page stops here, once
    sock = _listen(host, port)
    address = sock.getsockname()
    shown_host = f"[{address[0]}]" if ":" in address[0] else address[0]
    click.echo(
        f"Serving the portal on http://{shown_host}:{address[1]}{url_prefix}/ "
        f"({workers} worker(s) x {threads} thread(s)); press Ctrl-C to stop",
        err=True,
    )
    if workers == 1:
        try:
            _serve(app, sock, threads, url_prefix)
        except KeyboardInterrupt:
            pass
        finally:
            sock.close()
        return
    if not hasattr(os, "fork"):
        sock.close()
        from crm_core.errors import CRMError

        raise CRMError("--workers needs a Unix system (fork); run one process, or gunicorn behind a proxy")
    config, strict = crm.config, crm.strict
    state.close()  # the children open their own connections: none may be shared across fork
    _supervise(sock, workers, lambda: _child(config, strict, sock, threads, url_prefix))


def _child(config: Any, strict: bool, sock: socket.socket, threads: int, url_prefix: str) -> None:
    from crm_core.app import CRM

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    crm = CRM(config=config, strict=strict)
    try:
        _serve(_wsgi_app(crm), sock, threads, url_prefix)
    finally:
        crm.close()


def _supervise(sock: socket.socket, workers: int, child: Any) -> None:
    children: dict[int, None] = {}
    stopping = False
    restarts: list[float] = []

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                child()
            except BaseException:  # noqa: BLE001 - a child must never return into the parent's code
                log.exception("portal worker %s failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children[pid] = None

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.pop(pid, None)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(workers):
            spawn()
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            children.pop(pid, None)
            if stopping:
                continue
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < 60] + [now]
            code = os.waitstatus_to_exitcode(status)
            if len(restarts) > MAX_RESTARTS_PER_MINUTE:
                click.echo(f"Error: portal workers keep dying (the last with exit code {code}); stopping", err=True)
                stop(signal.SIGTERM, None)
                continue
            click.echo(f"Warning: portal worker {pid} ended with exit code {code}; starting another", err=True)
            spawn()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if not stopping:
        sys.exit(1)
