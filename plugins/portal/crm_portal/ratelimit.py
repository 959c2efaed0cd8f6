"""Rate limits kept in the database, so that every worker process shares them.

Each limit is "count per period" for one key (``signup:ip:192.0.2.7``). Hits
are counted in fixed windows of the period, and a request is judged on a
sliding estimate: the current window's hits plus the previous window's,
weighted by how much of it still lies within one period back. A flood at
the end of one window therefore still counts at the start of the next.
Every attempt counts, refused ones too, so a client that keeps hammering
stays refused.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from typing import TYPE_CHECKING

import attrs

from crm_core.storage import dialect
from crm_portal.models import RateHit
from crm_portal.settings import parse_limit

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["RateDecision", "client_key", "email_key", "hit"]


@attrs.frozen
class RateDecision:
    allowed: bool
    #: seconds until a new attempt would be allowed (0 when allowed)
    retry_after: int = 0


def client_key(address: str | None) -> str:
    """The part of a client address a limit counts: the address, or an IPv6 address's /64 network.

    One IPv6 host usually owns a whole /64, so counting single addresses
    would let it change address at each attempt.
    """
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def email_key(address: str) -> str:
    """An e-mail address as a limit key: hashed, so the table holds no address."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:40]


def hit(crm: CRM, key: str, rate: str) -> RateDecision:
    """Count one attempt under ``key`` and say whether it stays within ``rate`` ("5/hour")."""
    import datetime as dt

    limit, period = parse_limit(rate)
    now = crm.clock.now()
    stamp = now.timestamp()
    window = int(stamp // period)
    ends_at = dt.datetime.fromtimestamp((window + 1) * period, dt.UTC)
    with crm.transaction():
        insert = RateHit.insert(key=key, window=window, hits=1, ends_at=ends_at)
        if dialect(crm.database) == "mysql":
            insert = insert.on_conflict(update={RateHit.hits: RateHit.hits + 1})
        else:
            insert = insert.on_conflict(
                conflict_target=[RateHit.key, RateHit.window], update={RateHit.hits: RateHit.hits + 1}
            )
        insert.execute()
        counts: dict[int, int] = dict(
            RateHit.select(RateHit.window, RateHit.hits)
            .where((RateHit.key == key) & RateHit.window.in_([window - 1, window]))
            .tuples()
            .iterator()
        )
    current, previous = counts.get(window, 1), counts.get(window - 1, 0)
    elapsed = stamp - window * period
    weight = (period - elapsed) / period
    if previous * weight + current <= limit:
        return RateDecision(True)
    if current > limit:
        wait = (window + 1) * period - stamp  # the current window alone is over: wait for its end
    else:
        # the previous window's share fades linearly: wait until it fits
        fits_at = period * (1 - (limit - current) / previous)
        wait = fits_at - elapsed
    return RateDecision(False, max(1, math.ceil(wait)))


def clean(crm: CRM) -> int:
    """Delete the counters of windows that can no longer count; returns how many."""
    import datetime as dt

    limits = crm.settings("portal").limits
    longest = max(parse_limit(getattr(limits, f.name))[1] for f in attrs.fields(type(limits)))
    # a window counts while it is the current or the previous one
    cutoff = crm.clock.now() - dt.timedelta(seconds=longest)
    with crm.transaction():
        deleted: int = RateHit.delete().where(RateHit.ends_at < cutoff).execute()
        return deleted
