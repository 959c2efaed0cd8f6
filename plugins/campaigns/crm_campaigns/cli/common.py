"""What the campaigns commands share: the API, template files, times, a send as a row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crm_core.cli.helpers import plugin_api

if TYPE_CHECKING:
    from crm_campaigns.api import CampaignsAPI
    from crm_campaigns.records import SendInfo
    from crm_core.cli.main import CLIState

__all__ = ["SEND_COLUMNS", "api", "local", "parse_time", "read_template", "send_row"]

SEND_COLUMNS = [
    "id",
    "campaign",
    "to",
    "status",
    "scheduled_for",
    "queued",
    "sent",
    "bounced",
    "waiting",
    "unsubscribed",
    "error",
]


def api(state: CLIState) -> CampaignsAPI:
    """The campaigns plugin's API of the command's app."""
    from crm_campaigns.api import CampaignsAPI

    campaigns: CampaignsAPI = plugin_api(state, "campaigns", CampaignsAPI)
    return campaigns


def read_template(path: str | None, option: str) -> str | None:
    """The text of a template file (UTF-8), or a clear error naming the option and the file."""
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.BadParameter(f"there is no file {path!r}", param_hint=option) from None
    except UnicodeDecodeError as exc:
        raise click.BadParameter(
            f"{path!r} is not UTF-8 text (byte {exc.start}); save it as UTF-8", param_hint=option
        ) from None
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path!r}: {exc.strerror}", param_hint=option) from None


def parse_time(value: str | None, app: Any, option: str) -> dt.datetime | None:
    """``2026-12-01 09:00`` (the app's time zone unless the value names one), or a clear error."""
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date and time such as '2026-12-01 09:00' (in the app's time zone)", param_hint=option
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=app.tz)


def local(state: CLIState, value: dt.datetime | None) -> str:
    """``value`` in the app's time zone, to the minute ('' for none)."""
    if value is None:
        return ""
    return value.astimezone(state.crm().tz).strftime("%Y-%m-%d %H:%M")


def send_row(state: CLIState, send: SendInfo) -> dict[str, Any]:
    c = send.counts
    return {
        "id": send.id,
        "campaign": send.campaign_name,
        "to": send.source,
        "status": send.status,
        "scheduled_for": local(state, send.scheduled_for),
        "queued": c.queued,
        "sent": c.sent,
        "bounced": c.bounced,
        "waiting": c.waiting,
        "unsubscribed": c.unsubscribed,
        "error": send.last_error or "",
    }
