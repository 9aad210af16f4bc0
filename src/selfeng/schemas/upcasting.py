"""Upcasters: upgrade an old event's raw dict, one version at a time, before validation.

Prefer adding a field with a default to bumping a version; bump only when a field is
renamed, removed or changes meaning, and register the step here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from selfeng.schemas.catalogue import CURRENT_VERSION

RawEvent = dict[str, Any]
Upcaster = Callable[[RawEvent], RawEvent]


class UpcastError(ValueError):
    """An event cannot be brought to the current version."""


def _policy_changed_v1_to_v2(raw: RawEvent) -> RawEvent:
    """v1 (the seed's shape) named the policy ``policy``; v2 calls it ``name``."""
    out = {k: v for k, v in raw.items() if k != "policy"}
    out["name"] = raw["policy"]
    out.setdefault("key", raw["policy"])
    out.setdefault("reason", "")
    return out


UPCASTERS: Final[dict[tuple[str, int], Upcaster]] = {
    ("PolicyChanged", 1): _policy_changed_v1_to_v2,
}
"""(type, from_version) -> function returning the dict at from_version + 1."""


def upcast(raw: RawEvent) -> RawEvent:
    """Bring a raw event dict to the current version of its type.

    Raises UpcastError when the type is unknown, the version is newer than this code knows,
    or a step is missing or fails.
    """
    type_name = raw.get("type")
    if not isinstance(type_name, str) or type_name not in CURRENT_VERSION:
        raise UpcastError(f"unknown event type {type_name!r}")
    current = CURRENT_VERSION[type_name]
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise UpcastError(
            f"{type_name}: schema_version must be a positive integer, not {version!r}"
        )
    if version > current:
        raise UpcastError(
            f"{type_name} schema_version {version} is newer than this selfeng knows ({current}); "
            "upgrade selfeng to read it"
        )
    while version < current:
        step = UPCASTERS.get((type_name, version))
        if step is None:
            raise UpcastError(f"no upcaster for {type_name} v{version} -> v{version + 1}")
        try:
            raw = step(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise UpcastError(f"{type_name} v{version} -> v{version + 1} failed: {exc!r}") from exc
        version += 1
        raw["schema_version"] = version
    return raw
