"""Choosing the strongest sandbox this machine can run, and saying why (``selfeng doctor``).

``bwrap://`` when bubblewrap can create its namespaces here, else ``subprocess://`` with its
defaults (no network, Landlock), which refuses to open where the machine cannot give them,
so a machine with neither fails clearly instead of running tools unconfined. Docker
is never picked on its own, only when a URL asks for ``docker://``: finding out whether an
engine answers costs a round trip (and the SDK) on every start, a container costs about a
second to start and needs an image with a compatible Python, and on one machine bubblewrap
already gives the same walls (no network, own pid namespace, read-only system). Docker is
for deployments that run an engine anyway and want cgroup memory and CPU limits.

``auto://`` (with the options the chosen backend takes, e.g. ``auto://?workers=2``) opens
the strongest one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from selfeng.core.sandbox import Sandbox
from selfeng.infra.sandbox.bwrap import BwrapSandbox, bwrap_problem
from selfeng.infra.sandbox.subprocess import SubprocessSandbox, default_problem


def strongest_url() -> tuple[str, str]:
    """The URL of the strongest sandbox that works here, and the reason for the choice."""
    problem = bwrap_problem()
    if problem is None:
        return "bwrap://", "bubblewrap creates its namespaces here"
    reason = f"bwrap:// is unavailable: {problem}"
    fallback = default_problem()
    return "subprocess://", reason if fallback is None else f"{reason}; and {fallback}"


def strongest_sandbox(query: str = "") -> Sandbox:
    """Open the strongest sandbox that works here, with URL options (``workers=2``)."""
    url, _ = strongest_url()
    suffix = f"?{query}" if query else ""
    if url == "bwrap://":
        return BwrapSandbox.from_url(url + suffix)
    return SubprocessSandbox.from_url(url + suffix)


def describe_choice() -> str:
    """One line for ``selfeng doctor``: which sandbox the default is, and why."""
    url, reason = strongest_url()
    return f"sandbox: {url} ({reason}; docker:// only when asked)"


class StrongestSandbox:
    """``auto://``: a URL that opens the strongest sandbox (see ``strongest_sandbox``)."""

    @classmethod
    def from_url(cls, url: str) -> Sandbox:
        """Open the strongest sandbox, passing the URL's query on as its options."""
        parts = urlsplit(url)
        if parts.scheme != "auto":
            raise ValueError(f"not an auto URL: {url!r}")
        return strongest_sandbox(parts.query)
