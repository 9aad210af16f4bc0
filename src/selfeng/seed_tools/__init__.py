"""The starter library: about twenty small, tested tools registered on first use.

Each module here is a tool file in the format ``selfeng tools add`` reads (see
``selfeng.core.tooldef``): one typed, documented public function and its ``test_*``
functions. They are read as source and registered through the same path as any tool
(ToolProposed -> tests in the sandbox -> ToolVerified -> ToolRegistered); nothing here is
imported to run a tool.
"""

from __future__ import annotations

import importlib.resources


def seed_sources() -> dict[str, str]:
    """Tool name -> source, for every tool of the starter library."""
    root = importlib.resources.files(__name__)
    return {
        entry.name.removesuffix(".py"): entry.read_text(encoding="utf-8")
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".py") and not entry.name.startswith("_")
    }
