"""Access tokens for the HTTP API (``selfeng token``), on the policy topic.

A token is created and revoked by events, so every server process on the log sees the same
tokens. The log holds only the SHA-256 of a token's secret, never the secret itself. Every
token event has the one key ``ACCESS_KEY``, so a reader folds the tokens from that key's
stream alone.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import StringConstraints

from selfeng.schemas.envelope import Event, Family

ACCESS_KEY = "access.tokens"
"""The key of every token event."""

Role = Literal["client", "admin"]
"""What a token may do: ``client`` asks, rates and reads its own requests; ``admin`` may do
everything (policies, forks, tools, the event stream, other clients' requests)."""

TokenName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""A token's name: 1 to 64 letters, digits, ``.``, ``_`` or ``-``."""

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest in lower-case hex."""


class AccessEvent(Event):
    """Base of the token events: policy family, key ``ACCESS_KEY``."""

    family: ClassVar[Family] = "policy"

    @classmethod
    def default_key(cls) -> str | None:
        """Every token event has the same key, so one stream holds them all."""
        return ACCESS_KEY

    def model_post_init(self, context: object, /) -> None:
        """Fill the key; refuse any other key than ``ACCESS_KEY``."""
        super().model_post_init(context)
        if self.key != ACCESS_KEY:
            raise ValueError(f"{self.type}: the key of a token event is {ACCESS_KEY!r}")


class TokenCreated(AccessEvent):
    """A bearer token for the HTTP API was issued."""

    type: Literal["TokenCreated"] = "TokenCreated"
    schema_version: Literal[1] = 1
    token_id: TokenName
    """The token's id (not secret; it names the token in lists and revocations)."""
    name: TokenName | None = None
    """A name people give it (unique among live tokens), if any."""
    role: Role
    """What the token may do."""
    sha256: Sha256Hex
    """The SHA-256 (hex) of the whole secret token string; the secret is never stored."""


class TokenRevoked(AccessEvent):
    """A token stopped being accepted."""

    type: Literal["TokenRevoked"] = "TokenRevoked"
    schema_version: Literal[1] = 1
    token_id: TokenName
    """The revoked token's id."""
    reason: str = ""
    """Why."""
