"""Answer tokens and paper codes: signed, expiring, bound to one recipient and survey."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

import pytest

from crm_surveys.tokens import CodeError, SurveyKeys, TokenError, make_code, make_token, read_code, read_token

KEY = SurveyKeys(link=b"a-kernel-signing-key-of-32-bytes-or-more")
LEGACY = SurveyKeys(link=KEY.link, legacy=b"secret")
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=30)


def test_a_token_reads_back():
    token = make_token(KEY, 7, 3, 123456, LATER)
    claims = read_token(KEY, token, NOW, survey_id=7)
    assert (claims.survey_id, claims.round_id, claims.contact_id) == (7, 3, 123456)
    assert claims.expires_at == LATER
    assert token.isascii() and "/" not in token and "+" not in token and len(token) < 100


def test_a_changed_token_is_refused():
    token = make_token(KEY, 7, 3, 12, LATER)
    payload, signature = token.rsplit(".", 1)
    other = make_token(KEY, 8, 3, 12, LATER).rsplit(".", 1)[0]  # another survey's payload, this signature
    with pytest.raises(TokenError, match="damaged, cut short, or was changed") as info:
        read_token(KEY, f"{other}.{signature}", NOW)
    assert (info.value.code, info.value.http_status) == ("forged", 403)
    with pytest.raises(TokenError, match="damaged, cut short, or was changed"):
        read_token(SurveyKeys(link=b"another key, another CRM, 32 bytes+"), token, NOW)


@pytest.mark.parametrize("token", ["", "abc", "1-2-3.xyz", "1-2-3-4", "1-2-3-4-5.sig", "1-2-!-4.sig"])
def test_a_damaged_token_is_refused(token):
    with pytest.raises(TokenError, match="damaged, cut short"):
        read_token(KEY, token, NOW)


def _legacy_token(key: bytes, survey: int, round_: int, contact: int, expires: dt.datetime) -> str:
    """A link as the plugin signed them before the kernel did (base 36, 128-bit HMAC)."""
    b36 = lambda n: "0" if n == 0 else b36(n // 36).lstrip("0") + "0123456789abcdefghijklmnopqrstuvwxyz"[n % 36]  # noqa: E731
    payload = "-".join(b36(n) for n in (survey, round_, contact, int(expires.timestamp())))
    digest = hmac.new(key, b"token:" + payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def test_links_sent_before_the_kernel_signed_them_still_work_until_they_expire():
    token = _legacy_token(b"secret", 7, 3, 12, LATER)
    claims = read_token(LEGACY, token, NOW, survey_id=7)
    assert (claims.survey_id, claims.round_id, claims.contact_id, claims.expires_at) == (7, 3, 12, LATER)
    with pytest.raises(TokenError, match="expired on"):
        read_token(LEGACY, token, LATER)
    with pytest.raises(TokenError, match="signature does not match"):
        read_token(SurveyKeys(link=KEY.link, legacy=b"other"), token, NOW)
    with pytest.raises(TokenError, match="a key this CRM no longer has"):
        read_token(KEY, token, NOW)


def test_an_expired_token_is_refused():
    token = make_token(KEY, 7, 3, 12, NOW + dt.timedelta(hours=1))
    read_token(KEY, token, NOW)
    with pytest.raises(TokenError, match="expired on 2026-03-01 13:00 UTC") as info:
        read_token(KEY, token, NOW + dt.timedelta(hours=1))
    assert (info.value.code, info.value.http_status) == ("expired", 410)


def test_a_token_for_another_survey_is_refused():
    token = make_token(KEY, 7, 3, 12, LATER)
    with pytest.raises(TokenError, match=r"for another survey \(survey 7, not survey 8\)") as info:
        read_token(KEY, token, NOW, survey_id=8)
    assert info.value.code == "out_of_scope"


def test_paper_codes_read_back_and_forgive_case_dashes_and_look_alikes():
    code = make_code(KEY, 1234)
    assert len(code) == 9 and code[5] == "-"
    assert read_code(KEY, code) == 1234
    assert read_code(KEY, code.lower().replace("-", " ")) == 1234
    assert read_code(KEY, code.replace("0", "O")) == 1234
    assert read_code(KEY, make_code(KEY, 10**9)) == 10**9


def test_a_mistyped_paper_code_is_refused():
    code = make_code(KEY, 1234)
    body, check = code.split("-")
    wrong = "1" if body[-1] != "1" else "2"
    with pytest.raises(CodeError, match="a character is mistyped"):
        read_code(KEY, body[:-1] + wrong + "-" + check)
    with pytest.raises(CodeError, match="is not valid: it has 8 or more letters"):
        read_code(KEY, "12-34")
    with pytest.raises(CodeError, match="is not valid"):
        read_code(KEY, "ABCDE-U!?")
    with pytest.raises(CodeError, match="mistyped"):
        read_code(SurveyKeys(link=b"other"), code)


def test_paper_codes_keep_the_old_key_where_there_is_one():
    """Letters already printed keep their codes: the plugin's older key still makes and checks them."""
    code = make_code(LEGACY, 1234)
    assert read_code(SurveyKeys(link=b"any kernel key", legacy=b"secret"), code) == 1234
    assert make_code(KEY, 1234) != code  # without an older key, codes have a key of their own
