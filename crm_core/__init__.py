"""crm_core: the kernel of the CRM framework.

The public API is :class:`CRM` and the errors in :mod:`crm_core.errors`;
plugin authors also use :mod:`crm_core.storage` (``Model``, ``bulk_insert``)
and :mod:`crm_core.testing`.
"""

from crm_core.app import CRM
from crm_core.errors import CRMError

__version__ = "0.1.0"
__all__ = ["CRM", "CRMError", "__version__"]
