"""People and permissions in the kernel: users, teams, roles, sign-in, API tokens, the security audit.

Reached through the app: ``crm.authz`` (:class:`crm_core.auth.authz.Authz`),
``crm.as_user(...)`` and ``crm.current_user``. Imported only when first
used, so that ``crm --help`` does not pay for argon2 or these modules.
"""
