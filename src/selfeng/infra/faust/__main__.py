"""``python -m selfeng.infra.faust kafka://HOST:PORT?namespace=NS [LOGLEVEL] [--serve]``: run
a faust worker (log level ``warning`` unless given: ``info`` says where the fold resumed);
``--serve`` also answers requests and runs the learners (``selfeng.faust_agents``), with the
settings of the environment (``SELFENG_HOME``, ``SELFENG_SANDBOX``, ...) and this log."""

from __future__ import annotations

import sys

USAGE = "usage: python -m selfeng.infra.faust kafka://HOST:PORT[?namespace=NS] [LOGLEVEL] [--serve]"


def main(argv: list[str]) -> None:
    """Run a worker folding the log at ``argv[0]`` until SIGINT or SIGTERM."""
    serve = "--serve" in argv
    args = [a for a in argv if a != "--serve"]
    if len(args) not in (1, 2) or not args[0].startswith("kafka://"):
        raise SystemExit(USAGE)
    from selfeng.infra.faust.app import run_worker

    served = None
    if serve:
        from selfeng.core.settings import Settings
        from selfeng.faust_agents import serving

        served = serving(Settings.resolve(log=args[0]))
    run_worker(args[0], loglevel=args[1] if len(args) > 1 else "warning", serve=served)


if __name__ == "__main__":
    main(sys.argv[1:])
