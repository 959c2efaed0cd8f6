"""The app context: what the kernel's services need of the app, and nothing more.

The event bus, the mail queue, the job claims, the migrations, the schema
drift check and the storage routing are services of an app. They are built by
the app (:class:`crm_core.CRM`, the composition root at the top of the
kernel) and typed against :class:`AppContext`, a Protocol, instead of the
whole ``CRM`` class: so they can be read, tested and reused without it, and no
module below ``crm_core.app`` imports it (``tests/test_kernel_imports.py``
holds that)::

    crm_core.app  ──builds──▶  EventBus(context), Mailer(context, events=...), Worker(...)
         │                          │
         └──── is an AppContext ◀───┘  (database, clock, hooks, log, config, tz, activate)

A service that needs another service gets it in its constructor (the mailer
gets the event bus) rather than through the app.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import peewee

    from crm_core.clock import Clock
    from crm_core.config import Config
    from crm_core.hooks import Hooks

__all__ = ["AppContext"]


class AppContext(Protocol):
    """The narrow view of an app that the kernel's services are built with.

    ``crm_core.CRM`` is one; a test may pass any object with these members.
    """

    @property
    def database(self) -> peewee.Database:
        """The app's own database (not the routing proxy ``storage.db``)."""
        ...

    @property
    def clock(self) -> Clock:
        """Where "now" comes from (a ``FakeClock`` in tests)."""
        ...

    @property
    def hooks(self) -> Hooks:
        """The enabled plugins' hook implementations, called in load order."""
        ...

    @property
    def log(self) -> logging.Logger:
        """The app's logger, ``crm.app.<name>``."""
        ...

    @property
    def config(self) -> Config:
        """The validated configuration (``config.core`` is the ``[crm]`` table)."""
        ...

    @property
    def tz(self) -> dt.tzinfo:
        """The configured time zone (``[crm] timezone``)."""
        ...

    @property
    def closed(self) -> bool:
        """Whether the app was closed; a closed app's database may not be used."""
        ...

    def activate(self) -> contextlib.AbstractContextManager[Any]:
        """Route model queries in the block (this thread/task) to this app's database."""
        ...

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        """A write transaction on this app's database, activated (nested calls make savepoints)."""
        ...
