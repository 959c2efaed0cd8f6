"""``crm demo`` with the API: a user and token for integrations, and a first call that works."""

from __future__ import annotations

import re


def test_the_demo_prints_a_token_that_works(tmp_path, crm_cli):
    from crm_api import create_app
    from crm_core import CRM

    config = tmp_path / "crm.toml"
    config.write_text(
        '[crm]\ndatabase = "sqlite:///demo.db"\n[crm.mail]\ntransport = "memory"\n[plugins]\nenabled = ["api"]\n'
    )
    result = crm_cli.invoke(["demo", "--reset"], config=config)
    assert result.exit_code == 0, result.output
    token = re.search(r"valid 30 days: (crm_\S+)", result.output).group(1)
    assert f"curl -H 'Authorization: Bearer {token}' http://127.0.0.1:8100/api/v1/me" in result.output
    assert f"export CRM_CONFIG={config}" in result.output or "export CRM_CONFIG=" in result.output
    with CRM.from_config(config) as crm:
        me = create_app(crm).test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["name"] == "integration" and me.json["roles"] == ["manager"]
