"""Adapters, grouped by the port they implement: ``log/``, ``store/``, ``sandbox/``,
``embed/`` and ``llm/`` (plus ``sqlite_common``, shared by the SQLite log and store). Chosen by
URL through ``selfeng.core.backends``; nothing in ``core`` imports them.
"""
