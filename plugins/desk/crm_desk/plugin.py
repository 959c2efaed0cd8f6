"""Entry module of the desk plugin: hook implementations only.

``crm --help`` imports this module, so it imports nothing heavy at the top:
Flask, Jinja2 and Babel are imported when the desk's app is built.
"""

from __future__ import annotations

from typing import Any

from crm_hookspecs import hookimpl
from crm_hookspecs.commands import CommandSpec


@hookimpl
def crm_config_section() -> type:
    from crm_desk.settings import DeskSettings

    return DeskSettings


@hookimpl
def crm_cli_commands() -> list[CommandSpec]:
    return [CommandSpec("desk", "crm_desk.cli:desk", "Staff web app: serve the desk.")]


@hookimpl
def crm_demo_data(crm: Any) -> list[str]:
    from crm_desk.demo import load_demo

    return load_demo(crm)
