"""The campaigns plugin: e-mail campaigns and newsletters sent to the contacts plugin's lists and segments.

The plugin's services are reached through the app, never by importing this
package from another plugin: ``crm.plugin("campaigns")`` is a
:class:`crm_campaigns.api.CampaignsAPI`.
"""
