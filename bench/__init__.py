"""The benchmarks: ``python -m bench`` (or ``make bench``) runs them all.

Each ``bench/bench_<area>.py`` is a module with ``main(argv=None)``, runnable
alone as ``python -m bench.bench_<area>`` and accepting ``--quick``. Shared
helpers (medians, the printed table) are in :mod:`bench._timing`.
"""
