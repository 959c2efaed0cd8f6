"""Entry module of the contacts plugin: hook implementations only.

``crm --help`` imports this module, so it imports nothing heavy at the top:
each hook imports what it needs when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_hookspecs import hookimpl
from crm_hookspecs.commands import CommandSpec

if TYPE_CHECKING:
    from crm_hookspecs.records import PluginSchema


@hookimpl
def crm_schema() -> PluginSchema:
    from crm_contacts.models import MODELS
    from crm_hookspecs.records import PluginSchema

    return PluginSchema(migrations=Path(__file__).parent / "migrations", models=MODELS)


@hookimpl
def crm_config_section() -> type:
    from crm_contacts.settings import ContactsSettings

    return ContactsSettings


@hookimpl
def crm_plugin_api(crm: Any) -> Any:
    from crm_contacts.api import ContactsAPI

    return ContactsAPI(crm)


@hookimpl
def crm_cli_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            "contacts", "crm_contacts.cli:contacts", "Address book: contacts, imports, lists, duplicates, GDPR."
        )
    ]


@hookimpl
def crm_demo_data(crm: Any) -> list[str]:
    from crm_contacts.demo import load_demo

    return load_demo(crm)


@hookimpl
def crm_export_personal_data(crm: Any, contact_id: int) -> dict[str, Any] | None:
    from crm_contacts import personal

    return personal.export(crm, contact_id)


@hookimpl
def crm_erase_personal_data(crm: Any, contact_id: int) -> int | None:
    from crm_contacts import personal

    return personal.erase(crm, contact_id)


@hookimpl
def crm_personal_values(crm: Any, contact_id: int) -> list[str]:
    from crm_contacts import personal

    return personal.values(crm, contact_id)


@hookimpl
def crm_permissions() -> list[Any]:
    from crm_contacts.permissions import PERMISSIONS

    return list(PERMISSIONS)


@hookimpl
def crm_api_resources(crm: Any) -> list[Any]:
    from crm_contacts.rest import resources

    return resources(crm)


@hookimpl
def crm_worker_jobs(crm: Any) -> list[Any]:
    import datetime as dt

    from crm_hookspecs.records import JobSpec

    def run(app: Any, scheduled_at: Any) -> str:
        ran = app.plugin("contacts").run_imports()
        return f"{ran} import(s) run" if ran else "no import queued"

    return [JobSpec("contacts.imports", run, interval=dt.timedelta(seconds=10))]


@hookimpl
def crm_desk_pages(crm: Any) -> Any:
    from crm_contacts import desk  # no Flask here: the desk calls desk's blueprint when it builds its app

    return desk.pages(crm)


@hookimpl
def crm_desk_search(crm: Any, query: str, limit: int) -> Any:
    from crm_contacts import desk_search  # no Flask: results name the card's endpoint

    return desk_search.search(crm, query, limit)
