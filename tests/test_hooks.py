"""Every hook of the contract, called through the kernel's typed facade (crm_core.hooks.Hooks).

Each test registers small plugins with the ``crm_plugin`` fixture and checks
how the results of several plugins combine, in which order, and the error a
plugin gets for returning the wrong type.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pytest

from crm_core.errors import ConfigError, NotFoundError, PluginError
from crm_hookspecs.events import ContactCreated
from crm_hookspecs.records import CommandSpec, JobSpec, MailTransportSpec, PluginSchema

# how hook results combine does not depend on the database: SQLite is enough
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def app(crm_factory):
    """``app(*plugins)``: an app (not migrated) with these plugins."""

    def make(*plugins):
        return crm_factory(list(plugins), migrate=False)

    return make


def requires(pair, **deps: str):
    return (*pair, deps)


# -- declarations ---------------------------------------------------------------


def test_crm_schema(app, crm_plugin, tmp_path):
    schema = PluginSchema(migrations=tmp_path, models=())
    crm = app(
        crm_plugin("b", crm_schema=lambda: schema),
        crm_plugin("a", crm_schema=lambda: None),
        crm_plugin("c", crm_schema=lambda: PluginSchema(migrations=str(tmp_path / "c"))),
    )
    assert crm.hooks.schemas() == [("b", schema), ("c", PluginSchema(migrations=tmp_path / "c"))]
    assert isinstance(crm.hooks.schemas()[1][1].migrations, Path)

    wrong = app(crm_plugin("wrong", crm_schema=lambda: {"migrations": "x"}))
    with pytest.raises(PluginError, match="plugin 'wrong': crm_schema must return a PluginSchema, not dict") as info:
        wrong.hooks.schemas()
    assert info.value.plugin == "wrong"


def test_crm_config_section(app, crm_plugin):
    @attrs.frozen
    class Settings:
        level: int = 1

    crm = app(crm_plugin("a", crm_config_section=lambda: Settings), crm_plugin("b", crm_config_section=lambda: None))
    assert crm.hooks.config_sections() == {"a": Settings}
    assert crm.settings("a") == Settings()
    with pytest.raises(NotFoundError, match="'b' is not enabled or declares no settings"):
        crm.settings("b")

    with pytest.raises(
        PluginError, match="plugin 'bad': crm_config_section must return an attrs class, not <class 'dict'>"
    ):
        app(crm_plugin("bad", crm_config_section=lambda: dict))


def test_crm_plugin_api(app, crm_plugin):
    calls = []

    class ProbeAPI:
        def ping(self) -> str:
            return "pong"

    def api(crm):
        calls.append(crm)
        return ProbeAPI()

    crm = app(crm_plugin("probe", crm_plugin_api=api), crm_plugin("mute", crm_startup=lambda crm: None))
    assert calls == []  # lazy
    first = crm.plugin("probe")
    assert first.ping() == "pong"
    assert crm.plugin("probe") is first and calls == [crm]  # called once, cached
    assert crm.hooks.plugin_api("mute", crm) is None
    with pytest.raises(NotFoundError, match="plugin 'mute' offers no API object"):
        crm.plugin("mute")
    with pytest.raises(NotFoundError, match="plugin 'ghost' is not enabled in this app"):
        crm.plugin("ghost")


def test_crm_cli_commands(app, crm_plugin):
    a = [CommandSpec("alpha", "kt_a.cli:group", "A."), CommandSpec("alpha-report", "kt_a.cli:report")]
    crm = app(
        crm_plugin("b", crm_cli_commands=lambda: (CommandSpec("beta", "kt_b.cli:group"),)),
        crm_plugin("a", crm_cli_commands=lambda: a),
        crm_plugin("c", crm_cli_commands=lambda: None),
    )
    assert crm.hooks.cli_commands() == [("a", a[0]), ("a", a[1]), ("b", CommandSpec("beta", "kt_b.cli:group"))]

    one = app(crm_plugin("one", crm_cli_commands=lambda: CommandSpec("x", "m:x")))
    with pytest.raises(
        PluginError, match=r"crm_cli_commands must return a list of CommandSpec objects, not CommandSpec"
    ):
        one.hooks.cli_commands()
    names = app(crm_plugin("names", crm_cli_commands=lambda: ["x"]))
    with pytest.raises(
        PluginError,
        match=r"plugin 'names': crm_cli_commands must return a list of CommandSpec objects; it holds str 'x'",
    ):
        names.hooks.cli_commands()
    with pytest.raises(ValueError, match="must look like 'package.module:attribute'"):
        CommandSpec("x", "no_colon")


# -- lifecycle ------------------------------------------------------------------


def test_crm_startup(crm_factory, crm_plugin):
    seen = []
    crm = crm_factory(
        [
            requires(crm_plugin("b", crm_startup=lambda crm: seen.append(("b", crm))), c=""),
            crm_plugin("a", crm_startup=lambda crm: seen.append(("a", crm))),
            crm_plugin("c", crm_startup=lambda: seen.append(("c", None))),  # fewer arguments than the spec
        ],
        migrate=False,
    )
    assert seen == [("a", crm), ("c", None), ("b", crm)]


def test_crm_startup_failure_names_the_plugin_and_closes_the_app(crm_factory, crm_plugin):
    from crm_core import storage

    def boom(crm):
        raise KeyError("missing thing")

    stopped = []
    with pytest.raises(PluginError, match=r"plugin 'boom' failed to start: KeyError: 'missing thing'; fix it") as info:
        crm_factory(
            [crm_plugin("ok", crm_shutdown=lambda crm: stopped.append("ok")), crm_plugin("boom", crm_startup=boom)]
        )
    assert info.value.plugin == "boom"
    assert stopped == ["ok"]  # the half-built app was closed
    with pytest.raises(Exception, match="no CRM app is open"):
        storage.current_app()

    def refuse(crm):
        raise ConfigError("plugins.strict.key: set it")

    with pytest.raises(ConfigError, match="plugins.strict.key: set it"):  # the plugin's own message, unchanged
        crm_factory([crm_plugin("strict", crm_startup=refuse)])


def test_crm_shutdown(crm_factory, crm_plugin, caplog):
    seen = []

    def broken(crm):
        seen.append("b")
        raise RuntimeError("cannot stop")

    crm = crm_factory(
        [
            crm_plugin("a", crm_shutdown=lambda crm: seen.append("a")),
            requires(crm_plugin("b", crm_shutdown=broken), a=""),
            requires(crm_plugin("c", crm_shutdown=lambda crm: seen.append("c")), b=""),
        ],
        migrate=False,
    )
    errors = crm.hooks.shutdown(crm)
    assert seen == ["c", "b", "a"]  # reversed, and all of them despite b
    assert [(name, str(exc)) for name, exc in errors] == [("b", "cannot stop")]
    seen.clear()
    crm.close()
    assert seen == ["c", "b", "a"]
    assert "plugin b failed to shut down: cannot stop" in caplog.text


# -- events ---------------------------------------------------------------------


def test_crm_handle_events(crm_factory, crm_plugin):
    got = []
    crm = crm_factory(
        [
            crm_plugin("z", crm_handle_events=lambda crm, events: got.append(("z", [e.contact_id for e in events]))),
            crm_plugin("y", crm_handle_events=lambda events: got.append(("y", [e.contact_id for e in events]))),
            crm_plugin("quiet", crm_startup=lambda crm: None),
        ]
    )
    assert [name for name, _ in crm.hooks.event_handlers()] == ["y", "z"]
    assert crm.hooks.implementers("crm_handle_events") == ["y", "z"]
    crm.events.emit_many([ContactCreated(contact_id=1), ContactCreated(contact_id=2)])
    assert got == [("y", [1, 2]), ("z", [1, 2])]


# -- data -----------------------------------------------------------------------


def test_crm_demo_data(app, crm_plugin):
    crm = app(
        crm_plugin("a", crm_demo_data=lambda crm: "one line"),
        crm_plugin("b", crm_demo_data=lambda crm: ["first", "second"]),
        crm_plugin("c", crm_demo_data=lambda crm: None),
    )
    assert list(crm.hooks.demo_data(crm)) == [("a", ["one line"]), ("b", ["first", "second"])]
    bad = app(crm_plugin("bad", crm_demo_data=lambda crm: 3))
    with pytest.raises(PluginError, match="plugin 'bad': crm_demo_data must return a list of strings, not int 3"):
        list(bad.hooks.demo_data(bad))


def test_crm_export_personal_data(app, crm_plugin):
    crm = app(
        crm_plugin("a", crm_export_personal_data=lambda crm, contact_id: {"notes": [f"about {contact_id}"]}),
        crm_plugin("b", crm_export_personal_data=lambda contact_id: None),
    )
    assert crm.hooks.export_personal_data(crm, 7) == {"a": {"notes": ["about 7"]}}
    bad = app(crm_plugin("bad", crm_export_personal_data=lambda crm, contact_id: ["x"]))
    with pytest.raises(
        PluginError, match=r"plugin 'bad': crm_export_personal_data must return a dict or None, not list \['x'\]"
    ):
        bad.hooks.export_personal_data(bad, 7)


def test_crm_erase_personal_data(app, crm_plugin):
    crm = app(
        crm_plugin("a", crm_erase_personal_data=lambda crm, contact_id: 3),
        crm_plugin("b", crm_erase_personal_data=lambda crm, contact_id: None),
    )
    assert crm.hooks.erase_personal_data(crm, 7) == {"a": 3, "b": 0}
    for value in ("3", True, 2.0):
        bad = app(crm_plugin("bad", crm_erase_personal_data=lambda crm, contact_id, v=value: v))
        with pytest.raises(PluginError, match="crm_erase_personal_data must return how many records it erased"):
            bad.hooks.erase_personal_data(bad, 7)


def test_crm_erase_personal_data_runs_dependents_first(app, crm_plugin):
    order = []
    crm = app(
        crm_plugin("a", crm_erase_personal_data=lambda contact_id: order.append("a")),
        requires(crm_plugin("b", crm_erase_personal_data=lambda contact_id: order.append("b")), a=""),
    )
    crm.hooks.erase_personal_data(crm, 7)
    assert order == ["b", "a"]  # b still finds the person in a, which it requires


def test_crm_personal_values(app, crm_plugin):
    crm = app(
        crm_plugin("a", crm_personal_values=lambda crm, contact_id: [f"person{contact_id}@example.com", "Ana Ruiz"]),
        crm_plugin("b", crm_personal_values=lambda contact_id: None),
        crm_plugin("c", crm_personal_values=lambda contact_id: []),
    )
    assert crm.hooks.personal_values(crm, 7) == {"a": ["person7@example.com", "Ana Ruiz"]}
    for value in ("Ana Ruiz", [3]):
        bad = app(crm_plugin("bad", crm_personal_values=lambda contact_id, v=value: v))
        with pytest.raises(PluginError, match="plugin 'bad': crm_personal_values must return a list of strings"):
            bad.hooks.personal_values(bad, 7)


def test_crm_unsubscribe_urls(app, crm_plugin):
    crm = app(
        crm_plugin("a", crm_unsubscribe_urls=lambda contact_ids, mailing_list: None),
        crm_plugin(
            "b",
            crm_unsubscribe_urls=lambda crm, contact_ids, mailing_list: [
                f"https://x.test/u/{mailing_list}/{c}" for c in contact_ids
            ],
        ),
        crm_plugin("c", crm_unsubscribe_urls=lambda contact_ids: ["https://c.test/"] * len(contact_ids)),
    )
    # the first plugin with an answer wins
    assert crm.hooks.unsubscribe_urls(crm, [1, 2], "news") == (
        "b",
        ["https://x.test/u/news/1", "https://x.test/u/news/2"],
    )
    assert (
        app(crm_plugin("a", crm_unsubscribe_urls=lambda contact_ids: None)).hooks.unsubscribe_urls(crm, [1], None)
        is None
    )
    for value, message in (
        (["https://x.test/1"], r"returned 1 URL\(s\) for 2 contact\(s\)"),
        ("https://x.test/", "must return a list of URLs or None"),
        (["javascript:alert(1)", None], "must return http\\(s\\) URLs or None"),
    ):
        bad = app(crm_plugin("bad", crm_unsubscribe_urls=lambda contact_ids, v=value: v))
        with pytest.raises(PluginError, match=message):
            bad.hooks.unsubscribe_urls(bad, [1, 2], None)


def test_crm_contacts_merged_and_unmerged(app, crm_plugin):
    unmerged = []
    crm = app(
        crm_plugin(
            "a",
            crm_contacts_merged=lambda crm, survivor_id, merged_id: {"a_note": [merged_id * 10]},
            crm_contacts_unmerged=lambda crm, survivor_id, merged_id, moved: unmerged.append(
                ("a", survivor_id, merged_id, moved)
            ),
        ),
        crm_plugin(
            "b",
            crm_contacts_merged=lambda survivor_id, merged_id: None,
            crm_contacts_unmerged=lambda moved: unmerged.append(("b", moved)),
        ),
    )
    moved = crm.hooks.contacts_merged(crm, 1, 2)
    assert moved == {"a": {"a_note": [20]}, "b": {}}
    crm.hooks.contacts_unmerged(crm, 1, 2, moved)
    assert unmerged == [("a", 1, 2, {"a_note": [20]}), ("b", {})]  # each gets exactly its own

    bad = app(crm_plugin("bad", crm_contacts_merged=lambda crm, survivor_id, merged_id: [1, 2]))
    with pytest.raises(PluginError, match=r"crm_contacts_merged must return \{table: \[row ids\]\} or None, not list"):
        bad.hooks.contacts_merged(bad, 1, 2)


# -- worker and mail --------------------------------------------------------------


def test_crm_worker_jobs(app, crm_plugin):
    def run(crm, scheduled_at):
        return None

    hourly = JobSpec("a.hourly", run, interval=dt.timedelta(hours=1))
    weekly = JobSpec("b.weekly", run, rrule="FREQ=WEEKLY;BYDAY=MO;BYHOUR=9")
    crm = app(
        crm_plugin("b", crm_worker_jobs=lambda crm: [weekly]), crm_plugin("a", crm_worker_jobs=lambda crm: [hourly])
    )
    assert crm.hooks.worker_jobs(crm) == [("a", hourly), ("b", weekly)]
    bad = app(crm_plugin("bad", crm_worker_jobs=lambda crm: hourly))
    with pytest.raises(PluginError, match="crm_worker_jobs must return a list of JobSpec objects, not JobSpec"):
        bad.hooks.worker_jobs(bad)
    with pytest.raises(ValueError, match="give exactly one of interval= and rrule="):
        JobSpec("x", run)


def test_crm_mail_transports(app, crm_plugin):
    spec = MailTransportSpec("carrier-pigeon", factory=lambda crm, settings: None)
    crm = app(crm_plugin("a", crm_mail_transports=lambda: [spec]), crm_plugin("b", crm_mail_transports=lambda: None))
    assert crm.hooks.mail_transports() == [("a", spec)]
    bad = app(crm_plugin("bad", crm_mail_transports=lambda: [{"name": "x"}]))
    with pytest.raises(
        PluginError, match=r"crm_mail_transports must return a list of MailTransportSpec objects; it holds dict"
    ):
        bad.hooks.mail_transports()


# -- the facade itself ------------------------------------------------------------


def test_hook_wrappers_are_not_called_as_plugins(app):
    from crm_hookspecs import hookimpl

    class Wrapper:
        @hookimpl(wrapper=True)
        def crm_demo_data(self, crm):
            result = yield
            return result

    crm = app(("wrapper", Wrapper()))
    assert list(crm.hooks.demo_data(crm)) == []


def test_function_returns_one_plugins_implementation(app, crm_plugin):
    crm = app(crm_plugin("a", crm_demo_data=lambda crm: "a"), crm_plugin("b", crm_demo_data=lambda crm: "b"))
    assert crm.hooks.function("crm_demo_data", "b")(crm=crm) == "b"
    assert crm.hooks.function("crm_demo_data", "nobody") is None


def test_make_plugin_refuses_a_name_that_is_not_a_hook(crm_plugin):
    with pytest.raises(ValueError, match="'startup' is not a hook name"):
        crm_plugin("x", startup=lambda crm: None)
