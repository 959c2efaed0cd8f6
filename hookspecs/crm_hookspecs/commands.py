"""The record of a CLI command a plugin contributes (``crm_cli_commands``, contract 1.4.0).

``crm --help`` imports every enabled plugin's entry module and calls its
``crm_cli_commands``, so what that hook returns lives in a module that
imports nothing but attrs: import ``CommandSpec`` from here in an entry
module (``crm_hookspecs.records`` re-exports it, but importing that module
defines every record of the contract, tens of milliseconds at start-up).
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["CommandSpec"]


@attrs.frozen
class CommandSpec:
    """A CLI command contributed by ``crm_cli_commands``.

    ``target`` is ``"package.module:attribute"`` naming a click command or
    group; the module is imported only when the command runs, so ``crm
    --help`` stays fast. ``help`` is the one line shown by ``crm --help``.
    """

    name: str
    target: str = attrs.field()
    help: str = ""

    @target.validator
    def _check_target(self, attribute: attrs.Attribute[Any], value: str) -> None:
        module, _, attr = value.partition(":")
        if not module or not attr:
            raise ValueError(f"CommandSpec {self.name!r}: target {value!r} must look like 'package.module:attribute'")
