"""Projections: deterministic folds of the log, the runner that checkpoints them, the engine that
keeps every fork current, replay and time travel.
"""
