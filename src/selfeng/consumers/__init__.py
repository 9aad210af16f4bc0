"""Reactors to events: the request handler and the learners (synthesizer, composite learner,
reflection, auto-tuner, experiment judge). None yet: they arrive with the request path.
"""
