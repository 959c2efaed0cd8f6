"""The summary tables: the reporting tables added up per day and per month, so that reports read thousands of rows, not millions.

* :mod:`~crm_warehouse.summaries.models`: the tables (``warehouse_*_summary``,
  the stage-change index and the state row);
* :mod:`~crm_warehouse.summaries.contributions`: what each source row adds
  to them, the one definition of each summary;
* :mod:`~crm_warehouse.summaries.deltas`: adding contributions up and
  applying a difference with one upsert per table;
* :mod:`~crm_warehouse.summaries.service`: the warehouse's writers keep
  them current with it, in the transaction of each change;
* :mod:`~crm_warehouse.summaries.rebuild`: everything added up again, and
  the check that compares.

Documented in ``docs/plugins/warehouse.md`` ("Summary tables"); the
analytics plugin's standard reports read them.
"""
