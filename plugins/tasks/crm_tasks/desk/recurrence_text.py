"""A recurring template's RFC 5545 rule in words, in the user's language (no Flask, no database).

``FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9`` → "Every week on Monday and Thursday at 09:00".
The common parts are described (FREQ, INTERVAL, BYDAY with an ordinal,
BYMONTHDAY, BYMONTH, BYHOUR, BYMINUTE, COUNT, UNTIL); a rule with any
other part is given back as written, which is never wrong.
"""

from __future__ import annotations

from crm_core.i18n import gettext as _

__all__ = ["describe_rrule"]

_KNOWN = {
    "FREQ",
    "INTERVAL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "COUNT",
    "UNTIL",
    "WKST",
}


def _day(code: str) -> str:
    return {
        "MO": _("Monday"),
        "TU": _("Tuesday"),
        "WE": _("Wednesday"),
        "TH": _("Thursday"),
        "FR": _("Friday"),
        "SA": _("Saturday"),
        "SU": _("Sunday"),
    }[code]


def _month(number: int) -> str:
    names = (
        _("January"),
        _("February"),
        _("March"),
        _("April"),
        _("May"),
        _("June"),
        _("July"),
        _("August"),
        _("September"),
        _("October"),
        _("November"),
        _("December"),
    )
    return names[number - 1]


def _ordinal(n: int) -> str:
    return {1: _("first"), 2: _("second"), 3: _("third"), 4: _("fourth"), -1: _("last")}[n]


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return _("%(items)s and %(last)s", items=", ".join(items[:-1]), last=items[-1])


def _byday(value: str) -> str:
    out = []
    for part in value.split(","):
        code = part[-2:]
        number = part[:-2]
        if number:
            out.append(_("the %(nth)s %(day)s", nth=_ordinal(int(number)), day=_day(code)))
        else:
            out.append(_day(code))
    return _join(out)


def describe_rrule(rule: str) -> str:
    """``rule`` in words; the rule itself when it has a part this does not describe."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    try:
        parts = dict(item.split("=", 1) for item in text.upper().split(";") if item)
        if not set(parts) <= _KNOWN:
            return rule
        return _describe(parts)
    except (ValueError, KeyError, IndexError):
        return rule


def _describe(parts: dict[str, str]) -> str:
    interval = int(parts.get("INTERVAL", "1"))
    freq = parts["FREQ"]
    if interval == 1:
        base = {
            "HOURLY": _("Every hour"),
            "DAILY": _("Every day"),
            "WEEKLY": _("Every week"),
            "MONTHLY": _("Every month"),
            "YEARLY": _("Every year"),
        }[freq]
    else:
        base = {
            "HOURLY": _("Every %(n)s hours", n=interval),
            "DAILY": _("Every %(n)s days", n=interval),
            "WEEKLY": _("Every %(n)s weeks", n=interval),
            "MONTHLY": _("Every %(n)s months", n=interval),
            "YEARLY": _("Every %(n)s years", n=interval),
        }[freq]
    words = [base]
    if "BYMONTH" in parts:
        words.append(_("in %(months)s", months=_join([_month(int(m)) for m in parts["BYMONTH"].split(",")])))
    if "BYDAY" in parts:
        words.append(_("on %(days)s", days=_byday(parts["BYDAY"])))
    if "BYMONTHDAY" in parts:
        days = [(_("the last day") if d == "-1" else _("day %(n)s", n=int(d))) for d in parts["BYMONTHDAY"].split(",")]
        words.append(_("on %(days)s", days=_join(days)))
    if "BYHOUR" in parts:
        minute = int(parts.get("BYMINUTE", "0").split(",")[0])
        times = [f"{int(h):02d}:{minute:02d}" for h in parts["BYHOUR"].split(",")]
        words.append(_("at %(times)s", times=_join(times)))
    if "COUNT" in parts:
        words.append(_("(%(n)s times)", n=int(parts["COUNT"])))
    if "UNTIL" in parts:
        until = parts["UNTIL"]
        words.append(_("until %(date)s", date=f"{until[0:4]}-{until[4:6]}-{until[6:8]}"))
    return " ".join(words)
