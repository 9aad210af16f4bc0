"""Ports (the log, the projection store), records and positions, the mapper between events and
records, settings, policies, and the table of adapters chosen by URL. Core never imports infra.
"""
