"""The log contract on the in-memory log."""

from selfeng.core.log import EventLog
from selfeng.infra.log.memory import MemoryLog
from tests.contract.log_contract import LogContract


class TestMemoryLog(LogContract):
    def create_log(self) -> EventLog:
        return MemoryLog()
