from crm_core.errors import NotFoundError, ValidationError


class Referrals:
    def __init__(self, crm):
        self.crm = crm

    def add(self, referrer_id, referred_id, note=""):
        from crm_referrals.models import Referral

        if referrer_id == referred_id:
            raise ValidationError("a contact cannot refer himself")
        contacts = self.crm.plugin("contacts")
        found = {card.id for card in contacts.cards([referrer_id, referred_id])}
        for cid in (referrer_id, referred_id):
            if cid not in found:
                raise NotFoundError(f"no contact with id {cid}")
        with self.crm.transaction():
            return Referral.create(
                referrer_id=referrer_id, referred_id=referred_id, note=note, created_at=self.crm.clock.now()
            ).id

    def of(self, contact_id):
        from crm_referrals.models import Referral

        with self.crm.activate():
            query = Referral.select().where((Referral.referrer_id == contact_id) | (Referral.referred_id == contact_id))
            return [
                {"id": r.id, "referrer_id": r.referrer_id, "referred_id": r.referred_id, "note": r.note, "void": r.void}
                for r in query.order_by(Referral.id)
            ]

    def points(self, contact_id):
        from crm_referrals.models import Referral

        with self.crm.activate():
            count = Referral.select().where((Referral.referrer_id == contact_id) & ~Referral.void).count()
        return count * self.crm.settings("referrals").points

    def void_for(self, contact_ids):
        from crm_referrals.models import Referral

        Referral.update(void=True).where(Referral.referred_id.in_(list(contact_ids))).execute()
