"""Events as folds read them: msgspec mirrors of the event schemas, decoded at a third of
pydantic's cost.

Replay is decoding and folding, and pydantic validating an event costs 2.5 to 4 µs: that
alone held a replay of the whole log near 100,000 events/s. A fold only reads an event's
attributes, so the fold loops (:mod:`selfeng.projections.folding`) decode records into
frozen ``msgspec.Struct`` mirrors instead: the same field names, types and defaults, built
from the pydantic models here at import. A mirror's ``__class__`` is its model (pydantic
does not support virtual subclasses), so a fold's ``case ToolExecuted(tool=name)`` and
``isinstance`` match a mirror as they match the model; ``type()`` still tells them apart.
Nothing but the fold loops sees a mirror: learners, the handler and every reader get
pydantic events from :func:`selfeng.core.mapper.from_record`.

Only the request family is mirrored: it is nearly all of a log (ten of every eleven events
on the request path), and the rare types' folds keep models whole (``spec.model_dump()``).
A mirror never accepts what pydantic would refuse:

- only types whose schemas are nothing but types and defaults are mirrored (no validators,
  no constraints besides the envelope's non-empty key, checked below), nested models
  included; msgspec's type checks are strict where pydantic's lax mode coerces ("5" for an
  int), so a record msgspec refuses goes to pydantic, which decides (and dead-letters);
- what ``from_record`` checks or fills after validation (the record's event id and key, a
  key derived from a payload field) is checked here, and a record needing any of it is
  decoded the slow way;
- an event of a policy arm is decoded the slow way too: the folds that hold an arm's
  events keep them as pydantic's JSON.
"""

from __future__ import annotations

import types
import typing
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin

import msgspec
from pydantic import BaseModel

from selfeng.core.mapper import from_record
from selfeng.core.records import StoredRecord
from selfeng.schemas import CURRENT_VERSION, EVENT_TYPES, Event

__all__ = ["fold_event", "mirrored_types"]


class _NotMirrored(Exception):
    """A schema with something msgspec would not check as pydantic does."""


def _plain(annotation: Any, models: dict[type[BaseModel], type[msgspec.Struct]]) -> Any:
    """The msgspec type for a pydantic field annotation, or _NotMirrored."""
    if annotation is Any or annotation in (str, int, float, bool, uuid.UUID, datetime):
        return annotation
    if annotation is None or annotation is type(None):
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _mirror(annotation, models)
    if getattr(annotation, "__name__", "") == "JsonValue":
        return Any  # any JSON value: what pydantic's JsonValue accepts from JSON
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal and all(type(a) in (str, int) for a in args):
        return annotation
    if origin in (Union, types.UnionType):
        return Union[tuple(_plain(a, models) for a in args)]  # noqa: UP007
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return tuple[_plain(args[0], models), ...]  # type: ignore[misc]
    if origin is dict and len(args) == 2 and args[0] is str:
        return dict[str, _plain(args[1], models)]  # type: ignore[misc]
    if origin is typing.Annotated:
        raise _NotMirrored(f"{annotation}: validators or constraints")
    raise _NotMirrored(f"{annotation}: no plain mirror")


def _mirror(
    model: type[BaseModel], models: dict[type[BaseModel], type[msgspec.Struct]]
) -> type[msgspec.Struct]:
    """The msgspec mirror of a pydantic model (nested models mirrored too)."""
    found = models.get(model)
    if found is not None:
        return found
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.model_validators or decorators.validators:
        raise _NotMirrored(f"{model.__name__}: validators")
    if model.model_config.get("extra") == "forbid":
        raise _NotMirrored(f"{model.__name__}: unknown fields are refused")
    fields: list[tuple[str, Any, Any]] = []
    for name, info in model.model_fields.items():
        constraints = info.metadata
        if constraints and not (issubclass(model, Event) and name == "key"):
            raise _NotMirrored(f"{model.__name__}.{name}: constraints {constraints}")
        kind = _plain(info.annotation, models)
        if info.default_factory is not None:
            default: Any = msgspec.field(default_factory=info.default_factory)  # type: ignore[arg-type]
        elif info.is_required():
            default = msgspec.NODEFAULT
        else:
            default = info.default
        fields.append((name, kind, default))
    # what a fold may read besides fields: properties (``request_id``) and class constants
    namespace: dict[str, Any] = {
        name: value
        for klass in reversed(model.__mro__)
        if issubclass(klass, BaseModel) and klass is not BaseModel
        for name, value in vars(klass).items()
        if isinstance(value, property)
    }
    for constant in ("family", "key_field"):
        if hasattr(model, constant):
            namespace[constant] = getattr(model, constant)
    # isinstance() and class patterns fall back on ``__class__`` when the type is not a
    # subclass (as unittest.mock's specs do): a mirror matches its model's patterns. A
    # class attribute, found before object's descriptor: no call per check.
    namespace["__class__"] = model
    mirror = msgspec.defstruct(
        model.__name__,
        [(n, k) if d is msgspec.NODEFAULT else (n, k, d) for n, k, d in fields],
        namespace=namespace,
        kw_only=True,
        frozen=True,
    )
    models[model] = mirror
    return mirror


Decoder = tuple[Callable[[bytes], Any], int, str | None]
"""A mirrored type's decoder, its current schema version and its key field."""


def _decoders() -> dict[str, Decoder]:
    models: dict[type[BaseModel], type[msgspec.Struct]] = {}
    decoders: dict[str, Decoder] = {}
    for name, cls in EVENT_TYPES.items():
        if cls.family != "requests" or "policy_arm" not in cls.model_fields:
            continue  # rare types are not worth a second decoder (and their folds dump models)
        try:
            decode = msgspec.json.Decoder(_mirror(cls, models)).decode
        except _NotMirrored:
            continue
        decoders[name] = (decode, CURRENT_VERSION[name], cls.key_field)
    return decoders


_DECODERS = _decoders()


def mirrored_types() -> frozenset[str]:
    """The event types folds get as mirrors (every other is decoded by pydantic)."""
    return frozenset(_DECODERS)


def fold_event(record: StoredRecord) -> Event:
    """The event a record stores, as a fold reads it: a mirror where that is safe, else the
    pydantic event :func:`~selfeng.core.mapper.from_record` gives.

    Raises DecodeError when the record is not a valid event (pydantic decides).
    """
    found = _DECODERS.get(record.type)
    if found is None:
        return from_record(record)
    decode, version, key_field = found
    if record.version != version:
        return from_record(record)  # an older version: the upcasters bring it up to date
    try:
        event = decode(record.data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return from_record(record)
    key = event.key
    if (
        key
        and key == record.key
        and event.policy_arm is None
        and event.event_id.int == int.from_bytes(record.event_id)
        and (key_field is None or key == str(getattr(event, key_field)))
    ):
        return event  # type: ignore[no-any-return]
    return from_record(record)
