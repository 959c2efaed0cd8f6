"""The CRM plugin contract.

Everything a plugin needs to talk to the kernel and to other plugins lives
here: the pluggy markers, the hook specifications (:mod:`crm_hookspecs.specs`),
the event types (:mod:`crm_hookspecs.events`) and the records that cross plugin
boundaries (:mod:`crm_hookspecs.records`).

``CONTRACT_VERSION`` is this contract's semantic version; a plugin states the
range it supports through its ``Requires-Dist`` on ``crm-hookspecs``.
"""

from crm_hookspecs._markers import PROJECT_NAME, hookimpl, hookspec

CONTRACT_VERSION = "1.4.0"

__all__ = ["CONTRACT_VERSION", "PROJECT_NAME", "hookimpl", "hookspec"]
