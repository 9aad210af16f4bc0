"""The learners selfeng runs, in the order they react to an event."""

from __future__ import annotations

from selfeng.consumers.composer import CompositeLearner, PatternDetector
from selfeng.consumers.feedback import FeedbackLearner
from selfeng.consumers.judge import Judge
from selfeng.consumers.learner import Learner
from selfeng.consumers.ports import LearnerPorts
from selfeng.consumers.reflection import Reflection
from selfeng.consumers.synthesizer import Synthesizer
from selfeng.consumers.tuner import Tuner


def default_learners(ports: LearnerPorts) -> list[Learner]:
    """Every learner, given ``ports``."""
    return [
        FeedbackLearner(ports),
        PatternDetector(ports),
        CompositeLearner(ports),
        Reflection(ports),
        Synthesizer(ports),
        Judge(ports),
        Tuner(ports),
    ]


LEARNER_NAMES = ("feedback", "patterns", "composites", "reflection", "synthesizer")
"""The names of the default learners (their ``selfeng worker`` groups are
``selfeng.learner.<name>``)."""
