"""Who brought whom: referrals between contacts, with points for the referrer."""
