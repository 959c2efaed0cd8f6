"""E-mail addresses and header values: parsed, checked, normalised.

Kept free of database imports: the configuration validates the sender with
it, and :class:`~crm_core.mail.OutgoingMessage` validates every field with
it when the record is made.
"""

from __future__ import annotations

import functools
import re

import attrs

from crm_core.errors import ValidationError

__all__ = [
    "Address",
    "check_address_syntax",
    "check_header_value",
    "from_normalized",
    "parse_address",
    "parse_addresses",
]

# RFC 5322 dot-atom local part (quoted local parts are legal but so rare in a
# CRM that refusing them catches far more typos than it blocks addresses).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATOM}(\.{_ATOM})*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_LINE_BREAK = re.compile(r"[\r\n\x00]")
#: the longest address SMTP can carry (RFC 5321 path limit, less the brackets)
MAX_ADDRESS = 254


@attrs.frozen
class Address:
    """One mailbox: ``name`` may be empty; ``addr`` is ``local@domain``."""

    name: str
    addr: str

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2]

    def __str__(self) -> str:
        if not self.name:
            return self.addr
        name = self.name
        if re.search(r'[()<>\[\]:;@\\,."]', name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{self.addr}>"


def check_header_value(value: str, what: str) -> str:
    """Refuse a CR, LF or NUL in a header value (header injection)."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {type(value).__name__} {value!r}")
    if _LINE_BREAK.search(value):
        raise ValidationError(
            f"{what} {value!r} contains a line break; a header value must be one line "
            "(a CR or LF there could inject headers): remove it"
        )
    return value


def _check_domain(domain: str, original: str, what: str) -> str:
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        raise ValidationError(f"{what} {original!r}: the domain {domain!r} is not a valid host name") from None
    labels = ascii_domain.split(".")
    single = len(labels) == 1 and ascii_domain.lower() == "localhost"  # a laptop's own server
    if (len(labels) < 2 and not single) or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise ValidationError(
            f"{what} {original!r}: the domain {domain!r} is not a valid host name (expected something like example.com)"
        )
    return domain


def parse_address(value: str, what: str = "the address") -> Address:
    """``"Name <addr>"`` or ``"addr"`` → :class:`Address`, or a :class:`ValidationError`.

    ``what`` names the value in the message (``"recipient"``, ``"the sender"``).
    """
    check_header_value(value, what)
    try:
        return _parse_cached(value)
    except ValidationError as exc:
        # the cached parse names no role; say which value it was
        raise ValidationError(f"{what}{exc.message}") from None


@functools.lru_cache(maxsize=4096)
def _parse_cached(value: str) -> Address:
    # a delivery parses the same sender for every message, and each
    # recipient several times: remember the last few thousand answers
    return _parse(value, "")


def _parse(value: str, what: str) -> Address:
    from email.utils import getaddresses  # 30 ms of imports: only when an address is parsed

    text = value.strip()
    if not text:
        raise ValidationError(f"{what} is empty; give an address such as 'Ana <ana@example.com>'")
    pairs = getaddresses([text])
    if len(pairs) != 1:
        raise ValidationError(
            f"{what} {value!r} holds {len(pairs)} addresses; give one per list item, "
            "e.g. to=['ana@example.com', 'Bo <bo@example.com>']"
        )
    name, addr = pairs[0]
    if not addr or "@" not in addr:
        raise ValidationError(f"{what} {value!r} is not an e-mail address (expected name@example.com)")
    if "<" in text and not text.endswith(">"):
        raise ValidationError(f"{what} {value!r}: text after the closing '>'; write 'Name <addr>'")
    local, _, domain = addr.rpartition("@")
    if not _LOCAL.match(local):
        raise ValidationError(
            f"{what} {value!r}: the part before @ ({local!r}) is not valid "
            "(letters, digits and !#$%&'*+/=?^_`{|}~.- only, no leading, trailing or double dots)"
        )
    _check_domain(domain, value, what)
    if len(addr) > MAX_ADDRESS:
        raise ValidationError(f"{what} {value!r} is longer than {MAX_ADDRESS} characters")
    return Address(name.strip(), addr)


_MAILBOX = re.compile(r"^\s*(?:(?P<name>[^<>]*?)\s*<(?P<addr>[^<>\s]+)>|(?P<bare>[^<>\s]+))\s*$")


def check_address_syntax(value: str, what: str) -> None:
    """A quick check of ``"Name <addr>"`` or ``"addr"``, without the :mod:`email` parser.

    For the configuration, which is read by every command (``crm --help``
    included) and should not pay for importing the mail machinery; the
    full parse happens when mail is queued or sent.
    """
    check_header_value(value, what)
    match = _MAILBOX.match(value)
    addr = (match.group("addr") or match.group("bare")) if match else ""
    local, at, domain = addr.rpartition("@")
    if not at or not _LOCAL.match(local):
        raise ValidationError(f"{what} {value!r} is not an e-mail address (expected 'Name <name@example.com>')")
    _check_domain(domain, value, what)


def from_normalized(text: str) -> Address:
    """An :class:`Address` from the text ``str(Address)`` wrote (what the queue stores).

    Delivery reads back thousands of addresses it wrote itself; splitting
    them is far cheaper than parsing them again. Anything unexpected (a row
    edited by hand) goes through :func:`parse_address`.
    """
    name, addr = "", text
    if text.endswith(">") and "<" in text:
        cut = text.rindex("<")
        name, addr = text[:cut].strip(), text[cut + 1 : -1]
        if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    local, at, domain = addr.rpartition("@")
    if (
        at
        and _LOCAL.match(local)
        and domain.isascii()
        and all(_LABEL.match(p) for p in domain.split("."))
        and not _LINE_BREAK.search(text)
    ):
        return Address(name, addr)
    return parse_address(text)


def parse_addresses(value: str | Address | object, what: str = "recipient") -> tuple[Address, ...]:
    """One address, or an iterable of them, as a tuple of :class:`Address`."""
    if isinstance(value, Address):
        return (value,)
    if isinstance(value, str):
        return (parse_address(value, what),)
    try:
        items = list(value)  # type: ignore[call-overload]
    except TypeError:
        raise ValidationError(f"{what} must be an address or a list of addresses, not {type(value).__name__}") from None
    if not items:
        raise ValidationError(f"no {what} given; a message needs at least one address in 'to'")
    out = []
    for item in items:
        if isinstance(item, Address):
            out.append(item)
        elif isinstance(item, str):
            out.append(parse_address(item, what))
        else:
            raise ValidationError(f"{what} {item!r} must be a string such as 'Ana <ana@example.com>'")
    return tuple(out)
