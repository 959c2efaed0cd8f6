"""Serving a web app of the CRM (``crm api serve``, ``crm portal serve``): waitress, in one process or several.

With ``--workers N`` (Unix) the parent binds the socket and forks N
children; each builds its own app (its own database connections) and
serves the shared socket with waitress. A child that dies is started again
(at most five times a minute, then the server stops); SIGTERM or Ctrl-C
stops them all. :func:`serve_options` gives a ``serve`` command its options.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_core.cli.main import CLIState

__all__ = ["run", "serve_options"]

log = logging.getLogger("crm.serving")
_F = TypeVar("_F", bound=Callable[..., Any])
#: builds the WSGI app for an app object
AppFactory = Callable[["CRM"], Any]
#: restarts of dead children allowed per minute before the server gives up
MAX_RESTARTS_PER_MINUTE = 5


def serve_options(default_port: int) -> Callable[[_F], _F]:
    """The options every ``serve`` command takes: ``--host --port --threads --workers --url-prefix``."""

    def decorate(command: _F) -> _F:
        options = [
            click.option(
                "--host",
                default="127.0.0.1",
                show_default=True,
                help="Address to listen on (0.0.0.0: every interface).",
            ),
            click.option(
                "--port",
                default=default_port,
                show_default=True,
                type=click.IntRange(0, 65535),
                help="TCP port (0: any free port).",
            ),
            click.option(
                "--threads",
                default=8,
                show_default=True,
                type=click.IntRange(1, 256),
                help="Threads per worker process.",
            ),
            click.option(
                "--workers",
                default=1,
                show_default=True,
                type=click.IntRange(1, 64),
                help="Worker processes sharing the port (Unix).",
            ),
            click.option("--url-prefix", default="", help="Serve under this path, as behind a proxy that forwards it."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


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


def _serve(app: Any, sock: socket.socket, threads: int, url_prefix: str, ident: str) -> None:
    import waitress

    # waitress warns on every request that waits for a thread: under load that is a line per request,
    # written while the server is busiest; saturation shows in the latency anyway
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    server = waitress.create_server(app, sockets=[sock], threads=threads, url_prefix=url_prefix, ident=f"crm-{ident}")
    server.run()


def run(
    state: CLIState,
    factory: AppFactory,
    *,
    name: str,
    host: str,
    port: int,
    threads: int,
    workers: int,
    url_prefix: str,
    path: str = "/",
) -> None:
    """Serve ``factory(crm)`` until stopped.

    ``name`` is what the messages call it ("the portal", "the API") and
    ``path`` the path shown after the address.
    """
    url_prefix = ("/" + url_prefix.strip("/")) if url_prefix.strip("/") else ""
    crm = state.crm()
    app = factory(crm)  # built now: a bad configuration or plugin resource stops here, once
    sock = _listen(host, port)
    address = sock.getsockname()
    shown_host = f"[{address[0]}]" if ":" in address[0] else address[0]
    click.echo(
        f"Serving {name} on http://{shown_host}:{address[1]}{url_prefix}{path} "
        f"({workers} worker(s) x {threads} thread(s)); press Ctrl-C to stop",
        err=True,
    )
    if workers == 1:
        try:
            _serve(app, sock, threads, url_prefix, _ident(name))
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
    _supervise(sock, workers, name, lambda: _child(factory, name, config, strict, sock, threads, url_prefix))


def _ident(name: str) -> str:
    return name.split()[-1].lower()


def _child(
    factory: AppFactory, name: str, config: Any, strict: bool, sock: socket.socket, threads: int, url_prefix: str
) -> None:
    from crm_core.app import CRM

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    crm = CRM(config=config, strict=strict)
    try:
        _serve(factory(crm), sock, threads, url_prefix, _ident(name))
    finally:
        crm.close()


def _supervise(sock: socket.socket, workers: int, name: str, child: Any) -> None:
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
                log.exception("%s: worker %s failed", name, os.getpid())
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
                click.echo(
                    f"Error: the workers of {name} keep dying (the last with exit code {code}); stopping", err=True
                )
                stop(signal.SIGTERM, None)
                continue
            click.echo(f"Warning: a worker of {name} ({pid}) ended with exit code {code}; starting another", err=True)
            spawn()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if not stopping:
        sys.exit(1)
