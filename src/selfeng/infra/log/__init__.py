"""Event log adapters: ``memory://``, ``sqlite:///path`` and ``kafka://host:port``."""
