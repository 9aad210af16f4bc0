"""selfeng: a self-learning, self-engineering agent framework built as an event-sourced system.

The log is the only source of truth: every piece of state is a fold of the log and can be
rebuilt by replay. See ``selfeng.schemas`` for the events, ``selfeng.core`` for the ports and
``selfeng.projections`` for the folds.
"""

__version__ = "0.1.0"

__all__ = ["Agent", "Selfeng", "__version__"]


def __getattr__(name: str) -> object:
    """``from selfeng import Agent`` without importing the runtime at ``import selfeng``."""
    if name == "Agent":
        from selfeng.agent import Agent

        return Agent
    if name == "Selfeng":
        from selfeng.app import Selfeng

        return Selfeng
    raise AttributeError(f"module 'selfeng' has no attribute {name!r}")
