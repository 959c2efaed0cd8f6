"""Entry module: hook implementations only."""

from pathlib import Path

from crm_hookspecs import hookimpl
from crm_hookspecs.records import CommandSpec, PluginSchema


@hookimpl
def crm_schema():
    from crm_referrals.models import Referral

    return PluginSchema(migrations=Path(__file__).parent / "migrations", models=(Referral,))


@hookimpl
def crm_config_section():
    from crm_referrals.settings import ReferralSettings

    return ReferralSettings


@hookimpl
def crm_plugin_api(crm):
    from crm_referrals.api import Referrals

    return Referrals(crm)


@hookimpl
def crm_cli_commands():
    return [CommandSpec("referrals", "crm_referrals.cli:group", "Who brought whom.")]


@hookimpl
def crm_handle_events(crm, events):
    from crm_hookspecs.events import ContactDeleted

    deleted = [e.contact_id for e in events if isinstance(e, ContactDeleted)]
    if deleted:
        crm.plugin("referrals").void_for(deleted)


@hookimpl
def crm_export_personal_data(crm, contact_id):
    rows = crm.plugin("referrals").of(contact_id)
    return {"referrals": rows} if rows else None


@hookimpl
def crm_erase_personal_data(crm, contact_id):
    from crm_referrals.models import Referral

    return (
        Referral.update(note="")
        .where((Referral.referrer_id == contact_id) | (Referral.referred_id == contact_id))
        .execute()
    )


@hookimpl
def crm_contacts_merged(crm, survivor_id, merged_id):
    from crm_referrals.models import Referral

    ids = [r.id for r in Referral.select(Referral.id).where(Referral.referrer_id == merged_id)]
    if ids:
        Referral.update(referrer_id=survivor_id).where(Referral.id.in_(ids)).execute()
    return {"referrals_referral": ids}


@hookimpl
def crm_contacts_unmerged(crm, survivor_id, merged_id, moved):
    from crm_referrals.models import Referral

    ids = moved.get("referrals_referral", [])
    if ids:
        Referral.update(referrer_id=merged_id).where(Referral.id.in_(ids)).execute()
