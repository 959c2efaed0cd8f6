"""Checks of the portal's settings that need the file system: run when the app starts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_core.errors import ConfigError

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["check_settings", "logo_file"]

LOGO_TYPES = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}


def logo_file(crm: CRM) -> str | None:
    """The logo as a file to serve (``None`` when ``logo`` is empty or an http(s) address)."""
    logo = crm.settings("portal").logo
    if not logo or logo.startswith(("http://", "https://")):
        return None
    return str(crm.config.resolve_path(logo))


def check_settings(crm: CRM) -> None:
    """Refuse to start with a language that has no catalog, or a folder or logo that is not there."""
    from crm_portal.i18n import Catalogs

    settings = crm.settings("portal")
    source = crm.config.source
    extra = crm.config.resolve_path(settings.translations_dir) if settings.translations_dir else None
    if extra is not None and not extra.is_dir():
        raise ConfigError(f"{source}: plugins.portal.translations_dir: the folder {extra} does not exist")
    missing = Catalogs.missing(settings.languages, extra)
    if missing:
        raise ConfigError(
            f"{source}: plugins.portal.languages: {missing[0]!r} has no translation catalog; the portal ships en and es. "
            f"Add {missing[0]}/LC_MESSAGES/messages.mo to plugins.portal.translations_dir (see the portal's docs: adding a language), "
            "or remove it from languages"
        )
    if settings.templates_dir and not crm.config.resolve_path(settings.templates_dir).is_dir():
        raise ConfigError(
            f"{source}: plugins.portal.templates_dir: the folder {crm.config.resolve_path(settings.templates_dir)} does not exist"
        )
    logo = settings.logo
    if logo and not logo.startswith(("http://", "https://")):
        path = crm.config.resolve_path(logo)
        if not path.is_file():
            raise ConfigError(
                f"{source}: plugins.portal.logo: the file {path} does not exist (give a file next to the configuration, or an https:// address)"
            )
        if path.suffix.lower() not in LOGO_TYPES:
            raise ConfigError(
                f"{source}: plugins.portal.logo: {path.name} is not an image the portal serves ({', '.join(LOGO_TYPES)})"
            )
