"""The learners selfeng runs, in the order they react to an event."""

from __future__ import annotations

from typing import TYPE_CHECKING

from selfeng.consumers.composer import CompositeLearner, PatternDetector
from selfeng.consumers.feedback import FeedbackLearner
from selfeng.consumers.learner import Learner
from selfeng.consumers.reflection import Reflection
from selfeng.consumers.synthesizer import Synthesizer

if TYPE_CHECKING:
    from selfeng.app import Selfeng


def default_learners(app: Selfeng) -> list[Learner]:
    """Every learner, bound to ``app``."""
    return [
        FeedbackLearner(app),
        PatternDetector(app),
        CompositeLearner(app),
        Reflection(app),
        Synthesizer(app),
    ]


LEARNER_NAMES = ("feedback", "patterns", "composites", "reflection", "synthesizer")
"""The names of the default learners (their ``selfeng worker`` groups are
``selfeng.learner.<name>``)."""
