"""The store contract on PostgreSQL (a real server), plus what only that backend promises."""

from __future__ import annotations

import threading
from dataclasses import replace

import psycopg
import pytest

from selfeng.app import Selfeng
from selfeng.core.backends import BackendError, open_store
from selfeng.core.settings import Settings
from selfeng.core.store import ProjectionStore, RowChange
from selfeng.infra.store.postgres import PostgresStore, StoreRefused, split_url
from selfeng.projections.replay import verify
from tests.contract.store_contract import StoreContract, cp
from tests.postgres_server import unique_schema, with_schema

pytestmark = pytest.mark.postgres


class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, postgres_url: str) -> None:
        self.url = postgres_url

    def create_store(self) -> ProjectionStore:
        return open_store(with_schema(self.url, unique_schema()))


def test_a_failed_save_saves_nothing(postgres_store_url: str) -> None:
    with PostgresStore.from_url(postgres_store_url) as store:
        store.save([cp("events", 1)])
        bad = cp("policies", 2)
        object.__setattr__(bad, "state", object())  # not bytes: the second row fails
        with pytest.raises(psycopg.Error):
            store.save([cp("events", 2), bad])
        assert store.load("main", "events") == cp("events", 1)
        assert store.load("main", "policies") is None


def test_processes_sharing_a_database_see_each_others_checkpoints(
    postgres_store_url: str,
) -> None:
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []

    def first_open() -> None:  # at once, on an empty schema: the tables are created once
        try:
            stores.append(PostgresStore.from_url(postgres_store_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_open) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert not errors, errors
        stores[0].save([cp("events", 3)], snapshot=True)
        assert stores[1].load("main", "events") == cp("events", 3)
        assert stores[2].snapshots("main", "events") == [cp("events", 3)]
    finally:
        for store in stores:
            store.close()


def test_a_schema_holding_something_else_is_refused(postgres_url: str) -> None:
    schema = unique_schema()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.selfeng_meta (name text, value text)")
        conn.execute(f"INSERT INTO {schema}.selfeng_meta VALUES ('format', 'log')")
    with pytest.raises(StoreRefused, match="not a selfeng projection store"):
        PostgresStore.from_url(with_schema(postgres_url, schema))


def test_urls_keep_libpq_options_and_take_selfengs_own() -> None:
    conninfo, options = split_url("postgres://u:pw@h:5/db?host=/run/pg&schema=s1&keep_snapshots=3")
    assert conninfo == "postgresql://u:pw@h:5/db?host=%2Frun%2Fpg"
    assert options == {"schema": "s1", "keep_snapshots": "3"}
    with pytest.raises(BackendError, match="schema"):
        open_store("postgresql://u@localhost/db?schema=Bad-Name")


def test_a_server_that_does_not_answer_is_one_clear_line_without_the_password() -> None:
    with pytest.raises(BackendError, match=r"no PostgreSQL answers at postgresql://u:\*\*\*@") as e:
        open_store("postgresql://u:secret@127.0.0.1:1/db?connect_timeout=1")
    assert "secret" not in str(e.value)
    assert "\n" not in str(e.value)


def test_versions_name_the_server_and_pgvector(postgres_store_url: str) -> None:
    with PostgresStore.from_url(postgres_store_url) as store:
        versions = store.versions()
    assert versions["postgresql"][:2].isdigit()
    assert versions["pgvector"] != ""


def test_selfeng_answers_and_replays_on_a_postgresql_store(
    postgres_store_url: str, tmp_path: object
) -> None:
    settings = Settings.resolve(
        home=str(tmp_path), store=postgres_store_url, sandbox="subprocess://", env={}
    )
    with Selfeng.open(settings) as app:
        from selfeng.agent import Agent

        assert Agent(app).ask("What is 20 + 22?").text == "42"
    with Selfeng.open(settings) as app:  # a new process resumes from the stored checkpoints
        assert app.engine.main.position == app.log.head()
        assert all(result.equal for result in verify(app.engine, "main"))


def test_a_version_1_schema_is_upgraded_in_place(postgres_url: str) -> None:
    schema = unique_schema()
    with psycopg.connect(split_url(postgres_url)[0], autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.selfeng_meta (name text PRIMARY KEY, value text)")
        conn.execute(
            f"INSERT INTO {schema}.selfeng_meta VALUES ('format', 'projection store'),"
            " ('format_version', '1')"
        )
        conn.execute(
            f"""CREATE TABLE {schema}.checkpoints (
            fork text NOT NULL, projection text NOT NULL, log_id text NOT NULL,
            projection_version integer NOT NULL, position text NOT NULL, events bigint NOT NULL,
            state bytea NOT NULL, saved_at double precision NOT NULL,
            PRIMARY KEY (fork, projection))"""
        )
        conn.execute(
            f"""CREATE TABLE {schema}.snapshots (
            id bigserial PRIMARY KEY, fork text NOT NULL, projection text NOT NULL,
            log_id text NOT NULL, projection_version integer NOT NULL, position text NOT NULL,
            events bigint NOT NULL, state bytea NOT NULL, saved_at double precision NOT NULL)"""
        )
        conn.execute(
            f"INSERT INTO {schema}.checkpoints VALUES"
            " ('main', 'cache', 'log-1', 1, '{\"kind\": \"global\", \"offset\": 3}', 3, '{}', 1.0)"
        )
    with PostgresStore.from_url(with_schema(postgres_url, schema)) as store:
        old = store.load("main", "cache")
        assert old is not None
        assert (old.events, old.tables) == (3, ())
        store.commit(
            [replace(cp("cache", 4), tables=("entries",))],
            [RowChange("main", "cache", "entries/k", b"1", seq=0)],
        )
        assert store.get("main", "cache", "entries/k") == b"1"
    with PostgresStore.from_url(with_schema(postgres_url, schema)) as store:
        loaded = store.load("main", "cache")
        assert loaded is not None
        assert loaded.tables == ("entries",)
