"""Projection store adapters: ``memory://``, ``sqlite:///path`` and ``postgresql://...``."""
