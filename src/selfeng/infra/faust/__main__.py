"""``python -m selfeng.infra.faust kafka://HOST:PORT?namespace=NS [LOGLEVEL]``: run a faust
worker (log level ``warning`` unless given: ``info`` says where the fold resumed)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    """Run a worker folding the log at ``argv[0]`` until SIGINT or SIGTERM."""
    if len(argv) not in (1, 2) or not argv[0].startswith("kafka://"):
        raise SystemExit(
            "usage: python -m selfeng.infra.faust kafka://HOST:PORT[?namespace=NS] [LOGLEVEL]"
        )
    from selfeng.infra.faust.app import run_worker

    run_worker(argv[0], loglevel=argv[1] if len(argv) > 1 else "warning")


if __name__ == "__main__":
    main(sys.argv[1:])
