"""The plugin discovery cache (crm_core.plugins.cache): served while nothing installed changed, read anew otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm_core.plugins import cache as plugin_cache
from crm_core.plugins import discover, load_plugins

HELLO = """
from crm_hookspecs import hookimpl
from crm_hookspecs.commands import CommandSpec


@hookimpl
def crm_cli_commands():
    return [CommandSpec("hello", "kt_alpha.plugin:hello", "Say hello.")]
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CRM_CACHE_DIR", str(folder))
    monkeypatch.delenv("CRM_PLUGIN_CACHE", raising=False)
    return folder


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times the cache reads the installed metadata (a miss)."""
    seen: list[int] = []

    def counting() -> object:
        seen.append(1)
        return discover()

    monkeypatch.setattr(plugin_cache, "discover", counting)
    return seen


#: the plugins these tests install (the real ones are installed too)
FAKE = {"alpha", "beta", "gamma"}


def _fake(found: dict) -> list[str]:
    return sorted(name for name in found if name in FAKE)


def _comparable(found: dict) -> dict:
    return {
        name: (i.target, i.dist_name, i.version, i.contract, i.requires, i.dist_requires, i.claimed_by)
        for name, i in found.items()
    }


def test_a_second_discovery_is_read_from_the_cache_and_equals_the_metadata(fake_site, cache_dir, reads):
    fake_site.add("alpha", HELLO, version="1.2.0")
    fake_site.add("beta", requires=["crm-alpha>=1.0", "packaging>=20"])
    first = plugin_cache.cached_discover()
    second = plugin_cache.cached_discover()
    assert len(reads) == 1  # the second one came from the file
    assert _comparable(second) == _comparable(first) == _comparable(discover())
    assert second["beta"].requires == (("alpha", ">=1.0"),) and second["alpha"].version == "1.2.0"
    # resolution needs neither importlib.metadata nor packaging: the answers were cached too
    assert second.versions["packaging"] is not None
    assert (("1.2.0", ">=1.0") in second.checks) and second.checks[("1.2.0", ">=1.0")] is True
    loaded = load_plugins(["alpha", "beta"], installed=second)
    assert loaded.order == ["alpha", "beta"] and all(r.error is None for r in loaded.records.values())
    assert len(list(cache_dir.glob("plugins-*.json"))) == 1


def test_installing_a_distribution_invalidates_the_cache(fake_site, cache_dir, reads):
    fake_site.add("alpha", HELLO)
    assert _fake(plugin_cache.cached_discover()) == ["alpha"]
    fake_site.add("gamma")
    assert _fake(plugin_cache.cached_discover()) == ["alpha", "gamma"]
    assert len(reads) == 2


def test_uninstalling_a_distribution_invalidates_the_cache(fake_site, cache_dir, reads):
    fake_site.add("alpha", HELLO)
    fake_site.add("gamma")
    assert _fake(plugin_cache.cached_discover()) == ["alpha", "gamma"]
    fake_site.remove("gamma")
    assert _fake(plugin_cache.cached_discover()) == ["alpha"]
    assert len(reads) == 2


def test_upgrading_a_distribution_invalidates_the_cache_and_its_version_checks(fake_site, cache_dir, reads):
    fake_site.add("alpha", HELLO, version="1.0.0")
    fake_site.add("beta", requires=["crm-alpha>=2.0"])
    stale = load_plugins(["alpha", "beta"], installed=plugin_cache.cached_discover())
    assert stale.records["beta"].state == "failed" and "1.0.0 is installed" in str(stale.records["beta"].error)
    fake_site.add("alpha", HELLO, version="2.0.0")  # the old dist-info goes, a new one comes
    installed = plugin_cache.cached_discover()
    assert installed["alpha"].version == "2.0.0" and len(reads) == 2
    assert load_plugins(["alpha", "beta"], installed=installed).order == ["alpha", "beta"]


def test_an_entry_point_changed_in_place_invalidates_the_cache(fake_site, cache_dir, reads):
    package = fake_site.add("alpha", HELLO)
    (fake_site.root / package / "other.py").write_text(HELLO, encoding="utf-8")
    assert plugin_cache.cached_discover()["alpha"].target == f"{package}.plugin"
    (points,) = fake_site.root.glob("crm_alpha-*.dist-info/entry_points.txt")
    points.write_text(f"[crm.plugins]\nalpha = {package}.other\n", encoding="utf-8")
    assert plugin_cache.cached_discover()["alpha"].target == f"{package}.other"
    assert len(reads) == 2


def test_an_editable_install_is_followed(fake_site, tmp_path, cache_dir, reads, monkeypatch):
    # an editable install of the older kind (`setup.py develop`): the source folder is on
    # sys.path with its *.egg-info, which `egg_info` rewrites when the entry points change
    source = tmp_path / "src"
    (source / "kt_edit").mkdir(parents=True)
    (source / "kt_edit" / "__init__.py").write_text("", encoding="utf-8")
    (source / "kt_edit" / "plugin.py").write_text(HELLO.replace("hello", "edit"), encoding="utf-8")
    info = source / "crm_edit.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: crm-edit\nVersion: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[crm.plugins]\nedit = kt_edit.plugin\n", encoding="utf-8")
    assert "edit" not in plugin_cache.cached_discover()
    monkeypatch.syspath_prepend(str(source))
    assert plugin_cache.cached_discover()["edit"].version == "0.1.0"
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: crm-edit\nVersion: 0.2.0.dev1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[crm.plugins]\nedited = kt_edit.plugin\n", encoding="utf-8")
    found = plugin_cache.cached_discover()
    assert "edit" not in found and found["edited"].version == "0.2.0.dev1"
    assert len(reads) == 3
    sys.modules.pop("kt_edit.plugin", None)
    sys.modules.pop("kt_edit", None)


def test_the_cache_can_be_turned_off_and_cleared(fake_site, cache_dir, reads, monkeypatch):
    fake_site.add("alpha", HELLO)
    monkeypatch.setenv("CRM_PLUGIN_CACHE", "off")
    assert plugin_cache.cache_file() is None
    assert "alpha" in plugin_cache.cached_discover() and "alpha" in plugin_cache.cached_discover()
    assert len(reads) == 2 and not cache_dir.exists()
    monkeypatch.delenv("CRM_PLUGIN_CACHE")
    plugin_cache.cached_discover()
    assert plugin_cache.clear_cache() is True and plugin_cache.clear_cache() is False
    plugin_cache.cached_discover()
    assert len(reads) == 4


def test_a_damaged_or_foreign_cache_file_is_read_anew_and_rewritten(fake_site, cache_dir, reads):
    fake_site.add("alpha", HELLO)
    plugin_cache.cached_discover()
    path = Path(plugin_cache.cache_file() or "")
    for damage in ("{not json", "[]", json.dumps({"key": json.loads(path.read_text())["key"], "plugins": 3})):
        path.write_text(damage, encoding="utf-8")
        assert "alpha" in plugin_cache.cached_discover()
    assert len(reads) == 4
    assert "alpha" in plugin_cache.cached_discover() and len(reads) == 4  # whole again


def test_an_unwritable_cache_folder_only_costs_the_cache(fake_site, tmp_path, monkeypatch, reads):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("CRM_CACHE_DIR", str(blocker / "cache"))  # a folder inside a file: cannot be made
    fake_site.add("alpha", HELLO)
    assert "alpha" in plugin_cache.cached_discover() and "alpha" in plugin_cache.cached_discover()
    assert len(reads) == 2


def test_the_cli_lists_a_plugin_installed_after_the_cache_was_written(fake_site, tmp_path):
    env = fake_site.env(CRM_CACHE_DIR=str(tmp_path / "cache"), CRM_PLUGINS="alpha,beta")
    crm = [sys.executable, "-c", "from crm_core.cli.main import main; main()", "--help"]
    fake_site.add("alpha", HELLO)
    first = subprocess.run(crm, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert "hello" in first.stdout and "'beta' is enabled" not in first.stdout
    assert list((tmp_path / "cache").glob("plugins-*.json"))
    fake_site.add(
        "beta", HELLO.replace('"hello", "kt_alpha.plugin:hello", "Say hello."', '"beta", "kt_beta.plugin:b", "Bye."')
    )
    second = subprocess.run(crm, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert "hello" in second.stdout and "Bye." in second.stdout, second.stdout + second.stderr
    # a broken plugin is reported as without the cache, from the cache too
    (fake_site.root / "kt_beta" / "plugin.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    for _ in range(2):
        broken = subprocess.run([*crm[:-1], "beta"], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert broken.returncode != 0 and "plugin 'beta' is enabled but was not loaded" in broken.stderr
        assert "plugin 'beta' (kt_beta.plugin) failed to import: RuntimeError: boom" in broken.stderr, broken.stderr


def test_the_fingerprint_sees_metadata_files_not_other_files(tmp_path):
    site = tmp_path / "site"
    info = site / "crm_x-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Name: crm-x\nVersion: 1.0\n", encoding="utf-8")
    before = plugin_cache.fingerprint([str(site)])
    (site / "some_module.py").write_text("", encoding="utf-8")
    assert plugin_cache.fingerprint([str(site)]) == before
    (info / "entry_points.txt").write_text("[crm.plugins]\nx = x.plugin\n", encoding="utf-8")
    added = plugin_cache.fingerprint([str(site)])
    assert added != before
    # rewritten at once with as many bytes, keeping its time: the text still tells
    stat = (info / "entry_points.txt").stat()
    (info / "entry_points.txt").write_text("[crm.plugins]\ny = y.plugin\n", encoding="utf-8")
    os.utime(info / "entry_points.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert plugin_cache.fingerprint([str(site)]) != added
    assert plugin_cache.fingerprint([str(tmp_path / "missing")]) == [[str(tmp_path / "missing"), None]]
    assert os.path.basename(plugin_cache.cache_file() or "").startswith("plugins-")
