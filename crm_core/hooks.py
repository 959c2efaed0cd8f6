"""The typed facade through which the kernel calls the plugins' hooks.

Kernel code never calls ``pm.hook.x`` directly: it calls a method here, which
says how results combine. Hooks are called plugin by plugin in dependency
order (``crm_shutdown`` in reverse), so the kernel knows which plugin
answered what, and a plugin that requires another always runs after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pluggy

from crm_core.errors import CRMError, PluginError

__all__ = ["Hooks"]


class Hooks:
    def __init__(self, pm: pluggy.PluginManager, order: Sequence[str]) -> None:
        self._pm = pm
        self._rank = {name: i for i, name in enumerate(order)}

    def _impls(self, hook: str, reverse: bool = False) -> list[pluggy.HookImpl]:
        caller = getattr(self._pm.hook, hook)
        impls = [i for i in caller.get_hookimpls() if not (i.hookwrapper or i.wrapper)]
        impls.sort(key=lambda i: self._rank.get(i.plugin_name, len(self._rank)), reverse=reverse)
        return impls

    def _each(self, hook: str, reverse: bool = False, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call ``hook`` on each plugin; yield ``(plugin name, result)``."""
        for impl in self._impls(hook, reverse):
            yield impl.plugin_name, impl.function(*[kwargs[a] for a in impl.argnames])

    def _each_checked(self, hook: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """:meth:`_each` for third-party code: a plugin that raises is a ``PluginError`` naming it and the hook."""
        for impl in self._impls(hook):
            try:
                result = impl.function(*[kwargs[a] for a in impl.argnames])
            except CRMError:
                raise
            except Exception as exc:
                raise PluginError(
                    impl.plugin_name, f"plugin {impl.plugin_name!r}: {hook} raised {type(exc).__name__}: {exc}"
                ) from exc
            yield impl.plugin_name, result

    def implementers(self, hook: str) -> list[str]:
        return [i.plugin_name for i in self._impls(hook)]

    def function(self, hook: str, plugin: str) -> Callable[..., Any] | None:
        """The bare implementation of ``hook`` by ``plugin``, or ``None``."""
        for impl in self._impls(hook):
            if impl.plugin_name == plugin:
                argnames = impl.argnames
                fn = impl.function
                return lambda **kw: fn(*[kw[a] for a in argnames])
        return None

    # -- declarations ------------------------------------------------------

    def schemas(self) -> list[tuple[str, Any]]:
        from crm_hookspecs.records import PluginSchema

        out = []
        for name, schema in self._each("crm_schema"):
            if schema is None:
                continue
            if not isinstance(schema, PluginSchema):
                raise PluginError(
                    name, f"plugin {name!r}: crm_schema must return a PluginSchema, not {type(schema).__name__}"
                )
            out.append((name, schema))
        return out

    def config_sections(self) -> dict[str, type]:
        out = {}
        for name, cls in self._each("crm_config_section"):
            if cls is None:
                continue
            import attrs

            if not (isinstance(cls, type) and attrs.has(cls)):
                raise PluginError(name, f"plugin {name!r}: crm_config_section must return an attrs class, not {cls!r}")
            out[name] = cls
        return out

    def plugin_api(self, plugin: str, crm: Any) -> Any:
        fn = self.function("crm_plugin_api", plugin)
        return fn(crm=crm) if fn is not None else None

    def cli_commands(self) -> list[tuple[str, Any]]:
        from crm_hookspecs.commands import CommandSpec

        return [
            (name, spec)
            for name, specs in self._each("crm_cli_commands")
            for spec in _many(name, "crm_cli_commands", specs, CommandSpec)
        ]

    def permissions(self) -> list[tuple[str, Any]]:
        """``crm_permissions`` per plugin, checked: ``(plugin name, PermissionSpec | RecordTypeSpec)`` pairs."""
        from crm_hookspecs.records import PermissionSpec, RecordTypeSpec

        out = []
        for name, specs in self._each("crm_permissions"):
            if specs is None:
                continue
            if isinstance(specs, (PermissionSpec, RecordTypeSpec, str, bytes, dict)) or not hasattr(specs, "__iter__"):
                raise PluginError(
                    name,
                    f"plugin {name!r}: crm_permissions must return a list of PermissionSpec and RecordTypeSpec objects, not {_kind(specs)}",
                )
            for spec in specs:
                if not isinstance(spec, (PermissionSpec, RecordTypeSpec)):
                    raise PluginError(
                        name,
                        f"plugin {name!r}: crm_permissions must return PermissionSpec and RecordTypeSpec objects; it holds {_kind(spec)}",
                    )
                out.append((name, spec))
        return out

    # -- lifecycle ---------------------------------------------------------

    def startup(self, crm: Any) -> None:
        """Call every ``crm_startup`` in order; a plugin's error names the plugin."""
        for impl in self._impls("crm_startup"):
            try:
                impl.function(*[{"crm": crm}[a] for a in impl.argnames])
            except CRMError:
                raise  # already a message for the user
            except Exception as exc:  # third-party code: say which plugin failed
                raise PluginError(
                    impl.plugin_name,
                    f"plugin {impl.plugin_name!r} failed to start: {type(exc).__name__}: {exc}; "
                    "fix it, or remove it from [plugins] enabled",
                ) from exc

    def shutdown(self, crm: Any) -> list[tuple[str, BaseException]]:
        """Call every ``crm_shutdown``, even after one raises; return the errors."""
        errors: list[tuple[str, BaseException]] = []
        for impl in self._impls("crm_shutdown", reverse=True):
            try:
                impl.function(*[{"crm": crm}[a] for a in impl.argnames])
            except Exception as exc:  # one plugin's failure must not stop the others' cleanup
                errors.append((impl.plugin_name, exc))
        return errors

    # -- events ------------------------------------------------------------

    def event_handlers(self) -> list[tuple[str, Callable[..., Any]]]:
        out = []
        for impl in self._impls("crm_handle_events"):
            fn, argnames = impl.function, impl.argnames
            out.append((impl.plugin_name, _bind(fn, argnames)))
        return out

    # -- data --------------------------------------------------------------

    def demo_data(self, crm: Any) -> Iterator[tuple[str, list[str]]]:
        for name, lines in self._each("crm_demo_data", crm=crm):
            if lines is None:
                continue
            yield name, [lines] if isinstance(lines, str) else _many(name, "crm_demo_data", lines, str)

    def export_personal_data(self, crm: Any, contact_id: int) -> dict[str, Any]:
        out = {}
        for name, data in self._each("crm_export_personal_data", crm=crm, contact_id=contact_id):
            if data is None:
                continue
            if not isinstance(data, dict):
                raise PluginError(
                    name, f"plugin {name!r}: crm_export_personal_data must return a dict or None, not {_kind(data)}"
                )
            out[name] = data
        return out

    def erase_personal_data(self, crm: Any, contact_id: int) -> dict[str, int]:
        out = {}
        # dependents first (like crm_shutdown): a plugin still finds the person
        # in the plugins it requires (the portal asks the contacts plugin for his addresses)
        for name, count in self._each("crm_erase_personal_data", reverse=True, crm=crm, contact_id=contact_id):
            if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
                raise PluginError(
                    name,
                    f"plugin {name!r}: crm_erase_personal_data must return how many records it erased (an int), not {_kind(count)}",
                )
            out[name] = count or 0
        return out

    def personal_values(self, crm: Any, contact_id: int) -> dict[str, list[str]]:
        """``crm_personal_values`` per plugin: ``{plugin name: [values]}`` (plugins with none left out)."""
        out = {}
        for name, values in self._each("crm_personal_values", crm=crm, contact_id=contact_id):
            items = _many(name, "crm_personal_values", values, str)
            if items:
                out[name] = items
        return out

    def contacts_merged(self, crm: Any, survivor_id: int, merged_id: int) -> dict[str, dict[str, list[int]]]:
        out = {}
        for name, moved in self._each("crm_contacts_merged", crm=crm, survivor_id=survivor_id, merged_id=merged_id):
            if moved is not None and not isinstance(moved, dict):
                raise PluginError(
                    name,
                    f"plugin {name!r}: crm_contacts_merged must return {{table: [row ids]}} or None, not {_kind(moved)}",
                )
            out[name] = moved or {}
        return out

    def contacts_unmerged(
        self, crm: Any, survivor_id: int, merged_id: int, moved: dict[str, dict[str, list[int]]]
    ) -> None:
        for impl in self._impls("crm_contacts_unmerged"):
            kwargs = {
                "crm": crm,
                "survivor_id": survivor_id,
                "merged_id": merged_id,
                "moved": moved.get(impl.plugin_name, {}),
            }
            impl.function(*[kwargs[a] for a in impl.argnames])

    # -- worker and mail ---------------------------------------------------

    def worker_jobs(self, crm: Any) -> list[tuple[str, Any]]:
        from crm_hookspecs.records import JobSpec

        return [
            (name, job)
            for name, jobs in self._each("crm_worker_jobs", crm=crm)
            for job in _many(name, "crm_worker_jobs", jobs, JobSpec)
        ]

    def mail_transports(self) -> list[tuple[str, Any]]:
        from crm_hookspecs.records import MailTransportSpec

        return [
            (name, spec)
            for name, specs in self._each("crm_mail_transports")
            for spec in _many(name, "crm_mail_transports", specs, MailTransportSpec)
        ]

    def unsubscribe_urls(
        self, crm: Any, contact_ids: Sequence[int], mailing_list: str | None
    ) -> tuple[str, list[str | None]] | None:
        """The first plugin's answer to ``crm_unsubscribe_urls``: ``(plugin name, [url or None per contact])``, or ``None``."""
        for name, urls in self._each(
            "crm_unsubscribe_urls", crm=crm, contact_ids=list(contact_ids), mailing_list=mailing_list
        ):
            if urls is None:
                continue
            if isinstance(urls, (str, bytes, dict)) or not hasattr(urls, "__iter__"):
                raise PluginError(
                    name, f"plugin {name!r}: crm_unsubscribe_urls must return a list of URLs or None, not {_kind(urls)}"
                )
            urls = list(urls)
            if len(urls) != len(contact_ids):
                raise PluginError(
                    name,
                    f"plugin {name!r}: crm_unsubscribe_urls returned {len(urls)} URL(s) for {len(contact_ids)} contact(s); return one per contact",
                )
            for url in urls:
                if url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
                    raise PluginError(
                        name,
                        f"plugin {name!r}: crm_unsubscribe_urls must return http(s) URLs or None; it holds {_kind(url)}",
                    )
            return name, urls
        return None

    # -- reports -----------------------------------------------------------

    def report_definitions(self, crm: Any) -> list[tuple[str, list[Any]]]:
        """``crm_report_definitions`` per plugin: ``(plugin name, [definition dicts])``."""
        from collections.abc import Mapping

        out = []
        for name, items in self._each("crm_report_definitions", crm=crm):
            if items is None:
                continue
            if isinstance(items, (str, bytes, Mapping)) or not hasattr(items, "__iter__"):
                raise PluginError(
                    name, f"plugin {name!r}: crm_report_definitions must return a list of dicts, not {_kind(items)}"
                )
            items = list(items)
            for item in items:
                if not isinstance(item, Mapping):
                    raise PluginError(
                        name,
                        f"plugin {name!r}: crm_report_definitions must return a list of dicts; it holds {_kind(item)}",
                    )
            out.append((name, items))
        return out

    # -- portal ------------------------------------------------------------

    def portal_pages(self, crm: Any) -> list[tuple[str, Any]]:
        """``crm_portal_pages`` per plugin, checked: ``(plugin name, PortalPage)`` pairs in load order."""
        from crm_hookspecs.records import PortalPage

        return [
            (name, page)
            for name, pages in self._each_checked("crm_portal_pages", crm=crm)
            for page in _many(name, "crm_portal_pages", pages, PortalPage)
        ]

    # -- the HTTP API ----------------------------------------------------------

    def api_resources(self, crm: Any) -> list[tuple[str, Any]]:
        """``crm_api_resources`` per plugin, checked: ``(plugin name, ApiResource)`` pairs in load order."""
        from crm_hookspecs.records import ApiResource

        return [
            (name, resource)
            for name, resources in self._each_checked("crm_api_resources", crm=crm)
            for resource in _many(name, "crm_api_resources", resources, ApiResource)
        ]

    # -- the staff web app -----------------------------------------------------

    def desk_pages(self, crm: Any) -> list[tuple[str, Any]]:
        """``crm_desk_pages`` per plugin, checked: ``(plugin name, DeskPages)`` pairs in load order."""
        from crm_hookspecs.records import DeskPages

        out: list[tuple[str, Any]] = []
        for name, pages in self._each_checked("crm_desk_pages", crm=crm):
            if pages is None:
                continue
            if not isinstance(pages, DeskPages):
                raise PluginError(
                    name, f"plugin {name!r}: crm_desk_pages must return a DeskPages record or None, not {_kind(pages)}"
                )
            out.append((name, pages))
        return out

    def desk_search(self, crm: Any, query: str, limit: int) -> list[tuple[str, list[Any] | PluginError]]:
        """``crm_desk_search`` per plugin, in load order: ``(plugin, results)``, or ``(plugin, PluginError)`` for one that failed.

        A failing plugin does not stop the others: its error takes the place
        of its results (the desk shows a notice and logs it).
        """
        from crm_hookspecs.records import DeskSearchResult

        out: list[tuple[str, list[Any] | PluginError]] = []
        for impl in self._impls("crm_desk_search"):
            name = impl.plugin_name
            values = {"crm": crm, "query": query, "limit": limit}
            try:
                found = impl.function(*[values[a] for a in impl.argnames])
            except Exception as exc:  # third-party code: say which plugin failed
                out.append(
                    (name, PluginError(name, f"plugin {name!r}: crm_desk_search raised {type(exc).__name__}: {exc}"))
                )
                continue
            if found is None:
                continue
            if isinstance(found, (str, bytes)) or not isinstance(found, (list, tuple)):
                out.append(
                    (
                        name,
                        PluginError(
                            name,
                            f"plugin {name!r}: crm_desk_search must return a list of DeskSearchResult or None, not {_kind(found)}",
                        ),
                    )
                )
                continue
            wrong = [item for item in found if not isinstance(item, DeskSearchResult)]
            if wrong:
                out.append(
                    (
                        name,
                        PluginError(
                            name,
                            f"plugin {name!r}: crm_desk_search must return DeskSearchResult records, not {_kind(wrong[0])}",
                        ),
                    )
                )
                continue
            out.append((name, list(found)[:limit]))
        return out


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _many(plugin: str, hook: str, value: Any, kind: type) -> list[Any]:
    """A hook's list result, checked: ``None`` is empty, anything else must hold ``kind`` objects."""
    what = "strings" if kind is str else f"{kind.__name__} objects"
    if value is None:
        return []
    if isinstance(value, (kind, str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise PluginError(plugin, f"plugin {plugin!r}: {hook} must return a list of {what}, not {_kind(value)}")
    items = list(value)
    for item in items:
        if not isinstance(item, kind):
            raise PluginError(plugin, f"plugin {plugin!r}: {hook} must return a list of {what}; it holds {_kind(item)}")
    return items


def _bind(fn: Callable[..., Any], argnames: Sequence[str]) -> Callable[[Any, Any], Any]:
    def call(crm: Any, events: Any) -> Any:
        values = {"crm": crm, "events": events}
        return fn(*[values[a] for a in argnames])

    return call
