"""A plugin written against contract 1.0.0 keeps working: install it, enable it, run its own tests.

``tests/compat/crm-referrals`` is frozen: a third party's plugin as it would
have been written for 1.0.0 (a migration, a config section, an API object,
CLI commands, an event handler, the GDPR and merge hooks, tests with the
test kit). Every change to the kernel or the contract runs it here; a
change that breaks it is a breaking change and belongs in a 2.0.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crm_core.testing import configured_backends

FIXTURE = Path(__file__).parent / "compat" / "crm-referrals"


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.mark.slow
def test_a_plugin_written_for_contract_1_0_installs_and_passes_its_own_tests(tmp_path):
    source = tmp_path / "crm-referrals"
    shutil.copytree(FIXTURE, source)
    site = tmp_path / "installed"
    python = sys.executable
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_PLUGINS", "CRM_CONFIG", "PYTHONPATH")}
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-qq",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(source),
        ],
        env,
        tmp_path,
    )
    env["PYTHONPATH"] = str(site)

    listed = run(
        [str(Path(python).parent / "crm"), "plugins", "--format", "json"],
        {**env, "CRM_PLUGINS": "contacts,referrals"},
        tmp_path,
    )
    [row] = [r for r in json.loads(listed.stdout) if r["name"] == "referrals"]
    assert row["state"] == "enabled" and row["error"] == "" and ">=1.0" in row["contract"]

    tested = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], env, source)
    assert f"{5 * len(configured_backends())} passed" in tested.stdout, tested.stdout
