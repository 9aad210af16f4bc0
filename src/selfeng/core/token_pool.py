"""The tokens of a request still free for a tool's parameters to take (see arguments)."""

from __future__ import annotations

from dataclasses import dataclass

from selfeng.core.scanning import Scan, Token

PREVIOUS = -1
"""The token index of the previous output, when a parameter took it."""


@dataclass
class TokenPool:
    """A request's tokens, and which of them no parameter has taken yet; the previous step's
    output, where the wording puts it, is one more token (index ``PREVIOUS``)."""

    scan: Scan
    free: list[bool]
    previous: Token | None = None
    previous_at: int = 0
    previous_taken: bool = False

    def tokens(self, kind: str | None = None) -> list[Token]:
        """The free tokens (of one kind)."""
        return [
            t for t in self.scan.tokens if self.free[t.index] and (kind is None or t.kind == kind)
        ]

    def free_previous(self) -> bool:
        """Whether the previous output is there and no parameter took it yet."""
        return self.previous is not None and not self.previous_taken

    def take(self, *tokens: Token) -> tuple[int, ...]:
        """Mark tokens taken; their indexes."""
        for t in tokens:
            if t.index >= 0:
                self.free[t.index] = False
            else:
                self.previous_taken = True
        return tuple(t.index for t in tokens)
