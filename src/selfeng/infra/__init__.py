"""Adapters: the memory, SQLite and Kafka logs, the memory and SQLite projection stores, and a
local tansu broker for development. Chosen by URL through ``selfeng.core.backends``.
"""
