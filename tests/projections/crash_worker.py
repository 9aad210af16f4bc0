"""Run by test_runner_crash: folds a log with frequent checkpoints until killed."""

from __future__ import annotations

import sys

from selfeng.core.backends import open_log, open_store
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.runner import ProjectionRunner


def main(log_url: str, store_url: str) -> None:
    log, store = open_log(log_url), open_store(store_url)
    runner = ProjectionRunner(
        log, store, default_projections(MAIN), checkpoint_every=250, checkpoint_seconds=0.0
    )
    print("started", flush=True)
    runner.catch_up()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
