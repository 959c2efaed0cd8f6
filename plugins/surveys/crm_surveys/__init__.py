"""The surveys plugin: surveys in TOML, sent by e-mail or post, answered, scored, reported.

The entry module is :mod:`crm_surveys.plugin`; other code reaches the plugin
through ``crm.plugin("surveys")`` (:class:`crm_surveys.api.SurveysAPI`).
"""
