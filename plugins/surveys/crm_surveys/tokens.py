"""Signed, expiring answer tokens (for links) and short paper codes (for letters).

A token binds one recipient to one survey round until a time. It is signed
by the kernel's link signer (:mod:`crm_core.signing`, purpose
``surveys.answer``) under the app's key: nothing secret is in it, and nothing
can be changed without the key. Links sent before the kernel signed links
(``<survey>-<round>-<contact>-<expires>.<signature>``, HMAC-SHA256 under the
plugin's own key) are read as before until they expire.

A paper code names an invitation in a few characters that survive being
typed back in: Crockford base 32 (no I, L, O or U, case-insensitive) with
three check characters made with a key of their own. Letters printed before
the kernel signed links keep their codes: the plugin's old key, where this
database has one, still makes and checks them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re

import attrs

from crm_core.errors import ValidationError
from crm_core.signing import (
    ExpiredLinkError,
    ForgedLinkError,
    LinkError,
    LinkSigner,
    OutOfScopeLinkError,
    UnknownLinkError,
    derive_key,
)

__all__ = [
    "CodeError",
    "ExpiredTokenError",
    "ForgedTokenError",
    "OtherSurveyError",
    "SurveyKeys",
    "TokenClaims",
    "TokenError",
    "UnknownTokenError",
    "make_code",
    "make_token",
    "read_code",
    "read_token",
]

#: the kernel signer's purpose for answer links
PURPOSE = "surveys.answer"
_B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_B32_READ = {c: i for i, c in enumerate(_B32)} | {"O": 0, "I": 1, "L": 1}
_CHECK = 3
_BODY_MIN = 5
_LEGACY_SHAPE = re.compile(
    r"([0-9a-z]{1,13})-([0-9a-z]{1,13})-([0-9a-z]{1,13})-([0-9a-z]{1,13})\.([A-Za-z0-9_-]{22})\Z"
)


class TokenError(LinkError):
    """A survey link's token is refused; ``code`` and ``http_status`` say how (see :mod:`crm_core.signing`)."""


class ForgedTokenError(TokenError, ForgedLinkError):
    """The survey link is damaged, cut short, changed or forged."""

    code = "forged"
    http_status = 403


class ExpiredTokenError(TokenError, ExpiredLinkError):
    """The survey link's time is over (``expires_at``)."""

    code = "expired"
    http_status = 410


class UnknownTokenError(TokenError, UnknownLinkError):
    """The link is signed but its invitation was withdrawn or erased."""

    code = "unknown"
    http_status = 404


class OtherSurveyError(TokenError, OutOfScopeLinkError):
    """The link is for another survey than the one asked for."""

    code = "out_of_scope"
    http_status = 403


class CodeError(ValidationError):
    """A paper code is mistyped or unknown."""


@attrs.frozen
class SurveyKeys:
    """The keys of the surveys plugin: the app's signing key, and the plugin's own older one if it had one."""

    link: bytes
    #: ``plugins.surveys.secret``, or the key the plugin made before the kernel kept one
    legacy: bytes | None = None

    @property
    def paper(self) -> bytes:
        """The key of paper codes: the older key where there is one, so printed letters keep their codes."""
        return self.legacy if self.legacy is not None else derive_key(self.link, "surveys.paper")


@attrs.frozen
class TokenClaims:
    survey_id: int
    round_id: int
    contact_id: int
    expires_at: dt.datetime


def _sign(secret: bytes, purpose: bytes, payload: str) -> bytes:
    return hmac.new(secret, purpose + b":" + payload.encode("ascii"), hashlib.sha256).digest()


def make_token(keys: SurveyKeys, survey_id: int, round_id: int, contact_id: int, expires_at: dt.datetime) -> str:
    """A token for ``contact_id`` to answer ``survey_id`` (sent in ``round_id``) until ``expires_at``."""
    numbers = [int(survey_id), int(round_id), int(contact_id)]
    if min(numbers) < 0:
        raise ValueError("token numbers are not negative")
    return LinkSigner(keys.link, PURPOSE).sign(numbers, expires_at=expires_at)


def read_token(keys: SurveyKeys, token: str, now: dt.datetime, survey_id: int | None = None) -> TokenClaims:
    """Check ``token``; return what it says. Raises a :class:`TokenError` with a message for the person."""
    text = (token or "").strip()
    match = _LEGACY_SHAPE.match(text)
    if match is not None:
        claims = _read_legacy(keys.legacy, text, match)
    else:
        try:
            values, expires_at = LinkSigner(keys.link, PURPOSE).read(text, what="survey link")
        except ForgedLinkError as exc:
            raise ForgedTokenError(str(exc)) from None
        if len(values) != 3 or not all(isinstance(v, int) for v in values) or expires_at is None:
            raise ForgedTokenError("this survey link is not valid: it was not made for answering a survey")
        claims = TokenClaims(survey_id=values[0], round_id=values[1], contact_id=values[2], expires_at=expires_at)
    if survey_id is not None and claims.survey_id != survey_id:
        raise OtherSurveyError(
            f"this survey link is for another survey (survey {claims.survey_id}, not survey {survey_id})"
        )
    if now >= claims.expires_at:
        raise ExpiredTokenError(
            f"this survey link expired on {claims.expires_at:%Y-%m-%d %H:%M} UTC; ask us for a new one",
            claims.expires_at,
        )
    return claims


def _read_legacy(legacy: bytes | None, text: str, match: re.Match[str]) -> TokenClaims:
    if legacy is None:
        raise ForgedTokenError("this survey link is not valid: it was made with a key this CRM no longer has")
    payload = text.rpartition(".")[0]
    expected = base64.urlsafe_b64encode(_sign(legacy, b"token", payload)[:16]).rstrip(b"=").decode("ascii")
    if not hmac.compare_digest(expected, match.group(5)):
        raise ForgedTokenError("this survey link is not valid: its signature does not match (it was changed or forged)")
    sid, rid, cid, exp = (int(p, 36) for p in match.groups()[:4])
    return TokenClaims(survey_id=sid, round_id=rid, contact_id=cid, expires_at=dt.datetime.fromtimestamp(exp, dt.UTC))


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


def make_code(keys: SurveyKeys, invitation_id: int) -> str:
    """The paper code of an invitation: ``XXXXX-CCC``."""
    body = _b32(invitation_id).rjust(_BODY_MIN, "0")
    return f"{body}-{_check(keys.paper, body)}"


def read_code(keys: SurveyKeys, code: str) -> int:
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
    if not hmac.compare_digest(_check(keys.paper, body), check):
        raise CodeError(f"paper code {shown!r} is not valid: a character is mistyped (check it against the letter)")
    number = 0
    for c in body:
        number = number * 32 + _B32_READ[c]
    return number
