"""Bearer tokens for the HTTP API: issued and revoked as events, folded from one key's stream.

A token is ``sfe_<id>_<secret>``; the log keeps only the SHA-256 of the whole string, so
reading the log never gives a token away. Every server process folds the same events, so a
token created or revoked by ``selfeng token`` on one machine holds on every server of the log
within ``REFRESH_SECONDS``.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from selfeng.core.log import EventLog
from selfeng.core.mapper import DecodeError, append_events, from_record
from selfeng.schemas.access import ACCESS_KEY, Role, TokenCreated, TokenRevoked

REFRESH_SECONDS = 0.5
"""How long a server trusts its folded tokens before looking at the log again."""
PREFIX = "sfe_"


@dataclass(frozen=True)
class Token:
    """A live token as the log describes it (never the secret)."""

    token_id: str
    """Its id."""
    name: str | None
    """Its name, if it was given one."""
    role: Role
    """What it may do."""
    sha256: str
    """The digest of the secret token string."""
    created_at: str
    """When it was issued (ISO 8601)."""


def digest(secret: str) -> str:
    """The hex SHA-256 of a token string."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def fold_tokens(log: EventLog) -> dict[str, Token]:
    """The live tokens by id, from the stream of ``ACCESS_KEY``."""
    tokens: dict[str, Token] = {}
    for record in log.stream(ACCESS_KEY):
        try:
            event = from_record(record)
        except DecodeError:
            continue
        match event:
            case TokenCreated(token_id=tid, name=name, role=role, sha256=sha):
                tokens[tid] = Token(tid, name, role, sha, event.occurred_at.isoformat())
            case TokenRevoked(token_id=tid):
                tokens.pop(tid, None)
    return tokens


def create_token(
    log: EventLog, role: Role, name: str | None = None, *, by: str = "cli"
) -> tuple[Token, str]:
    """Issue a token; return it and its secret string (shown once, stored nowhere).

    A name already used by a live token is refused (``ValueError``); the append expects the
    stream it checked, so two creations racing for one name cannot both succeed.
    """
    version = log.key_version(ACCESS_KEY)
    live = fold_tokens(log)
    if name is not None and any(t.name == name for t in live.values()):
        raise ValueError(f"a live token is already named {name!r}; revoke it or pick another")
    token_id = secrets.token_hex(6)
    secret = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    event = TokenCreated(
        token_id=token_id, name=name, role=role, sha256=digest(secret), producer=by
    )
    append_events(log, [event], expected_versions={ACCESS_KEY: version})
    token = Token(token_id, name, role, event.sha256, event.occurred_at.isoformat())
    return token, secret


def revoke_token(log: EventLog, which: str, *, reason: str = "", by: str = "cli") -> Token:
    """Revoke the live token with this id or name; ``KeyError`` when there is none."""
    live = fold_tokens(log)
    token = live.get(which) or next((t for t in live.values() if t.name == which), None)
    if token is None:
        raise KeyError(f"no live token with id or name {which!r}; see `selfeng token list`")
    append_events(log, [TokenRevoked(token_id=token.token_id, reason=reason, producer=by)])
    return token


class TokenStore:
    """The live tokens of a log, refreshed when the log's token stream grows."""

    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._by_digest: dict[str, Token] = {}
        self._version = -1
        self._checked = 0.0

    def _refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if now - self._checked < REFRESH_SECONDS and not force:
            return
        with self._lock:
            if now - self._checked < REFRESH_SECONDS and not force:
                return
            version = self._log.key_version(ACCESS_KEY)
            if version != self._version:
                tokens = fold_tokens(self._log)
                self._by_digest = {t.sha256: t for t in tokens.values()}
                self._version = version
            self._checked = time.monotonic()

    def lookup(self, secret: str) -> Token | None:
        """The live token whose secret this is, or None. A revocation is seen within
        ``REFRESH_SECONDS``; a token created since the last look is seen at once (an unknown
        secret makes the store check the token stream's length, one indexed count)."""
        if not secret.startswith(PREFIX) or len(secret) > 200:
            return None
        self._refresh()
        key = digest(secret)
        found = self._by_digest.get(key)
        if found is None:
            self._refresh(force=True)
            found = self._by_digest.get(key)
        return found

    def count(self) -> int:
        """How many tokens are live."""
        self._refresh()
        return len(self._by_digest)
