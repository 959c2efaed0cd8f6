"""Answer tokens and paper codes: signed, expiring, bound to one recipient and survey."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_surveys.tokens import CodeError, TokenError, make_code, make_token, read_code, read_token

KEY = b"secret"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
LATER = NOW + dt.timedelta(days=30)


def test_a_token_reads_back():
    token = make_token(KEY, 7, 3, 123456, LATER)
    claims = read_token(KEY, token, NOW, survey_id=7)
    assert (claims.survey_id, claims.round_id, claims.contact_id) == (7, 3, 123456)
    assert claims.expires_at == LATER
    assert token.isascii() and "/" not in token and "+" not in token and len(token) < 50


def test_a_changed_token_is_refused():
    token = make_token(KEY, 7, 3, 12, LATER)
    payload, signature = token.rsplit(".", 1)
    forged = payload.replace("-c-", "-d-") if "-c-" in payload else "8" + payload[1:]
    with pytest.raises(TokenError, match="signature does not match"):
        read_token(KEY, f"{forged}.{signature}", NOW)
    with pytest.raises(TokenError, match="signature does not match"):
        read_token(b"another secret", token, NOW)


@pytest.mark.parametrize("token", ["", "abc", "1-2-3.xyz", "1-2-3-4", "1-2-3-4-5.sig", "1-2-!-4.sig"])
def test_a_damaged_token_is_refused(token):
    with pytest.raises(TokenError, match="damaged or cut short"):
        read_token(KEY, token, NOW)


def test_an_expired_token_is_refused():
    token = make_token(KEY, 7, 3, 12, NOW + dt.timedelta(hours=1))
    read_token(KEY, token, NOW)
    with pytest.raises(TokenError, match="expired on 2026-03-01 13:00 UTC"):
        read_token(KEY, token, NOW + dt.timedelta(hours=1))


def test_a_token_for_another_survey_is_refused():
    token = make_token(KEY, 7, 3, 12, LATER)
    with pytest.raises(TokenError, match=r"for another survey \(survey 7, not survey 8\)"):
        read_token(KEY, token, NOW, survey_id=8)


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
    wrong = ("1" if body[-1] != "1" else "2")
    with pytest.raises(CodeError, match="a character is mistyped"):
        read_code(KEY, body[:-1] + wrong + "-" + check)
    with pytest.raises(CodeError, match="is not valid: it has 8 or more letters"):
        read_code(KEY, "12-34")
    with pytest.raises(CodeError, match="is not valid"):
        read_code(KEY, "ABCDE-U!?")
    with pytest.raises(CodeError, match="mistyped"):
        read_code(b"other", code)
