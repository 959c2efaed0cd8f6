import peewee

from crm_core.storage import Model, UTCDateTimeField


class Referral(Model):
    referrer_id = peewee.IntegerField(index=True)
    referred_id = peewee.IntegerField(index=True)
    note = peewee.TextField(default="")
    void = peewee.BooleanField(default=False)
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "referrals_referral"
