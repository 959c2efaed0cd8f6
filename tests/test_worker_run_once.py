"""crm_core.jobs.run_once: a keyed action runs exactly once."""

from __future__ import annotations

import pytest

from crm_core.errors import ValidationError
from crm_core.jobs import forget, run_once, run_once_many


def test_run_once_claims_a_key_once(crm):
    assert run_once(crm, "tasks.reminder:1:2026-03-01") is True
    assert run_once(crm, "tasks.reminder:1:2026-03-01") is False
    assert run_once(crm, "tasks.reminder:2:2026-03-01") is True


def test_the_claim_belongs_to_the_callers_transaction(crm):
    with pytest.raises(RuntimeError):
        with crm.transaction():
            assert run_once(crm, "k") is True
            crm.mail.queue("a@example.com", "Reminder", "t", key="reminder-mail")
            raise RuntimeError("the action failed")
    # rolled back together: the key can be claimed again, and no mail was queued
    assert sum(crm.mail.counts().values()) == 0
    with crm.transaction():
        assert run_once(crm, "k") is True
        crm.mail.queue("a@example.com", "Reminder", "t", key="reminder-mail")
    assert run_once(crm, "k") is False


def test_run_once_many_is_set_based_and_keeps_order(crm):
    run_once(crm, "b")
    keys = [f"k{i}" for i in range(1200)] + ["b", "k3", "a"]
    claimed = run_once_many(crm, keys)
    assert claimed == [f"k{i}" for i in range(1200)] + ["a"]
    assert run_once_many(crm, keys) == []


def test_forget_releases_a_key(crm):
    run_once(crm, "x")
    assert forget(crm, "x") is True
    assert forget(crm, "x") is False
    assert run_once(crm, "x") is True


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
@pytest.mark.parametrize(
    ("key", "problem"), [("", "non-empty string"), (None, "non-empty string"), ("k" * 191, "191 characters")]
)
def test_bad_keys_are_refused(crm, key, problem):
    with pytest.raises(ValidationError, match=problem):
        run_once(crm, key)
    with pytest.raises(ValidationError, match=problem):
        run_once_many(crm, ["ok", key])
