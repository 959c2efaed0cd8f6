"""Time-based one-time passwords (RFC 6238, with RFC 4226's HOTP), from the standard library.

Authenticator apps use SHA-1, 6 digits and 30-second steps; the kernel does
the same. A code of the step before or after is accepted too (clocks drift),
and a step once accepted is never accepted again (no replay).
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from urllib.parse import quote

__all__ = ["STEP", "hotp", "new_secret", "provisioning_uri", "totp", "verify"]

STEP = 30
DIGITS = 6


def new_secret() -> str:
    """A random 160-bit secret, base32 without padding (what authenticator apps read)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    text = secret.replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226: HMAC the counter, take 31 bits at the offset given by the last nibble."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def totp(key: bytes, unix_time: float, digits: int = DIGITS, digest: str = "sha1", step: int = STEP) -> str:
    """RFC 6238: HOTP of the number of ``step``-second periods since the epoch."""
    return hotp(key, int(unix_time // step), digits, digest)


def verify(secret: str, code: str, unix_time: float, last_step: int | None) -> int | None:
    """The time step ``code`` matches (now, one before or one after), or ``None``; a step at or before ``last_step`` never matches."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    key = _key(secret)
    now = int(unix_time // STEP)
    for step in (now, now - 1, now + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(hotp(key, step), code):
            return step
    return None


def provisioning_uri(secret: str, user_name: str, issuer: str = "CRM") -> str:
    """The ``otpauth://`` URI an authenticator app reads (usually as a QR code)."""
    return f"otpauth://totp/{quote(issuer)}:{quote(user_name)}?secret={secret}&issuer={quote(issuer)}&algorithm=SHA1&digits={DIGITS}&period={STEP}"
