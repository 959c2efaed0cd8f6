"""Signed, expiring answer tokens (for links) and short paper codes (for letters).

A token binds one recipient to one survey round until a time::

    <survey>-<round>-<contact>-<expires>.<signature>

the numbers in base 36 and the signature an HMAC-SHA256 of the rest with
the plugin's secret (128 bits, base64url). Nothing secret is in it, and
nothing can be changed without the secret. A paper code names an
invitation in a few characters that survive being typed back in:
Crockford base 32 (no I, L, O or U, case-insensitive) with three check
characters, also from the secret.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

import attrs

from crm_core.errors import ValidationError

__all__ = ["CodeError", "TokenError", "TokenClaims", "make_code", "make_token", "read_code", "read_token"]

_B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_B32_READ = {c: i for i, c in enumerate(_B32)} | {"O": 0, "I": 1, "L": 1}
_CHECK = 3
_BODY_MIN = 5
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class TokenError(ValidationError):
    """A survey link's token is damaged, forged, expired or for another survey."""


class CodeError(ValidationError):
    """A paper code is mistyped or unknown."""


@attrs.frozen
class TokenClaims:
    survey_id: int
    round_id: int
    contact_id: int
    expires_at: dt.datetime


def _b36(number: int) -> str:
    if number < 0:
        raise ValueError("token numbers are not negative")
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = _B36[rest] + out
        if not number:
            return out


def _sign(secret: bytes, purpose: bytes, payload: str) -> bytes:
    return hmac.new(secret, purpose + b":" + payload.encode("ascii"), hashlib.sha256).digest()


def make_token(secret: bytes, survey_id: int, round_id: int, contact_id: int, expires_at: dt.datetime) -> str:
    """A token for ``contact_id`` to answer ``survey_id`` (sent in ``round_id``) until ``expires_at``."""
    payload = "-".join(_b36(n) for n in (survey_id, round_id, contact_id, int(expires_at.timestamp())))
    signature = base64.urlsafe_b64encode(_sign(secret, b"token", payload)[:16]).rstrip(b"=").decode("ascii")
    return f"{payload}.{signature}"


def read_token(secret: bytes, token: str, now: dt.datetime, survey_id: int | None = None) -> TokenClaims:
    """Check ``token``; return what it says. Raises :class:`TokenError` with a message for the person."""
    text = (token or "").strip()
    payload, _, signature = text.rpartition(".")
    parts = payload.split("-")
    if not signature or len(parts) != 4 or not all(p and set(p) <= set(_B36) for p in parts):
        raise TokenError(
            "this survey link is not valid: it is damaged or cut short; open the whole link from the e-mail"
        )
    expected = base64.urlsafe_b64encode(_sign(secret, b"token", payload)[:16]).rstrip(b"=").decode("ascii")
    if not hmac.compare_digest(expected, signature):
        raise TokenError("this survey link is not valid: its signature does not match (it was changed or forged)")
    sid, rid, cid, exp = (int(p, 36) for p in parts)
    expires_at = dt.datetime.fromtimestamp(exp, dt.timezone.utc)
    if survey_id is not None and sid != survey_id:
        raise TokenError(f"this survey link is for another survey (survey {sid}, not survey {survey_id})")
    if now >= expires_at:
        raise TokenError(
            f"this survey link expired on {expires_at:%Y-%m-%d %H:%M} UTC; ask us for a new one"
        )
    return TokenClaims(survey_id=sid, round_id=rid, contact_id=cid, expires_at=expires_at)


def _b32(number: int) -> str:
    out = ""
    while True:
        number, rest = divmod(number, 32)
        out = _B32[rest] + out
        if not number:
            return out


def _check(secret: bytes, body: str) -> str:
    digest = _sign(secret, b"paper", body)
    return "".join(_B32[b % 32] for b in digest[:_CHECK])


def make_code(secret: bytes, invitation_id: int) -> str:
    """The paper code of an invitation: ``XXXXX-CCC``."""
    body = _b32(invitation_id).rjust(_BODY_MIN, "0")
    return f"{body}-{_check(secret, body)}"


def read_code(secret: bytes, code: str) -> int:
    """The invitation id in a paper code; raises :class:`CodeError` when mistyped."""
    cleaned = "".join(c for c in (code or "").upper() if c not in " -_.")
    shown = (code or "").strip()
    if len(cleaned) < _BODY_MIN + _CHECK or any(c not in _B32_READ for c in cleaned):
        raise CodeError(
            f"paper code {shown!r} is not valid: it has {_BODY_MIN + _CHECK} or more letters and digits, "
            "such as 0001Z-4KD, printed under the address"
        )
    digits = [_B32[_B32_READ[c]] for c in cleaned]
    body, check = "".join(digits[:-_CHECK]), "".join(digits[-_CHECK:])
    if not hmac.compare_digest(_check(secret, body), check):
        raise CodeError(f"paper code {shown!r} is not valid: a character is mistyped (check it against the letter)")
    number = 0
    for c in body:
        number = number * 32 + _B32_READ[c]
    return number
