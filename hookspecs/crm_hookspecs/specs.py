"""The hook specifications: what the kernel asks of plugins.

Every hook is named ``crm_*``. The kernel calls most of them **once per
plugin** (in dependency order) so that it knows which plugin answered what;
these are marked *per plugin* below. The others are ordinary pluggy calls
whose results are collected in a list (*all results*).

A plugin implements any subset, with the same argument names (pluggy lets an
implementation take fewer arguments than the spec)::

    from crm_hookspecs import hookimpl

    @hookimpl
    def crm_startup(crm):
        crm.log.info("hello")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from crm_hookspecs._markers import hookspec

if TYPE_CHECKING:  # the kernel's app object, seen by type checkers only
    from crm_hookspecs.events import Event
    from crm_hookspecs.records import (
        ApiResource,
        CommandSpec,
        DeskPages,
        DeskSearchResult,
        JobSpec,
        MailTransportSpec,
        PermissionSpec,
        PluginSchema,
        PortalPage,
        RecordTypeSpec,
    )

    CRM = Any


@hookspec
def crm_schema() -> PluginSchema | None:
    """Declare the plugin's tables: its migrations folder and its models.

    *Per plugin.* Called by ``crm migrate`` (``crm.migrate()``), by
    ``crm.pending_migrations()`` and by ``crm doctor``. Return a
    :class:`~crm_hookspecs.records.PluginSchema`; its migrations are applied
    in numeric order, with the history kept per plugin, and each model's
    table name must start with ``<plugin>_``.
    """


@hookspec
def crm_config_section() -> type | None:
    """Declare the attrs class that validates ``[plugins.<name>]``.

    *Per plugin.* Called once while the app reads its configuration. The
    table is structured into this class with cattrs; unknown keys, wrong
    types and missing required keys are errors naming the file and key. The
    instance is then available as ``crm.settings("<name>")``.
    """


@hookspec
def crm_plugin_api(crm: CRM) -> object | None:
    """Return the object other code reaches as ``crm.plugin("<name>")``.

    *Per plugin*, called lazily on first access and cached for the app's
    life. It is how one plugin uses another without importing it.
    """


@hookspec
def crm_startup(crm: CRM) -> None:
    """The app is built: plugins registered, configuration validated.

    *Per plugin*, called in dependency order once per app, before any command
    runs; the result is ignored. An exception stops the app with a
    ``PluginError`` naming the plugin (a plugin that cannot start is not
    silently skipped). Database tables may not exist yet (before ``crm
    migrate``); do not query them here.
    """


@hookspec
def crm_shutdown(crm: CRM) -> None:
    """The app is closing (``crm.close()``). Release what ``crm_startup`` took.

    *All results* (ignored), called in reverse dependency order; every
    implementation is called even when one raises.
    """


@hookspec
def crm_cli_commands() -> Sequence[CommandSpec] | None:
    """Contribute ``crm`` subcommands as :class:`~crm_hookspecs.commands.CommandSpec`.

    *All results*, concatenated. Called every time the CLI starts, including
    for ``crm --help``, so the module implementing this hook must be cheap to
    import: the command's own module is imported only when it runs.
    """


@hookspec
def crm_handle_events(crm: CRM, events: Sequence[Event]) -> None:
    """Handle a batch of events, in the order they were emitted.

    *Per plugin* (each plugin is one handler with its own progress). Called
    after the transaction that emitted the events has committed, inside a
    transaction of its own: if it raises, its writes are rolled back, the
    events are retried later one by one, and the failure is listed by ``crm
    events failed``. Delivery is at-least-once, so handlers must be
    idempotent (use ``event.event_id``). Events of types the plugin does not
    know are in the batch too; ignore them.
    """


@hookspec
def crm_demo_data(crm: CRM) -> str | Sequence[str] | None:
    """Load sample records for ``crm demo`` and say what was done.

    *Per plugin*, in dependency order (so contacts exist before the plugins
    that refer to them), on a migrated database. Return one line or a few
    lines for the demo's report.
    """


@hookspec
def crm_export_personal_data(crm: CRM, contact_id: int) -> dict[str, Any] | None:
    """Return everything this plugin holds about one contact, JSON-ready.

    *Per plugin.* Called by ``crm contacts export-personal-data``; the
    results are gathered under each plugin's name. Return ``None`` when the
    plugin holds nothing about the contact.
    """


@hookspec
def crm_erase_personal_data(crm: CRM, contact_id: int) -> int | None:
    """Anonymise what this plugin holds about one contact; return how many records.

    *Per plugin*, inside the transaction of ``crm contacts erase``: if one
    plugin raises, nothing is erased anywhere. Keep what the law lets you keep
    (amounts of sales, for instance) but remove what identifies the person.
    Called in reverse dependency order (like :func:`crm_shutdown`), so the
    plugins yours requires still hold the person while it runs. The kernel
    then erases him from its own tables (events, mail queue, worker records)
    with the values of :func:`crm_personal_values`.
    """


@hookspec
def crm_personal_values(crm: CRM, contact_id: int) -> Sequence[str] | None:
    """Return the values by which this plugin knows one person: e-mail addresses, phone numbers, names, street lines.

    *Per plugin*, inside the transaction of ``crm contacts erase``, before
    any plugin's :func:`crm_erase_personal_data` runs. The kernel gathers
    every plugin's values and, once the plugins have erased their own
    tables, removes them from its own: the event outbox, the mail queue and
    the worker's records (see ``docs/privacy.md``). Return only values that
    identify the person on their own (a full name, not a first name; a
    street and number, not a city): each is replaced wherever it appears,
    in other people's records too. Values shorter than three characters are
    ignored.
    """


@hookspec
def crm_contacts_merged(crm: CRM, survivor_id: int, merged_id: int) -> dict[str, list[int]] | None:
    """Move this plugin's references from ``merged_id`` to ``survivor_id``.

    *Per plugin*, inside the merge's transaction. Return what was moved as
    ``{table: [row ids]}``; the kernel keeps it with the merge and hands it
    back to :func:`crm_contacts_unmerged` if the merge is undone.
    """


@hookspec
def crm_contacts_unmerged(crm: CRM, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    """Undo :func:`crm_contacts_merged`: point the rows in ``moved`` back to ``merged_id``.

    *Per plugin*, inside the unmerge's transaction, with exactly what this
    plugin returned when the merge was made.
    """


@hookspec
def crm_worker_jobs(crm: CRM) -> Sequence[JobSpec] | None:
    """Contribute timed jobs (:class:`~crm_hookspecs.records.JobSpec`) to ``crm worker``.

    *All results*, concatenated; job names must be unique (prefix them with
    the plugin's name). Called when the worker starts.
    """


@hookspec
def crm_mail_transports() -> Sequence[MailTransportSpec] | None:
    """Contribute mail transports that ``[crm.mail] transport`` can name.

    *All results*, concatenated. The kernel ships ``file``, ``smtp`` and
    ``memory``; a plugin could add an HTTP mail API.
    """


@hookspec
def crm_task_rules(crm: CRM) -> Sequence[Mapping[str, Any]] | None:
    """Contribute rules to the tasks plugin, in the format of ``[[plugins.tasks.rules]]``.

    *Per plugin*, called by the tasks plugin (when it is enabled) when the
    app starts (its ``crm_startup``), after it has read its own rules from
    the configuration; do not query tables here. Return a list of dicts, each shaped like one
    ``[[plugins.tasks.rules]]`` table (``name``, ``trigger``, ``action``,
    ``event``, ``when``, ``task`` or ``notify``…; see the tasks plugin's
    documentation). They are validated like the configuration's rules: an
    unknown trigger, action, event type, field, staff member or team is a
    ``ConfigError`` naming the plugin and the rule, and a name already used
    by another rule is refused.
    """


@hookspec
def crm_report_definitions(crm: CRM) -> Sequence[Mapping[str, Any]] | None:
    """Contribute custom reports to the analytics plugin, in the format of its report files.

    *Per plugin*, called by the analytics plugin (when it is enabled) each
    time it lists or runs reports (``crm reports list``, ``crm reports run
    NAME``, a scheduled report). Return a list of dicts, each shaped like
    one report file (``name``, ``title``, ``view``, ``dimensions``,
    ``measures``, ``filters``, ``period``, ``sort``, ``limit``, ``chart``;
    see the analytics plugin's documentation). They are validated like a
    file: a view or field that does not exist, an aggregate on text, or a
    name already used by another plugin's report is a ``PluginError`` naming
    the plugin and the report.
    """


@hookspec
def crm_portal_pages(crm: CRM) -> Sequence[PortalPage] | None:
    """Contribute pages to the customer portal, as :class:`~crm_hookspecs.records.PortalPage`.

    *Per plugin*, called by the portal plugin (when it is enabled) each time
    it builds its web app (``crm_portal.create_app(crm)``, ``crm portal
    serve``). Each page is mounted under the portal's root with the endpoint
    ``<plugin>.<name>`` and gets the portal's protections: a CSRF check on
    every POST, a rate limit per client address on POSTs, the security
    headers and the error pages (no traceback reaches the browser). An
    exception, anything other than a list of ``PortalPage``, or a rule or
    name that another page already uses, is a ``PluginError`` naming the
    plugin, and the portal does not start.
    """


@hookspec
def crm_unsubscribe_urls(crm: CRM, contact_ids: Sequence[int], mailing_list: str | None) -> Sequence[str | None] | None:
    """Return one unsubscribe address (an ``https://`` URL) per contact, for bulk mail.

    *Per plugin*, in dependency order; the first plugin that returns a list
    wins. Called by the kernel's mail queue when bulk mail is queued
    (``crm.mail.queue(..., bulk=True, contact_id=...)``, or
    ``OutgoingMessage(..., bulk=True)`` in ``queue_many``), once per batch
    of messages for the same ``mailing_list`` (``None``: the messages are
    not about one list, and the link unsubscribes from all mail). Return a
    list as long as ``contact_ids``, in the same order, or ``None`` when the
    plugin serves no unsubscribe page; an entry may be ``None`` for a
    contact the plugin cannot link. The kernel puts the address in the
    ``List-Unsubscribe`` header (with ``List-Unsubscribe-Post`` for one-click
    unsubscribing, RFC 8058) and in a line at the end of the bodies. The
    portal plugin implements it.
    """


@hookspec
def crm_permissions() -> Sequence[PermissionSpec | RecordTypeSpec] | None:
    """Declare the permissions this plugin checks and its record types that have an owner.

    *Per plugin* (contract 1.1.0). Called when the app first needs its
    roles (``crm.authz``: the first ``crm.as_user``, a permission check, a
    ``crm users``/``crm roles`` command). Return a list of
    :class:`~crm_hookspecs.records.PermissionSpec` and
    :class:`~crm_hookspecs.records.RecordTypeSpec`; every name must start
    with the plugin's name and a dot (``contacts.edit``,
    ``contacts.contact``), and a permission's ``record_type`` must be one
    the plugin declares. Anything else is a ``PluginError`` naming the
    plugin. The roles of the configuration and of ``crm roles`` grant these
    permissions; the plugin checks them with ``crm.authz.require(...)``.
    """


@hookspec
def crm_api_resources(crm: CRM) -> Sequence[ApiResource] | None:
    """Contribute resources to the HTTP API (the ``crm-api`` plugin serves them under ``/api/v1``).

    *Per plugin* (contract 1.2.0). Return :class:`~crm_hookspecs.records.ApiResource`
    records, each a group of :class:`~crm_hookspecs.records.ApiOperation`.
    A handler calls the plugin's API object, never its tables, and runs as
    the API token's user, so the permissions and record scopes the API
    object checks apply; a record out of the caller's scope is answered
    ``404`` (the HTTP layer turns a ``PermissionDenied`` about one record
    into a ``404``, so ids do not leak). Two operations with one method and
    path, or one ``operation_id``, are a ``PluginError`` naming both plugins.
    Called once when the API app is built; without the ``crm-api`` plugin it
    is never called.
    """


@hookspec
def crm_desk_pages(crm: CRM) -> DeskPages | None:
    """Contribute pages, navigation entries, home-page widgets, contact-card panels and actions to the staff web app.

    *Per plugin* (contract 1.3.0). Return one
    :class:`~crm_hookspecs.records.DeskPages` (or ``None``). Called by the
    desk plugin (``crm-desk``) each time it builds its web app
    (``crm_desk.create_app(crm)``, ``crm desk serve``); without the desk it
    is never called, so return the record without importing Flask:
    ``DeskPages.blueprint`` is a function the desk calls then, which imports
    the plugin's web code and returns a ``flask.Blueprint``. The desk
    mounts it at ``url_prefix`` (``/<plugin>``), behind its sign-in, CSRF
    check, security headers and error pages, and shows each entry only to
    users who hold its ``permission``. An exception, a result that is not a
    ``DeskPages``, a permission that no plugin declares, or a blueprint
    that clashes with another is a ``PluginError`` naming the plugin, and the
    desk does not start.
    """


@hookspec
def crm_desk_search(crm: CRM, query: str, limit: int) -> Sequence[DeskSearchResult] | None:
    """Find what matches ``query`` for the staff web app's search box.

    *Per plugin* (contract 1.3.0). Called by the desk (``crm-desk``) on each
    search, as the signed-in user, with the text typed (stripped, never
    empty, at most 200 characters) and the most results wanted from each
    plugin (``limit``). Return a list of
    :class:`~crm_hookspecs.records.DeskSearchResult` (at most ``limit``;
    more are cut), best match first, or ``None``; search through your
    plugin's API so that the user's permissions and scope apply, and return
    nothing (not an error) to a user who may not read what you hold. The
    desk groups the results by ``kind``; a plugin that raises or returns
    something else is left out of that search with a notice, and logged.
    """
