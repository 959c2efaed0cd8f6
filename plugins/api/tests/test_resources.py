"""``crm_api_resources``: plugins contribute resources; clashes and bad returns are the plugin's error."""

from __future__ import annotations

import pytest

from crm_core.errors import PluginError
from crm_hookspecs.records import ApiOperation, ApiResource


def _op(path="/things", operation_id="things.list", method="GET"):
    return ApiOperation(method, path, lambda crm, request: {"ok": True}, operation_id)


def test_two_plugins_on_one_path_are_named(crm_factory, crm_plugin):
    from crm_api import create_app

    first = crm_plugin(
        "alpha", crm_api_resources=lambda crm: [ApiResource("alpha", operations=[_op(operation_id="alpha.list")])]
    )
    second = crm_plugin(
        "beta", crm_api_resources=lambda crm: [ApiResource("beta", operations=[_op(operation_id="beta.list")])]
    )
    crm = crm_factory(plugins=["api", first, second])
    with pytest.raises(
        PluginError, match=r"'beta.list' of plugin 'beta' and 'alpha.list' of plugin 'alpha' both serve GET /things"
    ):
        create_app(crm)


def test_one_operation_id_twice_is_named(crm_factory, crm_plugin):
    from crm_api import create_app

    first = crm_plugin(
        "alpha", crm_api_resources=lambda crm: [ApiResource("alpha", operations=[_op("/a", "shared.op")])]
    )
    second = crm_plugin(
        "beta", crm_api_resources=lambda crm: [ApiResource("beta", operations=[_op("/b", "shared.op")])]
    )
    with pytest.raises(PluginError, match="both name an API operation 'shared.op'"):
        create_app(crm_factory(plugins=["api", first, second]))


def test_a_hook_returning_the_wrong_thing_is_a_plugin_error(crm_factory, crm_plugin):
    from crm_api import create_app

    bad = crm_plugin("alpha", crm_api_resources=lambda crm: [{"path": "/x"}])
    with pytest.raises(PluginError, match="crm_api_resources must return a list of ApiResource objects"):
        create_app(crm_factory(plugins=["api", bad]))
    raising = crm_plugin("gamma", crm_api_resources=lambda crm: 1 / 0)
    with pytest.raises(PluginError, match="plugin 'gamma': crm_api_resources raised ZeroDivisionError"):
        create_app(crm_factory(plugins=["api", raising]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "FETCH"}, "method 'FETCH' is not one of"),
        ({"path": "things"}, "must start with '/'"),
        ({"path": "/things/"}, "not end with one"),
    ],
)
def test_bad_operations_are_refused_when_made(kwargs, message):
    values = {"method": "GET", "path": "/things", "handler": lambda crm, request: None, "operation_id": "x.y", **kwargs}
    with pytest.raises(ValueError, match=message):
        ApiOperation(**values)


def test_a_plugin_without_resources_serves_only_the_api_own(crm_factory):
    from crm_api import create_app

    crm = crm_factory(plugins=["api"])
    document = create_app(crm).test_client().get("/api/v1/openapi.json").json
    assert set(document["paths"]) == {
        "/events",
        "/webhooks",
        "/webhooks/{id}",
        "/webhooks/{id}/deliveries",
        "/webhooks/{id}/deliveries/{delivery_id}/replay",
    }


def test_crm_api_openapi_prints_the_document(crm_factory, crm_cli, tmp_path, notes_plugin):
    import json

    crm = crm_factory(plugins=["api", notes_plugin])
    result = crm_cli.invoke(["api", "openapi"], app=crm)
    assert result.exit_code == 0, result.output
    assert "/notes/{id}" in json.loads(result.output)["paths"]
    out = tmp_path / "openapi.json"
    result = crm_cli.invoke(["api", "openapi", "--output", str(out)], app=crm)
    assert result.exit_code == 0 and json.loads(out.read_text())["openapi"] == "3.1.0"


def test_an_etag_from_that_names_no_operation_is_named_when_the_app_is_built(crm_factory, crm_plugin):
    from crm_api import create_app

    change = ApiOperation("PATCH", "/things/{id:int}", lambda crm, r: None, "alpha.update", etag_from="alpha.read")
    bad = crm_plugin("alpha", crm_api_resources=lambda crm: [ApiResource("alpha", operations=[change])])
    with pytest.raises(PluginError, match="names etag_from='alpha.read', which is no operation"):
        create_app(crm_factory(plugins=["api", bad]))
