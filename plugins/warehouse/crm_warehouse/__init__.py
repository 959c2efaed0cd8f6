"""The warehouse plugin: every event kept, sales pipeline, staff notes, documents, history, reporting tables.

Reach it through the app, never by importing it from another plugin::

    warehouse = crm.plugin("warehouse")
    warehouse.sales.add("rfq", contact_id=42, amount="1200.00", currency="EUR")
    warehouse.timeline(42)
    warehouse.contact_as_of(42, datetime.date(2026, 1, 31))
"""
