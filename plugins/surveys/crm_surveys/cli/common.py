"""What the surveys commands share: the plugin's API, as the acting user reaches it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_core.cli.helpers import actor_name, plugin_api

if TYPE_CHECKING:
    from crm_core.cli.main import CLIState
    from crm_surveys.api import SurveysAPI

__all__ = ["recorded_actor", "surveys_api"]


def surveys_api(state: CLIState) -> SurveysAPI:
    """The surveys plugin's API object of the command's app."""
    from crm_surveys.api import SurveysAPI

    return plugin_api(state, "surveys", SurveysAPI)


def recorded_actor(state: CLIState, given: str | None) -> str | None:
    """Who the answers are recorded as taken by: the acting CRM user (``crm --as``), or the system.

    ``--actor NAME`` is the older way: a bare label, kept for one release
    with a deprecation note. It may not name someone else than the acting user.
    """
    from crm_core.cli.main import CLIError
    from crm_core.output import note

    acting = actor_name(state)
    if given is None:
        return acting
    user = state.crm().current_user
    if user is not None and user.name.casefold() != given.casefold():
        raise CLIError(
            f"--actor {given!r} is not the acting user {user.name!r}; answers are recorded as the acting user's, "
            "so leave --actor out",
            2,
        )
    note("Note: --actor is deprecated; use 'crm --as USER …' (the option goes away in contract 2.0)")
    return user.name if user is not None else given
