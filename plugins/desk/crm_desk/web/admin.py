"""Administration: users, teams, roles and their permission matrix, API tokens (the ``admin`` blueprint, ``/admin``).

Every page calls the kernel's services as the signed-in user
(``crm.authz.users``, ``teams``, ``roles``, ``tokens``), so the kernel's
checks apply: ``admin.users`` for users and teams, ``admin.roles`` for
roles, ``admin.tokens`` for tokens, ``admin.system`` for the system pages
(:mod:`crm_desk.web.system`), and ``require_over`` (nobody manages a
user who holds more than they do). A user who holds none of these gets 403
on every page here and no "Administration" entry in the navigation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import flask
from flask import g, request

from crm_core.errors import NotFoundError, PermissionDenied, UserDisabledError, ValidationError
from crm_core.i18n import N_
from crm_core.i18n import gettext as _
from crm_desk.web.render import page

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["SECTIONS", "register", "sections"]

#: the sections of the administration: (endpoint, label, permission), in the order of the tabs
SECTIONS = (
    ("admin.users", N_("Users"), "admin.users"),
    ("admin.teams", N_("Teams"), "admin.users"),
    ("admin.roles", N_("Roles"), "admin.roles"),
    ("admin.tokens", N_("API tokens"), "admin.tokens"),
    ("admin.system", N_("System"), "admin.system"),
    ("admin.mail", N_("Mail queue"), "admin.system"),
    ("admin.jobs", N_("Jobs"), "admin.system"),
    ("admin.events", N_("Event deliveries"), "admin.system"),
)


def sections(crm: CRM) -> list[tuple[str, str]]:
    """The ``(endpoint, label)`` of the sections the acting user may open (none: no "Administration" entry)."""
    return [(endpoint, label) for endpoint, label, permission in SECTIONS if crm.authz.can(permission)]


def register(app: flask.Flask) -> None:
    """Add the administration's blueprint at ``/admin`` and the navigation entry for the users who may see it."""
    from crm_desk.web import system

    blueprint = flask.Blueprint("admin", __name__)
    blueprint.before_request(_allowed)
    rules: list[tuple[str, Any, list[str]]] = [
        ("/", index, ["GET"]),
        ("/users", users, ["GET"]),
        ("/users/new", user_new, ["GET", "POST"]),
        ("/users/<name>", user_edit, ["GET", "POST"]),
        ("/users/<name>/disable", user_disable, ["POST"]),
        ("/users/<name>/enable", user_enable, ["POST"]),
        ("/users/<name>/reset", user_reset, ["POST"]),
        ("/teams", teams, ["GET", "POST"]),
        ("/teams/<name>", team_edit, ["GET", "POST"]),
        ("/teams/<name>/remove", team_remove, ["POST"]),
        ("/roles", roles, ["GET"]),
        ("/roles/new", role_new, ["GET", "POST"]),
        ("/roles/<name>", role_edit, ["GET", "POST"]),
        ("/roles/<name>/remove", role_remove, ["POST"]),
        ("/tokens", tokens, ["GET"]),
        ("/tokens/new", token_new, ["GET", "POST"]),
        ("/tokens/<prefix>/revoke", token_revoke, ["GET", "POST"]),
        *system.RULES,
    ]
    for rule, view, methods in rules:
        blueprint.add_url_rule(rule, view.__name__, view, methods=methods)
    app.register_blueprint(blueprint, url_prefix="/admin")

    @app.context_processor
    def _admin_sections() -> dict[str, Any]:
        # the app's CRM, not g.crm: a template rendered outside a request of the desk (a panel, a mail) has no g.crm
        return {"admin_sections": sections(app.extensions["crm"]) if g.get("user") is not None else []}


def _allowed() -> None:
    """Every administration page: 403 for a user who may open none of its sections."""
    if g.get("user") is not None and not sections(g.crm):
        flask.abort(403)


def _require(permission: str) -> None:
    g.crm.authz.require(permission)


def _field_of(message: str, fields: dict[str, str]) -> str:
    """The form field a kernel ``ValidationError`` is about, by the words its message starts with."""
    lowered = message.lower().removeprefix("the ")
    for start, field in fields.items():
        if lowered.startswith(start):
            return field
    for word, field in fields.items():
        if word in lowered:
            return field
    return "form"


def _checked(name: str) -> list[str]:
    return [v for v in request.form.getlist(name) if v]


def index() -> Any:
    """The first section the user may open."""
    return flask.redirect(flask.url_for(sections(g.crm)[0][0]))


# -- users ---------------------------------------------------------------------

_USER_FIELDS = {
    "user name": "name",
    "e-mail": "email",
    "unknown role": "roles",
    "role": "roles",
    "no team": "teams",
    "password": "password",
}


def _choices(crm: CRM) -> dict[str, Any]:
    return {
        "role_options": [(r, r) for r in sorted(r.name for r in crm.authz.roles.all())],
        "team_options": [(t["name"], t["name"]) for t in crm.authz.teams.list()],
    }


def users() -> Any:
    """Every user: name, display name, e-mail, roles, teams, active, last sign-in, two-factor."""
    _require("admin.users")
    return page("desk/admin/users.html", users=g.crm.authz.users.list())


def user_new() -> Any:
    """Add a user with a first password, or a link by e-mail to choose one."""
    _require("admin.users")
    crm = g.crm
    form: dict[str, Any] = {"name": "", "display_name": "", "email": "", "roles": [], "teams": [], "access": "link"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {
            "name": request.form.get("name", "").strip(),
            "display_name": request.form.get("display_name", "").strip(),
            "email": request.form.get("email", "").strip(),
            "roles": _checked("roles"),
            "teams": _checked("teams"),
            "access": request.form.get("access", "link"),
        }
        password = request.form.get("password", "")
        if not form["name"]:
            errors["name"] = _("Type a user name.")
        if form["access"] == "password" and not password:
            errors["password"] = _("Type a first password, or choose to send a link.")
        if form["access"] != "password" and not form["email"]:
            errors["email"] = _("A link can only be sent to an e-mail address: type one, or give a first password.")
        if not errors:
            try:
                crm.authz.users.add(
                    form["name"],
                    display_name=form["display_name"],
                    email=form["email"] or None,
                    roles=form["roles"],
                    teams=form["teams"],
                    password=password if form["access"] == "password" else None,
                )
            except (ValidationError, NotFoundError) as exc:
                errors[_field_of(str(exc), _USER_FIELDS)] = str(exc)
        if not errors:
            if form["access"] != "password" and _send_link(form["name"]):
                flask.flash(
                    _("User %(name)s is added; a link to choose a password is on its way.", name=form["name"]),
                    "success",
                )
            else:
                flask.flash(_("User %(name)s is added.", name=form["name"]), "success")
            return flask.redirect(flask.url_for("admin.user_edit", name=form["name"]))
    return page("desk/admin/user_new.html", 400 if errors else 200, form=form, errors=errors, **_choices(crm))


def _send_link(name: str) -> bool:
    from crm_desk.mails import send_reset_link

    return send_reset_link(g.crm, name, request.remote_addr)


def user_edit(name: str) -> Any:
    """A user's display name, e-mail, roles and teams; disable, enable, send a password reset."""
    _require("admin.users")
    crm = g.crm
    user = crm.authz.users.get(name)
    errors: dict[str, str] = {}
    form: dict[str, Any] = {
        "display_name": user.display_name,
        "email": user.email or "",
        "roles": list(user.roles),
        "teams": list(user.teams),
    }
    if request.method == "POST":
        form = {
            "display_name": request.form.get("display_name", "").strip(),
            "email": request.form.get("email", "").strip(),
            "roles": _checked("roles"),
            "teams": _checked("teams"),
        }
        try:
            crm.authz.users.edit(
                user.id,
                display_name=form["display_name"],
                email=form["email"] or None,
                add_roles=[r for r in form["roles"] if r not in user.roles],
                remove_roles=[r for r in user.roles if r not in form["roles"]],
                add_teams=[t for t in form["teams"] if t not in user.teams],
                remove_teams=[t for t in user.teams if t not in form["teams"]],
            )
        except (ValidationError, NotFoundError) as exc:
            errors[_field_of(str(exc), {**_USER_FIELDS, "admin": "roles"})] = str(exc)
        else:
            flask.flash(_("The changes to %(name)s are saved.", name=user.name), "success")
            return flask.redirect(flask.url_for("admin.user_edit", name=user.name))
    return page(
        "desk/admin/user_edit.html", 400 if errors else 200, subject=user, form=form, errors=errors, **_choices(crm)
    )


def _user_action(name: str, action: str) -> Any:
    _require("admin.users")
    crm = g.crm
    user = crm.authz.users.get(name)
    try:
        if action == "disable":
            crm.authz.users.disable(user.id)
            flask.flash(_("%(name)s is disabled: their sessions have ended.", name=user.name), "success")
        elif action == "enable":
            crm.authz.users.enable(user.id)
            flask.flash(_("%(name)s is enabled.", name=user.name), "success")
        elif not user.email:
            flask.flash(_("%(name)s has no e-mail address: add one first.", name=user.name), "error")
        else:
            crm.authz.require_over("admin.users", user)
            if _send_link(user.name):
                flask.flash(
                    _("A link to choose a new password is on its way to %(email)s.", email=user.email), "success"
                )
            else:
                flask.flash(
                    _("No link was sent: the user is disabled, or was sent three links within the hour."), "error"
                )
    except ValidationError as exc:
        flask.flash(str(exc), "error")
    return flask.redirect(flask.url_for("admin.user_edit", name=user.name))


def user_disable(name: str) -> Any:
    """Disable a user (their sessions end); the last admin cannot be disabled."""
    return _user_action(name, "disable")


def user_enable(name: str) -> Any:
    """Enable a disabled user."""
    return _user_action(name, "enable")


def user_reset(name: str) -> Any:
    """Send the user a link by e-mail to choose a new password."""
    return _user_action(name, "reset")


# -- teams ---------------------------------------------------------------------


def teams() -> Any:
    """The teams with their members, and a form to add one."""
    _require("admin.users")
    crm = g.crm
    form = {"name": "", "description": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {
            "name": request.form.get("name", "").strip(),
            "description": request.form.get("description", "").strip(),
        }
        try:
            crm.authz.teams.add(form["name"], form["description"])
        except ValidationError as exc:
            errors["name"] = str(exc)
        else:
            flask.flash(_("Team %(name)s is added.", name=form["name"]), "success")
            return flask.redirect(flask.url_for("admin.team_edit", name=form["name"]))
    return page("desk/admin/teams.html", 400 if errors else 200, teams=crm.authz.teams.list(), form=form, errors=errors)


def team_edit(name: str) -> Any:
    """A team's members: tick the users who belong to it."""
    _require("admin.users")
    crm = g.crm
    team = crm.authz.teams.get(name)
    everyone = crm.authz.users.list()
    error = None
    if request.method == "POST":
        wanted = set(_checked("members"))
        try:
            for user in everyone:
                if user.name in wanted and user.name not in team["members"]:
                    crm.authz.users.edit(user.id, add_teams=[team["name"]])
                elif user.name not in wanted and user.name in team["members"]:
                    crm.authz.users.edit(user.id, remove_teams=[team["name"]])
        except (ValidationError, PermissionDenied) as exc:
            error = str(exc)
        else:
            flask.flash(_("The members of %(name)s are saved.", name=team["name"]), "success")
            return flask.redirect(flask.url_for("admin.team_edit", name=team["name"]))
        team = crm.authz.teams.get(name)
    return page("desk/admin/team_edit.html", 400 if error else 200, team=team, users=everyone, error=error)


def team_remove(name: str) -> Any:
    """Remove a team (refused while it has members)."""
    _require("admin.users")
    try:
        g.crm.authz.teams.remove(name)
    except ValidationError as exc:
        flask.flash(str(exc), "error")
        return flask.redirect(flask.url_for("admin.team_edit", name=name))
    flask.flash(_("Team %(name)s is removed.", name=name), "success")
    return flask.redirect(flask.url_for("admin.teams"))


# -- roles ---------------------------------------------------------------------


def _permission_groups(crm: CRM) -> list[tuple[str, list[Any]]]:
    """The declared permissions grouped by the plugin that declares them (``crm``: the kernel), by name."""
    declared = crm.authz.declared
    groups: dict[str, list[Any]] = {}
    for name in sorted(declared.permissions):
        groups.setdefault(declared.owners[name], []).append(declared.permissions[name])
    return sorted(groups.items(), key=lambda item: (item[0] != "crm", item[0]))


def roles() -> Any:
    """The permission matrix: permissions as rows by plugin, roles as columns, the scope in each cell."""
    from crm_core.auth.registry import grants_of

    _require("admin.roles")
    crm = g.crm
    every = crm.authz.roles.all()
    grants = {role.name: grants_of([role], crm.authz.declared) for role in every}
    return page("desk/admin/roles.html", roles=every, groups=_permission_groups(crm), grants=grants)


def _role_form() -> dict[str, Any]:
    scopes = {}
    for record_type in g.crm.authz.declared.record_types:
        value = request.form.get("scope:" + record_type, "")
        if value:
            scopes[record_type] = value
    return {
        "name": request.form.get("name", "").strip(),
        "description": request.form.get("description", "").strip(),
        "permissions": _checked("permissions"),
        "scopes": scopes,
    }


def _role_page(template: str, status: int, **values: Any) -> Any:
    crm = g.crm
    role = values.get("role")
    declared = crm.authz.declared.permissions
    return page(
        template,
        status,
        groups=_permission_groups(crm),
        record_types=sorted(crm.authz.declared.record_types),
        scope_options=[("", _("default (own)")), ("own", _("own")), ("team", _("team")), ("all", _("all"))],
        # what a role grants by pattern (``*.read``, ``!admin.*``): shown, not on the form
        patterns=[p for p in role.permissions if p.lstrip("!") not in declared] if role else [],
        **values,
    )


_ROLE_FIELDS = {"scope": "scopes", "record type": "scopes", "permission": "permissions", "role": "name"}


def role_new() -> Any:
    """Make a custom role: its name, description, permissions and a scope per record type."""
    _require("admin.roles")
    form: dict[str, Any] = {"name": "", "description": "", "permissions": [], "scopes": {}}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = _role_form()
        if not form["name"]:
            errors["name"] = _("Type a name for the role.")
        else:
            try:
                warnings = g.crm.authz.roles.add(
                    form["name"],
                    description=form["description"],
                    permissions=form["permissions"],
                    scopes=form["scopes"],
                )
            except ValidationError as exc:
                errors[_field_of(str(exc).split(": ", 1)[-1], _ROLE_FIELDS)] = str(exc)
            else:
                for warning in warnings:
                    flask.flash(warning, "error")
                flask.flash(_("Role %(name)s is added.", name=form["name"]), "success")
                return flask.redirect(flask.url_for("admin.roles"))
    return _role_page("desk/admin/role_form.html", 400 if errors else 200, form=form, errors=errors, role=None)


def role_edit(name: str) -> Any:
    """A custom role's description, permissions and scopes; built-in and configured roles are shown read-only."""
    _require("admin.roles")
    crm = g.crm
    try:
        role = crm.authz.roles.get(name)
    except ValidationError:  # the kernel's answer for an unknown role name
        flask.abort(404)
    form: dict[str, Any] = {
        "name": role.name,
        "description": role.description,
        "permissions": list(role.permissions),
        "scopes": dict(role.scopes),
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        if role.source != "database":
            flask.abort(405)
        form = {**_role_form(), "name": role.name}
        chosen = set(form["permissions"])
        declared = crm.authz.declared.permissions
        try:
            warnings = crm.authz.roles.edit(
                role.name,
                description=form["description"],
                grant=[p for p in form["permissions"] if p not in role.permissions],
                # patterns (``*.read``) are not on the form: they stay
                revoke=[p for p in role.permissions if p in declared and p not in chosen],
                scopes=form["scopes"],
            )
        except ValidationError as exc:
            errors[_field_of(str(exc).split(": ", 1)[-1], _ROLE_FIELDS)] = str(exc)
        else:
            for warning in warnings:
                flask.flash(warning, "error")
            flask.flash(_("Role %(name)s is saved.", name=role.name), "success")
            return flask.redirect(flask.url_for("admin.role_edit", name=role.name))
    return _role_page("desk/admin/role_form.html", 400 if errors else 200, form=form, errors=errors, role=role)


def role_remove(name: str) -> Any:
    """Remove a custom role (refused while users hold it)."""
    _require("admin.roles")
    try:
        g.crm.authz.roles.remove(name)
    except ValidationError as exc:
        flask.flash(str(exc), "error")
        return flask.redirect(flask.url_for("admin.role_edit", name=name))
    flask.flash(_("Role %(name)s is removed.", name=name), "success")
    return flask.redirect(flask.url_for("admin.roles"))


# -- tokens --------------------------------------------------------------------


def tokens() -> Any:
    """Every API token: whose, name, scopes, created, expires, last used, revoked."""
    _require("admin.tokens")
    return page("desk/admin/tokens.html", tokens=g.crm.authz.tokens.list(), now=g.crm.clock.now())


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


def token_new() -> Any:
    """Make a token for a user; its text is shown once, on the answer to this form."""
    _require("admin.tokens")
    crm = g.crm
    form = {"user": "", "name": "", "days": "", "scopes": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {key: request.form.get(key, "").strip() for key in form}
        days: int | None = None
        if form["days"]:
            try:
                days = int(form["days"])
            except ValueError:
                errors["days"] = _("Type a whole number of days, such as 90.")
        if not form["user"]:
            errors["user"] = _("Choose the user the token acts as.")
        if not errors:
            try:
                made = crm.authz.tokens.create(
                    form["user"], form["name"], scopes=_words(form["scopes"]) or None, days=days
                )
            except NotFoundError as exc:
                errors["user"] = str(exc)
            except (PermissionDenied, UserDisabledError) as exc:
                errors["user" if "scopes" not in str(exc) and "cannot have" not in str(exc) else "scopes"] = str(exc)
            except ValidationError as exc:
                errors[
                    _field_of(str(exc), {"scope": "scopes", "permission": "scopes", "life": "days", "name": "name"})
                ] = str(exc)
            else:
                return page("desk/admin/token_made.html", made=made)
    users = [u.name for u in crm.authz.users.list(include_disabled=False)]
    return page("desk/admin/token_new.html", 400 if errors else 200, form=form, errors=errors, users=users)


def token_revoke(prefix: str) -> Any:
    """Ask, then revoke a token: it stops working at once."""
    _require("admin.tokens")
    crm = g.crm
    token = crm.authz.tokens.get(prefix)
    if request.method == "POST":
        crm.authz.tokens.revoke(token.prefix)
        flask.flash(_("Token %(prefix)s is revoked.", prefix=token.prefix), "success")
        return flask.redirect(flask.url_for("admin.tokens"))
    return page("desk/admin/token_revoke.html", token=token)
