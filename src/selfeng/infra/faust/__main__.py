"""``python -m selfeng.infra.faust kafka://HOST:PORT?namespace=NS [LOGLEVEL] [--serve]``: run
a faust worker folding the log (log level ``warning`` unless given: ``info`` says where the
fold resumed); with ``--serve``, a worker answering requests and running the learners
instead (``selfeng.faust_agents``), with the settings of the environment (``SELFENG_HOME``,
``SELFENG_SANDBOX``, ...) and this log."""

from __future__ import annotations

import sys

USAGE = "usage: python -m selfeng.infra.faust kafka://HOST:PORT[?namespace=NS] [LOGLEVEL] [--serve]"


def main(argv: list[str]) -> None:
    """Run a worker on the log at ``argv[0]`` until SIGINT or SIGTERM."""
    serve = "--serve" in argv
    args = [a for a in argv if a != "--serve"]
    if len(args) not in (1, 2) or not args[0].startswith("kafka://"):
        raise SystemExit(USAGE)
    loglevel = args[1] if len(args) > 1 else "warning"
    if serve:
        from selfeng.core.settings import Settings
        from selfeng.faust_agents import run_service

        run_service(Settings.resolve(log=args[0]), loglevel=loglevel)
    else:
        from selfeng.infra.faust.app import run_worker

        run_worker(args[0], loglevel=loglevel)


if __name__ == "__main__":
    main(sys.argv[1:])
