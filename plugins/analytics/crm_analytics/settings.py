"""``[plugins.analytics]``: fiscal year, default period, survey questions, forecast, schedules.

::

    [plugins.analytics]
    fiscal_year_start = 1            # the month the (fiscal) year starts: quarters follow it
    default_period = "quarter"
    summaries = true                 # standard reports read the warehouse's summary tables where they can

    [plugins.analytics.surveys]
    nps_questions = ["nps", "recommend"]
    csat_questions = ["csat", "satisfaction"]
    response_window_days = 30

    [plugins.analytics.forecast]
    quarters = 4
    holdout = 4

    [[plugins.analytics.schedules]]
    name = "annual"
    report = "closed-share"
    rule = "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=2;BYHOUR=8;BYMINUTE=0"
    range = "previous-year"
    to = ["ceo@example.com"]
    run_as = "maria"                 # runs as this CRM user: only what she may read [default: the system]
"""

from __future__ import annotations

import re
from typing import Any

import attrs

__all__ = ["AnalyticsSettings", "ForecastSettings", "RANGES", "Schedule", "SurveySettings", "CHART_KINDS", "GRAINS"]

GRAINS = ("week", "month", "quarter", "year")
CHART_KINDS = ("bar", "line", "stacked", "none")
#: the relative date ranges a scheduled report can cover, resolved at each occurrence
RANGES = (
    "previous-month",
    "previous-quarter",
    "previous-year",
    "month-to-date",
    "quarter-to-date",
    "year-to-date",
    "last-4-quarters",
    "last-12-months",
)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,59}$")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")

    return check


@attrs.frozen
class SurveySettings:
    """``[plugins.analytics.surveys]``: which survey questions are NPS and CSAT."""

    nps_questions: list[str] = attrs.field(factory=lambda: ["nps", "recommend"])
    csat_questions: list[str] = attrs.field(factory=lambda: ["csat", "satisfaction"])
    response_window_days: int = attrs.field(default=30)

    @response_window_days.validator
    def _check_window(self, attribute: attrs.Attribute[Any], value: int) -> None:
        if not 1 <= value <= 366:
            raise ValueError(f"must be a number of days from 1 to 366, not {value}")


@attrs.frozen
class ForecastSettings:
    """``[plugins.analytics.forecast]``."""

    quarters: int = 4
    holdout: int = 4

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.quarters <= 12:
            raise ValueError(f"quarters must be from 1 to 12, not {self.quarters}")
        if not 1 <= self.holdout <= 8:
            raise ValueError(f"holdout must be from 1 to 8 quarters, not {self.holdout}")


@attrs.frozen
class Schedule:
    """One ``[[plugins.analytics.schedules]]`` table: a report e-mailed on a recurrence."""

    name: str
    report: str
    rule: str
    to: list[str]
    range: str = attrs.field(default="previous-quarter", validator=_one_of(RANGES))
    period: str | None = None
    chart: str = attrs.field(default="bar", validator=_one_of(CHART_KINDS))
    chart_format: str = attrs.field(default="png", validator=_one_of(("png", "svg")))
    subject: str = ""
    options: dict[str, Any] = attrs.field(factory=dict)
    #: the CRM user the report runs as (their permissions and scope); None: whoever sends it (the worker: the system)
    run_as: str | None = None

    def __attrs_post_init__(self) -> None:
        from crm_core.errors import ValidationError
        from crm_core.recurrence import parse

        if not _NAME.match(self.name):
            raise ValueError(
                f"name {self.name!r} must be lower-case letters, digits, '-' or '_' (up to 60), starting with a letter"
            )
        if not self.to:
            raise ValueError(f"schedule {self.name!r}: to lists nobody; give at least one e-mail address")
        bad = [a for a in self.to if not isinstance(a, str) or not _EMAIL.match(a)]
        if bad:
            raise ValueError(f"schedule {self.name!r}: {bad[0]!r} in to is not an e-mail address")
        if self.run_as is not None and (not isinstance(self.run_as, str) or not self.run_as.strip()):
            raise ValueError(f"schedule {self.name!r}: run_as must name a CRM user, not {self.run_as!r}")
        if self.period is not None and self.period not in GRAINS:
            raise ValueError(f"schedule {self.name!r}: period {self.period!r} is not one of {', '.join(GRAINS)}")
        try:
            parse(self.rule)
        except ValidationError as exc:
            raise ValueError(f"schedule {self.name!r}: {exc}") from None


@attrs.frozen
class AnalyticsSettings:
    """``[plugins.analytics]``."""

    #: the month (1-12) the fiscal year starts; quarters and years follow it
    fiscal_year_start: int = attrs.field(default=1)
    default_period: str = attrs.field(default="quarter", validator=_one_of(GRAINS))
    #: standard reports read the warehouse's summary tables where they apply (false: always the reporting tables)
    summaries: bool = True
    surveys: SurveySettings = attrs.field(factory=SurveySettings)
    forecast: ForecastSettings = attrs.field(factory=ForecastSettings)
    schedules: list[Schedule] = attrs.field(factory=list)

    @fiscal_year_start.validator
    def _check_month(self, attribute: attrs.Attribute[Any], value: int) -> None:
        if not 1 <= value <= 12:
            raise ValueError(f"must be a month number from 1 (January) to 12, not {value}")

    def __attrs_post_init__(self) -> None:
        names = [s.name for s in self.schedules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"schedules: the name {twice[0]!r} is used twice; give each schedule its own name")
