"""The broker names a faust worker of one ``kafka://`` log uses (no faust import here)."""

from __future__ import annotations

from selfeng.infra.log.kafka_admin import KafkaSettings, TopicNames, default_topics


class FaustNames:
    """App id (the consumer group), fold topic and changelog topics of one log's worker."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self.topics = TopicNames(default_topics(), settings.namespace)
        """The log's logical and physical topics (the worker's sources)."""
        self.app_id = self.topics.group("selfeng-faust")
        """The faust app id: its consumer group, and the prefix of its internal topics."""
        self.fold_topic = f"{self.app_id}-fold"
        """The single-partition topic the route agent forwards every record to."""

    @classmethod
    def from_url(cls, url: str) -> FaustNames:
        """The names for the log a ``kafka://`` URL names."""
        return cls(KafkaSettings.from_url(url))

    def sources(self) -> list[str]:
        """The broker topics of the log, which the route agent reads."""
        return [self.topics.physical(t) for t in self.topics.logical]

    def changelog(self, projection: str) -> str:
        """The changelog topic of a projection's table (faust's ``{app}-{table}-changelog``)."""
        return f"{self.app_id}-{projection}-changelog"
