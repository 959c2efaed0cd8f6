"""The typed facade through which the kernel calls the plugins' hooks.

Kernel code never calls ``pm.hook.x`` directly: it calls a method here, which
says how results combine. Hooks are called plugin by plugin in dependency
order (``crm_shutdown`` in reverse), so the kernel knows which plugin
answered what, and a plugin that requires another always runs after it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import pluggy

from crm_core.errors import PluginError

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
                raise PluginError(name, f"plugin {name!r}: crm_schema must return a PluginSchema, not {type(schema).__name__}")
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
        from crm_hookspecs.records import CommandSpec

        out = []
        for name, specs in self._each("crm_cli_commands"):
            for spec in specs or ():
                if not isinstance(spec, CommandSpec):
                    raise PluginError(name, f"plugin {name!r}: crm_cli_commands must return CommandSpec objects, not {spec!r}")
                out.append((name, spec))
        return out

    # -- lifecycle ---------------------------------------------------------

    def startup(self, crm: Any) -> None:
        for _ in self._each("crm_startup", crm=crm):
            pass

    def shutdown(self, crm: Any) -> list[tuple[str, BaseException]]:
        """Call every ``crm_shutdown``, even after one raises; return the errors."""
        errors = []
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
            yield name, [lines] if isinstance(lines, str) else list(lines)

    def export_personal_data(self, crm: Any, contact_id: int) -> dict[str, Any]:
        return {n: d for n, d in self._each("crm_export_personal_data", crm=crm, contact_id=contact_id) if d is not None}

    def erase_personal_data(self, crm: Any, contact_id: int) -> dict[str, int]:
        return {n: int(c or 0) for n, c in self._each("crm_erase_personal_data", crm=crm, contact_id=contact_id)}

    def contacts_merged(self, crm: Any, survivor_id: int, merged_id: int) -> dict[str, dict[str, list[int]]]:
        return {
            n: moved or {}
            for n, moved in self._each("crm_contacts_merged", crm=crm, survivor_id=survivor_id, merged_id=merged_id)
        }

    def contacts_unmerged(self, crm: Any, survivor_id: int, merged_id: int, moved: dict[str, dict[str, list[int]]]) -> None:
        for impl in self._impls("crm_contacts_unmerged"):
            kwargs = {"crm": crm, "survivor_id": survivor_id, "merged_id": merged_id, "moved": moved.get(impl.plugin_name, {})}
            impl.function(*[kwargs[a] for a in impl.argnames])

    # -- worker and mail ---------------------------------------------------

    def worker_jobs(self, crm: Any) -> list[tuple[str, Any]]:
        from crm_hookspecs.records import JobSpec

        out = []
        for name, jobs in self._each("crm_worker_jobs", crm=crm):
            for job in jobs or ():
                if not isinstance(job, JobSpec):
                    raise PluginError(name, f"plugin {name!r}: crm_worker_jobs must return JobSpec objects, not {job!r}")
                out.append((name, job))
        return out

    def mail_transports(self) -> list[tuple[str, Any]]:
        from crm_hookspecs.records import MailTransportSpec

        out = []
        for name, specs in self._each("crm_mail_transports"):
            for spec in specs or ():
                if not isinstance(spec, MailTransportSpec):
                    raise PluginError(name, f"plugin {name!r}: crm_mail_transports must return MailTransportSpec objects")
                out.append((name, spec))
        return out


def _bind(fn: Callable[..., Any], argnames: Sequence[str]) -> Callable[[Any, Any], Any]:
    def call(crm: Any, events: Any) -> Any:
        values = {"crm": crm, "events": events}
        return fn(*[values[a] for a in argnames])

    return call
