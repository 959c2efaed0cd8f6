"""The portal plugin's tables (all named ``portal_*``).

``portal_signup``
    a sign-up waiting for (or done with) its e-mail confirmation; unconfirmed
    ones are deleted when their link expires (``portal.cleanup``)
``portal_consent``
    each confirmed consent: what the person agreed to, word for word, in
    which language, on which form, when he asked and when he confirmed
``portal_rate``
    hit counters of the rate limits, one row per key and time window
"""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = ["Consent", "MODELS", "RateHit", "Signup"]


class Signup(Model):
    id = peewee.AutoField()
    form = peewee.CharField(max_length=40)
    email = peewee.CharField(max_length=254)
    first_name = peewee.CharField(max_length=150, default="")
    last_name = peewee.CharField(max_length=150, default="")
    language = peewee.CharField(max_length=35)
    #: the consent text shown, word for word
    consent_text = peewee.TextField()
    #: the client address the form came from (evidence of the consent)
    ip = peewee.CharField(max_length=45, null=True)
    #: 24 hex digits, also in the confirmation link: makes the link single-use
    nonce = peewee.CharField(max_length=24, unique=True)
    requested_at = UTCDateTimeField()
    expires_at = UTCDateTimeField(index=True)
    confirmed_at = UTCDateTimeField(null=True)
    contact_id = peewee.IntegerField(null=True, index=True)

    class Meta:
        table_name = "portal_signup"


class Consent(Model):
    id = peewee.AutoField()
    contact_id = peewee.IntegerField(null=True, index=True)
    signup = peewee.ForeignKeyField(Signup, null=True, on_delete="SET NULL")
    form = peewee.CharField(max_length=40)
    text = peewee.TextField()
    language = peewee.CharField(max_length=35)
    #: the mailing lists joined, as JSON
    lists = peewee.TextField(default="[]")
    ip = peewee.CharField(max_length=45, null=True)
    given_at = UTCDateTimeField()
    confirmed_at = UTCDateTimeField()

    class Meta:
        table_name = "portal_consent"


class RateHit(Model):
    #: "<form>:<what>:<value>", e.g. "signup:ip:192.0.2.7"
    key = peewee.CharField(max_length=190)
    #: the window's number: Unix seconds // window length
    window = peewee.BigIntegerField()
    hits = peewee.IntegerField(default=0)
    #: when the window ends, for the clean-up
    ends_at = UTCDateTimeField(index=True)

    class Meta:
        table_name = "portal_rate"
        indexes = ((("key", "window"), True),)


MODELS = (Signup, Consent, RateHit)
