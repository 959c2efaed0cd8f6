"""Database URLs: which backend, which file or server, and the options passed to the driver.

A URL's query string carries options (``postgresql://db/crm?sslmode=require``).
Each backend accepts the options listed here, and only those: an unknown one
is refused by name, with the list of the accepted ones, instead of being
dropped (a dropped ``sslmode=require`` once meant a connection without TLS).
docs/storage.md documents each one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs

from crm_core.config import DATABASE_SCHEMES
from crm_core.errors import StorageError

__all__ = ["OPTIONS", "POOL_OPTIONS", "ParsedURL", "describe_url", "parse_url"]


@attrs.frozen
class Option:
    """One URL option: how its text is checked and turned into the driver's value."""

    expects: str  # for the error message
    convert: Callable[[str], Any]


def _text(value: str) -> str:
    if not value:
        raise ValueError
    return value


def _seconds(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError
    return number


def _flag(value: str) -> bool:
    low = value.lower()
    if low in ("true", "yes", "on", "1"):
        return True
    if low in ("false", "no", "off", "0"):
        return False
    raise ValueError


def _choice(*choices: str) -> Option:
    def convert(value: str) -> str:
        if value.lower() not in choices:
            raise ValueError
        return value.lower()

    return Option("one of " + ", ".join(choices), convert)


TEXT = Option("a value", _text)
SECONDS = Option("a whole number of seconds (0 or more)", _seconds)
COUNT = Option("a whole number (0 or more)", _seconds)
FLAG = Option("true or false", _flag)

#: PostgreSQL: libpq's connection parameters, handed to psycopg2 as they are
POSTGRESQL_OPTIONS: dict[str, Option] = {
    "application_name": TEXT,
    "channel_binding": _choice("disable", "prefer", "require"),
    "client_encoding": TEXT,
    "connect_timeout": SECONDS,
    "gssencmode": _choice("disable", "prefer", "require"),
    "host": TEXT,
    "hostaddr": TEXT,
    "keepalives": _choice("0", "1"),
    "keepalives_count": COUNT,
    "keepalives_idle": SECONDS,
    "keepalives_interval": SECONDS,
    "options": TEXT,
    "passfile": TEXT,
    "port": Option("a port number", _positive),
    "service": TEXT,
    "sslcert": TEXT,
    "sslcrl": TEXT,
    "sslkey": TEXT,
    "sslmode": _choice("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "sslrootcert": TEXT,
    "target_session_attrs": _choice("any", "read-write", "read-only", "primary", "standby", "prefer-standby"),
    "tcp_user_timeout": Option("a whole number of milliseconds (0 or more)", _seconds),
}

#: MySQL/MariaDB: PyMySQL's keyword arguments, and ``ssl_mode`` as MySQL's own clients know it
MYSQL_OPTIONS: dict[str, Option] = {
    "connect_timeout": Option("a whole number of seconds (1 or more)", _positive),
    "read_timeout": Option("a whole number of seconds (1 or more)", _positive),
    "ssl_ca": TEXT,
    "ssl_cert": TEXT,
    "ssl_key": TEXT,
    "ssl_mode": _choice("disabled", "preferred", "required", "verify_ca", "verify_identity"),
    "unix_socket": TEXT,
    "write_timeout": Option("a whole number of seconds (1 or more)", _positive),
}

#: SQLite: how the file is opened
SQLITE_OPTIONS: dict[str, Option] = {
    "busy_timeout": Option("a whole number of milliseconds (0 or more)", _seconds),
    "mode": _choice("ro", "rw", "rwc"),
}

#: the servers: peewee's connection pool (playhouse.pool)
POOL_OPTIONS: dict[str, Option] = {
    "pool": FLAG,
    "pool_max_connections": Option("a whole number of connections (1 or more)", _positive),
    "pool_stale_timeout": SECONDS,
    "pool_timeout": SECONDS,
}

#: PostgreSQL: the kernel's own, taken out before the others go to psycopg2
POSTGRESQL_KERNEL_OPTIONS: dict[str, Option] = {
    "prepare": FLAG,
}

OPTIONS: dict[str, dict[str, Option]] = {
    "sqlite": SQLITE_OPTIONS,
    "postgresql": {**POSTGRESQL_OPTIONS, **POSTGRESQL_KERNEL_OPTIONS, **POOL_OPTIONS},
    "mysql": {**MYSQL_OPTIONS, **POOL_OPTIONS},
}
_BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB"}


@attrs.frozen
class ParsedURL:
    """A database URL taken apart (nothing connected yet)."""

    kind: str  # "sqlite", "postgresql" or "mysql"
    #: the SQLite file (or ":memory:"), or the server's database name
    name: str
    #: the server: host, port, user, password (only those given)
    server: dict[str, Any]
    #: the URL's options, converted, pool options apart
    options: dict[str, Any]
    #: ``None`` without ``pool=true``, else playhouse.pool's keyword arguments
    pool: dict[str, Any] | None


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def parse_url(url: str, base_dir: Path | None = None) -> ParsedURL:
    """Take ``url`` apart, or raise :class:`StorageError` naming what is wrong and the fix."""
    if "://" not in url:
        url = f"sqlite:///{url}"
    shown = describe_url(url)
    parts = urlsplit(url)
    kind = DATABASE_SCHEMES.get(parts.scheme.lower())
    if kind is None:
        raise StorageError(
            f"unknown database scheme {parts.scheme!r} in {shown!r}; use "
            "sqlite:///crm.db, postgresql://user@host/dbname or mysql://user@host/dbname"
        )
    options = _options(kind, parts.query, shown)
    pool = _pool(options, shown)
    if kind == "sqlite":
        path = url.split("://", 1)[1].partition("?")[0]
        path = unquote(path[1:] if path.startswith("/") else path)
        if not path:
            raise StorageError(f"database URL {shown!r} names no file; use sqlite:///crm.db")
        if path != ":memory:":
            file = Path(path)
            if not file.is_absolute() and base_dir is not None:
                file = base_dir / file
            path = str(file)
        return ParsedURL(kind, path, {}, options, None)
    name = unquote(parts.path.strip("/"))
    if not name:
        raise StorageError(f"database URL {shown!r} names no database; add it: {parts.scheme}://host/dbname")
    server: dict[str, Any] = {}
    if parts.hostname:
        # "%2Frun%2Fpostgresql" is a socket folder, as libpq reads it
        server["host"] = unquote(parts.hostname)
    try:
        port = parts.port
    except ValueError:
        raise StorageError(f"database URL {shown!r} has a port that is not a number; write host:5432") from None
    if port:
        server["port"] = port
    if parts.username:
        server["user"] = unquote(parts.username)
    if parts.password:
        server["password"] = unquote(parts.password)
    return ParsedURL(kind, name, server, options, pool)


def _options(kind: str, query: str, shown: str) -> dict[str, Any]:
    accepted = OPTIONS[kind]
    out: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise StorageError(
            f"database URL {shown!r}: cannot read its options {query!r}; write them as ?name=value&name=value"
        ) from None
    for key, value in pairs:
        option = accepted.get(key)
        if option is None:
            raise StorageError(
                f"database URL {shown!r}: unknown option {key!r}; the options for {_BACKEND_NAMES[kind]} are: "
                f"{', '.join(sorted(accepted))} (see the storage documentation)"
            )
        if key in out:
            raise StorageError(f"database URL {shown!r}: option {key!r} is given twice; keep one")
        try:
            out[key] = option.convert(value)
        except ValueError:
            raise StorageError(f"database URL {shown!r}: option {key}={value!r} must be {option.expects}") from None
    return out


def _pool(options: dict[str, Any], shown: str) -> dict[str, Any] | None:
    pooled = options.pop("pool", False)
    settings = {key: options.pop(key) for key in list(options) if key.startswith("pool_")}
    if settings and not pooled:
        raise StorageError(
            f"database URL {shown!r}: {', '.join(sorted(settings))} need(s) pool=true; add it, or remove them"
        )
    if not pooled:
        return None
    wait = settings.get("pool_timeout", 10)
    return {
        "max_connections": settings.get("pool_max_connections", 20),
        "stale_timeout": settings.get("pool_stale_timeout", 300),
        # playhouse.pool reads 0 as "wait for ever" and None as "do not wait": 0 here means do not wait
        "timeout": wait or None,
    }


def mysql_driver_options(options: dict[str, Any], shown: str) -> dict[str, Any]:
    """PyMySQL's keyword arguments for the URL's options (``ssl_mode`` spelled out)."""
    out = dict(options)
    mode = out.pop("ssl_mode", None)
    files = [key for key in ("ssl_ca", "ssl_cert", "ssl_key") if key in out]
    if mode == "disabled":
        if files:
            raise StorageError(f"database URL {shown!r}: ssl_mode=disabled contradicts {', '.join(files)}; remove one")
        out["ssl_disabled"] = True
    elif mode == "required" and not files:
        import ssl

        # PyMySQL insists on TLS when handed a context; "required" checks no certificate (as in MySQL's clients)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        out["ssl"] = context
    elif mode == "verify_ca":
        out["ssl_verify_cert"] = True
    elif mode == "verify_identity":
        out["ssl_verify_identity"] = True
    return out
