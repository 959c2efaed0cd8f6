"""crm_core: the kernel of the CRM framework.

The public API is :class:`CRM` and the errors in :mod:`crm_core.errors`;
plugin authors also use :mod:`crm_core.storage` (``Model``, ``bulk_insert``)
and :mod:`crm_core.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_core.errors import CRMError

if TYPE_CHECKING:
    from crm_core.app import CRM

__version__ = "0.1.0"
__all__ = ["CRM", "CRMError", "__version__"]


def __getattr__(name: str) -> Any:
    # CRM is imported on first use: the app pulls in peewee and the storage
    # layer, which `crm --help` (and every import of a submodule such as
    # crm_core.cli.main or crm_core.errors) does not need.
    if name == "CRM":
        from crm_core.app import CRM

        return CRM
    raise AttributeError(f"module 'crm_core' has no attribute {name!r}")
