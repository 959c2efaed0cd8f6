"""The kernel's services depend on the app context, not on the app (issue 14 point 9).

``crm_core.app`` is the composition root: it builds the event bus, the mail
queue, the permission checks, the worker's jobs, the migrations, the erasure
and the storage routing, typed against :class:`crm_core.context.AppContext`
(or a Protocol extending it with the services they are given). None of those modules may
import ``crm_core.app`` (or ``CRM`` from ``crm_core``), at run time or under
``TYPE_CHECKING``, so the import circle among them stays gone. Read from the
source with ``ast``; a second test drives two services with an object that
is an ``AppContext`` but no ``CRM``.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from crm_core import storage

KERNEL = Path(__file__).resolve().parent.parent / "crm_core"
#: the services below the composition root, as paths inside crm_core
SERVICES = [
    "context.py",
    "events.py",
    "jobs.py",
    "schema.py",
    "storage.py",
    "drift.py",
    "signing.py",
    "privacy.py",
    *sorted(
        p.relative_to(KERNEL).as_posix()
        for folder in ("mail", "worker", "auth")
        for p in (KERNEL / folder).glob("*.py")
    ),
]


def app_imports(source: str, module: str) -> list[str]:
    """Each import of the app in ``source`` (the module ``module``, dotted), as ``line: statement``."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import: resolve it against the module's package
                parts = package.split(".")
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        if any(name == "crm_core.app" or name.startswith("crm_core.app.") or name == "crm_core.CRM" for name in names):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", SERVICES)
def test_no_service_imports_the_app(path):
    file = KERNEL / path
    module = "crm_core." + path.removesuffix(".py").replace("/", ".")
    found = app_imports(file.read_text(encoding="utf-8"), module)
    assert not found, (
        f"crm_core/{path} imports the app ({'; '.join(found)}): type it against crm_core.context.AppContext "
        "and let crm_core.app pass what it needs"
    )


@pytest.mark.parametrize(
    "source",
    [
        "from crm_core.app import CRM",
        "import crm_core.app",
        "from crm_core import app",
        "from crm_core import CRM",
        "from ..app import CRM",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from crm_core.app import CRM",
    ],
)
def test_the_check_finds_every_form_of_the_import(source):
    assert app_imports(source, "crm_core.mail.mailer")


def test_the_check_lets_other_imports_pass():
    source = "from crm_core.context import AppContext\nfrom crm_core import storage\nfrom .models import MailMessage"
    assert app_imports(source, "crm_core.mail.mailer") == []


def test_the_service_list_names_real_files():
    assert all((KERNEL / path).is_file() for path in SERVICES)
    assert {"mail/delivery.py", "worker/runner.py", "auth/authz.py"} <= set(SERVICES)


@attrs.define
class BareContext:
    """An AppContext that is no CRM: the database, clock and hooks of an app, nothing else."""

    database: Any
    clock: Any
    hooks: Any
    config: Any
    tz: dt.tzinfo = dt.UTC
    log: logging.Logger = logging.getLogger("crm.test.bare")
    closed: bool = False

    def activate(self) -> contextlib.AbstractContextManager[Any]:
        return storage.activate(self)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[BareContext]:
        with self.activate(), self.database.atomic():
            yield self


def test_services_run_with_a_bare_app_context(crm):
    from crm_core import schema
    from crm_core.clock import FakeClock
    from crm_core.events import EventBus
    from crm_core.jobs import forget, run_once
    from crm_hookspecs.events import ContactCreated

    crm.migrate()
    clock = FakeClock(dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC))
    context = BareContext(crm.database, clock, crm.hooks, crm.config)

    assert schema.pending(context) == []
    assert run_once(context, "bare:1") is True
    assert run_once(context, "bare:1") is False
    assert forget(context, "bare:1") is True

    bus = EventBus(context, actor=lambda: "ana")
    bus.delivery = "worker"  # nothing handles it here
    with context.transaction():
        bus.emit(ContactCreated(contact_id=7))
    logged = [e.event for e in bus.read(types=["ContactCreated"])]
    assert [(e.contact_id, e.actor, e.channel, e.occurred_at) for e in logged] == [(7, "ana", "staff", clock.now())]
