"""The entry module's declarations: schema, settings, commands, API object; and its import cost."""

from __future__ import annotations

import subprocess
import sys

import attrs
import click

import crm_warehouse.plugin as warehouse_plugin
from crm_hookspecs.apis import WarehouseAPI
from crm_hookspecs.records import PluginSchema
from crm_warehouse.settings import WarehouseSettings


def test_crm_schema_declares_only_warehouse_tables():
    schema = warehouse_plugin.crm_schema()
    assert isinstance(schema, PluginSchema)
    assert (schema.migrations / "0001_initial.py").is_file()
    names = {model._meta.table_name for model in schema.models}
    assert names and all(name.startswith("warehouse_") for name in names)


def test_migrate_creates_every_declared_table(warehouse_app):
    app = warehouse_app()
    tables = set(app.database.get_tables())
    assert {model._meta.table_name for model in warehouse_plugin.crm_schema().models} <= tables


def test_crm_config_section_is_the_settings_class():
    cls = warehouse_plugin.crm_config_section()
    assert cls is WarehouseSettings and attrs.has(cls)
    assert cls().pipeline.first_stage == "new"


def test_crm_cli_commands_point_at_click_groups():
    import importlib

    specs = {spec.name: spec for spec in warehouse_plugin.crm_cli_commands()}
    assert set(specs) == {"sales", "warehouse"}
    for spec in specs.values():
        module, _, attr = spec.target.partition(":")
        assert isinstance(getattr(importlib.import_module(module), attr), click.Group)


def test_crm_plugin_api_implements_the_contract(warehouse_app):
    app = warehouse_app()
    api = warehouse_plugin.crm_plugin_api(app)
    assert isinstance(api, WarehouseAPI)
    assert app.plugin("warehouse") is app.plugin("warehouse")  # cached by the app


def test_the_entry_module_is_cheap_to_import():
    """``crm --help`` imports it: no peewee, no models, no currency table."""
    code = (
        "import sys, crm_warehouse.plugin; "
        "print(','.join(m for m in ('peewee', 'crm_warehouse.models', 'iso4217', 'cattrs', 'crm_core.app') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
