"""The ``crm`` command line. Entry point: :func:`crm_core.cli.main.main`."""
