"""The tasks plugin: to-do lists, reminders, recurring and rule-triggered tasks.

The plugin's services are reached through the app, never by importing this
package from another plugin: ``crm.plugin("tasks")`` is a
:class:`crm_tasks.api.TasksAPI`.
"""
