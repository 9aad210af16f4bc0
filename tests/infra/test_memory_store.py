"""The store contract on the in-memory store."""

from selfeng.core.store import ProjectionStore
from selfeng.infra.store.memory import MemoryStore
from tests.contract.store_contract import StoreContract


class TestMemoryStore(StoreContract):
    def create_store(self) -> ProjectionStore:
        return MemoryStore()
