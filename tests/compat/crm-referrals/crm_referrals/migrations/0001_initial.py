"""Create referrals_referral."""

import peewee


def up(migrator, db):
    class Referral(peewee.Model):
        referrer_id = peewee.IntegerField(index=True)
        referred_id = peewee.IntegerField(index=True)
        note = peewee.TextField(default="")
        void = peewee.BooleanField(default=False)
        created_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "referrals_referral"

    db.create_tables([Referral])


def down(migrator, db):
    db.execute_sql("DROP TABLE referrals_referral")
