import attrs


@attrs.frozen
class ReferralSettings:
    """``[plugins.referrals]``."""

    #: points a referrer earns for each referral
    points: int = 10
