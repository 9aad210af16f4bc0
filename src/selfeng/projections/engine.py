"""The projection engine: the live projections (fork ``main``) and every fork, kept current.

Forks are themselves events (ForkCreated, ForkDropped) folded by the policies projection,
so the engine learns which forks to maintain from the main line, builds a new fork from
position 0 and keeps every live fork up to date as new events arrive.

A fork is an overlay on the main line: it folds and stores only the projections whose fold
depends on its policies (``reads_policies``: the policies projection itself) and those that
learn from answers (``arm_scoped``: what a request served by the fork teaches stays in the
fork, :mod:`.arms`), and reads every other from the main line, whose state is the same in
every fork. Creating a fork costs a fold of the policy events and a copy of the main line's
arm-scoped state, not a refold of everything. Those arm-scoped folds are never stored: the
main line holds every event of the fork's arm until its experiment concludes
(``arm_lessons``), so the fork's copy is derived again, main's state plus those events, each
time it is opened, and a fork writes only its policies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from selfeng.core.log import EventLog
from selfeng.core.progress import Progress
from selfeng.core.store import ProjectionStore
from selfeng.projections.arms import ArmLessonsProjection
from selfeng.projections.base import MAIN, AnyProjection, ForkSpec
from selfeng.projections.catalog import ProjectionFactory, default_projections
from selfeng.projections.folding import dead_letters_to
from selfeng.projections.policies import PoliciesState, live_fork, live_forks
from selfeng.projections.runner import ProjectionRunner

ProgressFactory = Callable[[], Progress]


class ProjectionEngine:
    """Runs one ProjectionRunner per fork over one log and one store."""

    def __init__(
        self,
        log: EventLog,
        store: ProjectionStore,
        factory: ProjectionFactory = default_projections,
        **runner_options: Any,
    ) -> None:
        self.log, self.store, self.factory = log, store, factory
        self._options = runner_options
        self._runners: dict[str, ProjectionRunner] = {}
        self._opening = threading.RLock()  # one runner per fork for all threads (re-entered: a
        # fork opens the main line)

    def runner(self, fork: ForkSpec = MAIN) -> ProjectionRunner:
        """The runner of a fork (created on first use, from the store's checkpoints)."""
        runner = self._runners.get(fork.name)
        if runner is not None and runner.fork == fork:
            return runner
        with self._opening:
            return self._open_runner(fork)

    def _open_runner(self, fork: ForkSpec) -> ProjectionRunner:
        runner = self._runners.get(fork.name)
        if runner is None or runner.fork != fork:
            if fork.name == MAIN.name:
                runner = ProjectionRunner(
                    self.log,
                    self.store,
                    self.factory(fork),
                    fork=fork,
                    dead_letters=dead_letters_to(self.log),
                    **self._options,
                )
            else:
                projections = self.factory(fork)
                own = [p for p in projections if _forked(p)]
                # what a fork stored before it was an overlay (or under another factory, or
                # its arm-scoped folds, which are derived at every open); looked up first,
                # so opening a fork writes nothing in the usual case
                stale = [
                    p.name
                    for p in projections
                    if not p.reads_policies and self.store.load(fork.name, p.name) is not None
                ]
                if stale:
                    self.store.drop(fork.name, stale)
                seeds, held = self.main.group_checkpoints(fork.name)
                runner = ProjectionRunner(
                    self.log,
                    self.store,
                    own,
                    fork=fork,
                    base=self.main,
                    seed=seeds,
                    unsaved=[cp.projection for cp in seeds],
                    **self._options,
                )
                runner.adopt(held)
            self._runners[fork.name] = runner
        return runner

    def runners(self) -> list[ProjectionRunner]:
        """The runners opened so far (the main line first, once opened)."""
        return list(self._runners.values())

    @property
    def main(self) -> ProjectionRunner:
        """The live projections."""
        return self.runner(MAIN)

    def forks(self) -> list[ForkSpec]:
        """The live forks, as the main line's policies projection knows them."""
        state: PoliciesState = self.main.state("policies")
        return live_forks(state)

    def fork(self, name: str) -> ForkSpec:
        """A live fork by name (``main`` included)."""
        if name == MAIN.name:
            return MAIN
        live = live_fork(self.main.state("policies"), name)
        if live is not None:  # the request path's usual case: no list of every fork
            return live
        for attempt in range(2):
            for fork in self.forks():
                if fork.name == name:
                    return fork
            if attempt == 0:
                self.main.catch_up()  # it may have been created since the last checkpoint
        known = ", ".join(f.name for f in self.forks()) or "none"
        raise KeyError(f"no fork {name!r} (live forks: {known})")

    def catch_up(self, progress: ProgressFactory | None = None) -> dict[str, int]:
        """Bring the main line and every live fork up to the end of the log.

        Forks dropped since the last run lose their stored state. Returns events folded per
        fork.
        """
        folded = {MAIN.name: self.main.catch_up(progress=progress() if progress else None)}
        live = {f.name: f for f in self.forks()}
        for fork in live.values():
            folded[fork.name] = self.runner(fork).catch_up(
                progress=progress() if progress else None
            )
        for name in self.store.forks():
            if name != MAIN.name and name not in live:
                self.store.drop(name)
                self._runners.pop(name, None)
        return folded

    def run(
        self, stop: threading.Event, *, idle: float = 0.5, progress: ProgressFactory | None = None
    ) -> None:
        """Keep every fork current until ``stop`` is set (``selfeng project --follow``)."""
        self.catch_up(progress)
        while not stop.is_set():
            position = self.main.position
            self.log.wait_for_append(position, idle)
            if stop.is_set():
                break
            self.catch_up()

    def flush(self) -> None:
        """Save what lazy catch-ups folded in every fork (called when the runtime closes)."""
        for runner in self._runners.values():
            runner.flush()

    def state(self, projection: str, fork: str = MAIN.name) -> Any:
        """A projection's state (as JSON-able data) in a fork, after catching up."""
        runner = self.runner(self.fork(fork))
        runner.catch_up()
        return runner.dumped(projection)


def _forked(projection: AnyProjection) -> bool:
    """Whether a fork folds ``projection`` itself instead of reading the main line's: it
    reads the fork's policies, or it learns from answers (arms are kept apart)."""
    return (
        projection.reads_policies
        or projection.arm_scoped
        or isinstance(projection, ArmLessonsProjection)
    )
