"""docker-compose.yml, the Dockerfile and the README's "Run on Kafka", checked without a Docker
engine (none runs on the machines selfeng is built on).

The files are parsed, and everything they say about selfeng is held against selfeng itself:
the URLs against the services the compose file declares and against selfeng's own URL
parsers, the commands and options against the click CLI, the README's record against the
decoder a worker uses. ``docker compose config`` runs only where the compose plugin exists.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import socket
import subprocess
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml
from click.testing import CliRunner
from psycopg.conninfo import conninfo_to_dict

from selfeng.cli import main
from selfeng.core import backends
from selfeng.core.log import EventLog
from selfeng.core.mapper import from_record
from selfeng.infra.log.kafka_admin import KafkaSettings
from selfeng.infra.log.kafka_records import decode
from selfeng.infra.store.postgres import split_url
from selfeng.schemas import RequestReceived
from selfeng.schemas.envelope import TOPIC_OF_FAMILY

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
README = ROOT / "README.md"

POSTGRES_PORT = 5432
"""The port the postgres image listens on (unless PGPORT says otherwise)."""
POSTGRES_DATA = "/var/lib/postgresql/data"
"""Where the postgres image keeps its data (unless PGDATA says otherwise)."""


# -- reading the files ------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def environment(service: Mapping[str, Any]) -> dict[str, str | None]:
    """A service's environment, from either of compose's two forms."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {k: (v if sep else None) for k, sep, v in pairs}
    return {k: None if v is None else str(v) for k, v in env.items()}


def selfeng_services() -> dict[str, dict[str, Any]]:
    """The services that run the image this repository's Dockerfile builds."""
    return {name: s for name, s in services().items() if "build" in s}


def built_from_here(service: Mapping[str, Any]) -> bool:
    build = service["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    return (COMPOSE.parent / context / dockerfile).resolve() == DOCKERFILE


def healthcheck_test(service: Mapping[str, Any]) -> list[str] | None:
    check = service.get("healthcheck")
    if check is None or check.get("disable"):
        return None
    test = check["test"]
    return shlex.split(test) if isinstance(test, str) else list(test)


def command(service: Mapping[str, Any]) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def named_volumes(service: Mapping[str, Any]) -> dict[str, str]:
    """The named volumes a service mounts (volume name -> target); binds are left out."""
    mounts: dict[str, str] = {}
    for volume in service.get("volumes", ()):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
            kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
        else:
            source, target, kind = volume.get("source", ""), volume["target"], volume["type"]
        if kind == "volume" and source:
            mounts[source] = target
    return mounts


def kafka_listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` as {NAME: (host, port)}."""
    out = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        out[name] = (host, int(port))
    return out


Instruction = tuple[str, str]


@cache
def dockerfile_stages() -> list[list[Instruction]]:
    """The Dockerfile's instructions, stage by stage (continuations joined, comments gone)."""
    stages: list[list[Instruction]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stages.append([])
        assert stages, "the Dockerfile starts with FROM"
        stages[-1].append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return stages


def final_stage(keyword: str) -> list[str]:
    return [rest for kw, rest in dockerfile_stages()[-1] if kw == keyword]


def exec_form(text: str) -> list[str]:
    """A JSON-array (exec form) instruction argument; the shell form is refused."""
    assert text.startswith("["), f"not in exec form: {text}"
    value = json.loads(text)
    assert isinstance(value, list)
    assert all(isinstance(v, str) for v in value)
    return value


def healthcheck_command() -> list[str]:
    (check,) = final_stage("HEALTHCHECK")
    options, _, cmd = check.partition("CMD ")
    assert options.split()
    assert all(o.startswith("--") for o in options.split())
    return exec_form(cmd.strip())


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in final_stage("ENV"):
        for item in shlex.split(rest):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def readme_section() -> str:
    text = README.read_text()
    start = text.index("\n## Run on Kafka\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def readme_commands() -> list[str]:
    """The section's shell commands, each with its continued lines joined."""
    blocks = re.findall(r"```bash\n(.*?)```", readme_section(), re.S)
    return [re.sub(r"\\\n\s*", " ", re.sub(r"\|\n\s*", "| ", block)).strip() for block in blocks]


def readme_command(containing: str) -> str:
    (found,) = [c for c in readme_commands() if containing in c]
    return found


def docker_part(command: str) -> str:
    """A README command from its ``docker`` on (what a pipe feeds, say)."""
    return command[command.index("docker ") :]


# -- the CLI ----------------------------------------------------------------------------------


def cli_command(args: Sequence[str]) -> click.Command:
    """The selfeng subcommand ``args`` names, after parsing its arguments exactly as the CLI
    will (an unknown option, a missing value or a bad choice raises click's error)."""
    name, *rest = args
    sub = main.commands.get(name)
    assert sub is not None, f"selfeng has no command {name!r}"
    shown = CliRunner().invoke(main, [name, "--help"], prog_name="selfeng")
    assert shown.exit_code == 0, shown.output
    assert f"Usage: selfeng {name}" in shown.output
    known = {opt for p in sub.params for opt in (*p.opts, *p.secondary_opts)}
    for token in rest:
        if token.startswith("-"):
            assert token.split("=")[0] in known, f"selfeng {name} takes no option {token}"
    with sub.make_context(name, list(rest)):
        pass
    return sub


def selfeng_args(argv: Sequence[str]) -> list[str]:
    """The arguments after the program of a command that runs selfeng."""
    program, *args = argv
    assert program == "selfeng" or program.endswith("/selfeng"), argv
    return args


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- the stack --------------------------------------------------------------------------------


def test_the_stack_is_kafka_postgres_and_selfeng_workers() -> None:
    found = services()
    assert found["kafka"]["image"].startswith("apache/kafka:")
    assert found["postgres"]["image"].startswith("pgvector/pgvector:")
    assert set(selfeng_services()) == {"worker"}
    assert all(built_from_here(s) for s in selfeng_services().values())
    assert command(found["worker"])[0] == "worker"


def test_every_image_is_pinned_to_a_version() -> None:
    images = [s["image"] for s in services().values() if "image" in s]
    images += [
        rest.split()[0] for stage in dockerfile_stages() for kw, rest in stage if kw == "FROM"
    ]
    assert len(images) >= 3
    for image in images:
        name, _, tag = image.rpartition(":") if "@" not in image else (image, "", "digest")
        assert name, image
        assert "/" not in tag, f"{image} names no tag"
        assert tag != "latest", image
        assert re.search(r"\d", tag), f"{image} is not pinned to a version"


def test_kafka_runs_in_kraft_mode_as_one_broker_and_controller() -> None:
    env = environment(services()["kafka"])
    assert set((env["KAFKA_PROCESS_ROLES"] or "").split(",")) == {"broker", "controller"}
    node = env["KAFKA_NODE_ID"]
    listeners = kafka_listeners(env["KAFKA_LISTENERS"] or "")
    advertised = kafka_listeners(env["KAFKA_ADVERTISED_LISTENERS"] or "")
    protocols = dict(
        p.split(":") for p in (env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] or "").split(",")
    )
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in listeners
    assert controller not in advertised
    # the one voter is this node, at its own controller listener
    voter_id, _, voter = (env["KAFKA_CONTROLLER_QUORUM_VOTERS"] or "").partition("@")
    voter_host, _, voter_port = voter.rpartition(":")
    assert voter_id == node
    assert voter_host in {"kafka", services()["kafka"].get("hostname")}
    assert int(voter_port) == listeners[controller][1]
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    for name in (*listeners, *advertised):
        assert protocols.get(name) == "PLAINTEXT", f"listener {name} has no security protocol"
    for name, (_, port) in advertised.items():
        assert listeners[name][1] == port, f"{name} is advertised on a port it does not bind"
    # the image formats its storage with CLUSTER_ID: a UUID in base64url, unpadded
    cluster = env["CLUSTER_ID"] or ""
    assert len(cluster) == 22
    assert len(base64.urlsafe_b64decode(cluster + "==")) == 16
    # one node: internal topics must not ask for the default three replicas
    for name in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[name] == "1", name
    # selfeng creates its topics with their partition count; the broker must not guess one
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    test = healthcheck_test(services()["kafka"])
    assert test is not None
    assert test[0] == "CMD"
    assert test[1].startswith("/opt/kafka/bin/kafka-")
    bootstrap = test[test.index("--bootstrap-server") + 1]
    assert int(bootstrap.rpartition(":")[2]) in {port for _, port in advertised.values()}


def test_selfeng_reaches_kafka_and_postgres_at_the_addresses_they_declare() -> None:
    kafka = services()["kafka"]
    kafka_env = environment(kafka)
    advertised = kafka_listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"] or "")
    postgres_env = environment(services()["postgres"])
    assert "PGPORT" not in postgres_env
    cli_variables = {p.envvar for p in main.params if isinstance(p.envvar, str)}
    for name, service in selfeng_services().items():
        env = environment(service)
        # every SELFENG_ variable is one the CLI reads (a typo would be silently ignored)
        assert {k for k in env if k.startswith("SELFENG_")} <= cli_variables, name

        log = env["SELFENG_LOG"] or ""
        assert urlsplit(log).scheme in backends.LOGS
        settings = KafkaSettings.from_url(log)  # refuses unknown options
        for broker in settings.bootstrap:
            host, _, port = broker.rpartition(":")
            assert host in {"kafka", kafka.get("hostname")}, f"{name}: {broker} is no service"
            # after bootstrapping, a client talks to what the broker advertises: it must be
            # this same in-network address, or the workers would be sent elsewhere
            assert (host, int(port)) in advertised.values(), f"{name}: {broker} not advertised"
        assert settings.replication == 1  # one broker

        store = env["SELFENG_STORE"] or ""
        assert urlsplit(store).scheme in backends.STORES
        conninfo = conninfo_to_dict(split_url(store)[0])
        assert conninfo["host"] == "postgres"
        assert int(str(conninfo.get("port", POSTGRES_PORT))) == POSTGRES_PORT
        assert conninfo["user"] == postgres_env["POSTGRES_USER"]
        assert conninfo["password"] == postgres_env["POSTGRES_PASSWORD"]
        assert conninfo["dbname"] == postgres_env["POSTGRES_DB"]

        backends.check_parts(env.get("SELFENG_SANDBOX"), env.get("SELFENG_EMBEDDER") or "lexical")


def test_services_wait_until_what_they_need_is_healthy() -> None:
    found = services()
    for name, service in selfeng_services().items():
        assert {"kafka", "postgres"} <= set(service.get("depends_on", {})), name
    for name, service in found.items():
        needs = service.get("depends_on", {})
        assert isinstance(needs, dict), f"{name}: depends_on without conditions"
        for dependency, condition in needs.items():
            assert dependency in found
            if healthcheck_test(found[dependency]) is not None:
                assert condition["condition"] == "service_healthy", f"{name} -> {dependency}"
    for name in ("kafka", "postgres"):
        assert healthcheck_test(found[name]) is not None, name
    test = healthcheck_test(found["postgres"])
    assert test is not None
    assert test[1] == "pg_isready"
    # over TCP: the image's first-start server answers on its socket only, then restarts
    assert "--host=127.0.0.1" in test
    assert f"--username={environment(found['postgres'])['POSTGRES_USER']}" in test


def test_every_volume_is_declared_used_and_mounted_where_the_data_is() -> None:
    declared = set(compose().get("volumes") or {})
    mounted = {name: named_volumes(s) for name, s in services().items()}
    used = {volume for mounts in mounted.values() for volume in mounts}
    assert used == declared
    kafka_dirs = environment(services()["kafka"])["KAFKA_LOG_DIRS"]
    assert kafka_dirs in mounted["kafka"].values()
    assert "PGDATA" not in environment(services()["postgres"])
    assert POSTGRES_DATA in mounted["postgres"].values()
    home = dockerfile_env()["SELFENG_HOME"]
    for name, service in selfeng_services().items():
        assert environment(service).get("SELFENG_HOME", home) in mounted[name].values()


def test_the_worker_runs_a_real_selfeng_command_with_real_options() -> None:
    for service in selfeng_services().values():
        assert cli_command(command(service)).name == command(service)[0]


def test_a_worker_option_that_does_not_exist_is_caught() -> None:
    # the check above can fail
    with pytest.raises(AssertionError, match="takes no option"):
        cli_command(["worker", "--groups", "g"])
    with pytest.raises(AssertionError, match="no command"):
        cli_command(["workers"])


def test_workers_can_be_scaled() -> None:
    worker = services()["worker"]
    # a fixed container name or a published port would stop a second replica from starting
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["deploy"]["replicas"] >= 2
    scale = readme_command("docker compose up")
    assert re.search(r"--scale worker=\d+", scale)


def test_the_worker_can_open_its_sandbox_in_a_container() -> None:
    """subprocess:// isolates each sandbox worker's network with ``unshare --net``: in a
    container that takes root and CAP_SYS_ADMIN (Docker's seccomp profile allows unshare
    only with it); bwrap:// would need seccomp off (pivot_root) and is not installed."""
    worker = services()["worker"]
    sandbox = environment(worker)["SELFENG_SANDBOX"] or ""
    parts = urlsplit(sandbox)
    assert parts.scheme == "subprocess"
    if "isolate_network=false" not in parts.query:
        assert str(worker.get("user")) in {"root", "0", "0:0"}
        assert "SYS_ADMIN" in worker.get("cap_add", [])
    assert worker.get("privileged") is not True
    assert not any("unconfined" in opt for opt in worker.get("security_opt", []))


# -- the image --------------------------------------------------------------------------------


def test_the_image_installs_selfeng_with_the_extras_the_stack_needs() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    runs = " ".join(rest for stage in dockerfile_stages() for kw, rest in stage if kw == "RUN")
    installed = re.search(r"pip install '\.\[([a-z,]+)\]'", runs)
    assert installed is not None
    wanted = set(installed.group(1).split(","))
    assert {"kafka", "postgres", "openai"} <= wanted <= set(extras)
    # what the compose file's URLs need
    needed = {
        backends.EXTRAS[urlsplit(u).scheme]
        for s in selfeng_services().values()
        for u in (environment(s)["SELFENG_LOG"] or "", environment(s)["SELFENG_STORE"] or "")
    }
    assert needed <= wanted


def test_the_image_runs_selfeng_as_an_unprivileged_user() -> None:
    (entrypoint,) = final_stage("ENTRYPOINT")
    assert exec_form(entrypoint) == ["selfeng"]
    (cmd,) = final_stage("CMD")
    args = exec_form(cmd)
    if args[0].startswith("-"):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    else:
        cli_command(args)
    (user,) = final_stage("USER")
    assert user not in {"root", "0"}
    assert not user.startswith("0:")
    runs = " ".join(final_stage("RUN"))
    assert re.search(rf"useradd .*\b{user}$", runs), "the user is created in the image"
    assert dockerfile_env()["PATH"].startswith("/opt/selfeng/bin:")
    assert any(
        rest.startswith("--from=") and "/opt/selfeng" in rest for rest in final_stage("COPY")
    )


def test_the_healthcheck_is_doctor() -> None:
    args = selfeng_args(healthcheck_command())
    assert cli_command(args).name == "doctor"


def test_the_healthcheck_fails_when_the_store_does_not_answer(tmp_path: Path) -> None:
    args = selfeng_args(healthcheck_command())
    store = f"postgresql://selfeng:secret@127.0.0.1:{closed_port()}/selfeng"
    result = CliRunner().invoke(
        main, ["--home", str(tmp_path), "--log", "memory://", "--store", store, *args]
    )
    assert result.exit_code != 0
    assert "no PostgreSQL answers" in result.output
    assert "secret" not in result.output


@pytest.mark.slow
def test_the_healthcheck_fails_when_kafka_does_not_answer(tmp_path: Path) -> None:
    args = selfeng_args(healthcheck_command())
    log = f"kafka://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = CliRunner().invoke(
        main, ["--home", str(tmp_path), "--log", log, "--store", "memory://", *args]
    )
    assert result.exit_code != 0
    assert "no Kafka broker answers" in result.output
    # within the healthcheck's timeout
    timeout = re.search(r"--timeout=(\d+)s", final_stage("HEALTHCHECK")[0])
    assert timeout is not None
    assert time.monotonic() - started < int(timeout.group(1))


def test_the_build_context_keeps_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".git", ".venv"} <= set(patterns)
    copied = [
        part
        for stage in dockerfile_stages()
        for kw, rest in stage
        if kw == "COPY" and not rest.startswith("--from")
        for part in rest.split()[:-1]
    ]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch(source, p) for p in patterns), f"{source} is not in the context"
    # pyproject.toml's readme is read when the package is built
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["readme"]
    assert readme in copied


def compose_plugin() -> bool:
    try:
        done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def test_docker_compose_accepts_the_file() -> None:
    if not compose_plugin():
        pytest.skip("no `docker compose` here (the compose plugin is not installed)")
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


# -- the README -------------------------------------------------------------------------------


def readme_record() -> tuple[str, bytes, bytes]:
    """The README's request as kafka-console-producer.sh sends it: topic, key and value."""
    producer = readme_command("kafka-console-producer.sh")
    line_format = re.search(r"printf '([^']*)'", producer)
    assert line_format is not None
    request_id = str(uuid.uuid4())
    line = line_format.group(1).replace("%s", request_id).replace("%%", "%").removesuffix("\\n")
    words = shlex.split(docker_part(producer))
    assert "parse.key=true" in words
    separator = next(w for w in words if w.startswith("key.separator=")).partition("=")[2]
    key, _, value = line.partition(separator)
    assert key == request_id
    topic = words[words.index("--topic") + 1]
    return topic, key.encode(), value.encode()


def test_the_readme_request_record_is_a_request_event() -> None:
    topic, key, value = readme_record()
    assert topic == RequestReceived.topic()
    # no headers, as the console producer sends it
    message = SimpleNamespace(
        headers=[], key=key, value=value, partition=0, offset=7, timestamp=1_700_000_000_000
    )
    event = from_record(decode(topic, message))
    assert isinstance(event, RequestReceived)
    assert event.key == key.decode()
    assert event.prompt
    assert not event.answered_inline


def test_the_readme_commands_name_real_services_topics_and_addresses() -> None:
    found = services()
    advertised = kafka_listeners(environment(found["kafka"])["KAFKA_ADVERTISED_LISTENERS"] or "")
    in_network = {f"{h}:{p}" for h, p in advertised.values() if h == "kafka"}
    for line in readme_commands():
        words = shlex.split(docker_part(line))
        if words[:3] != ["docker", "compose", "exec"]:
            continue
        service = next(w for w in words[3:] if not w.startswith("-"))
        assert service in found
        assert words[words.index("--bootstrap-server") + 1] in in_network
    consumer = shlex.split(readme_command("kafka-console-consumer.sh"))
    assert consumer[consumer.index("--topic") + 1] == TOPIC_OF_FAMILY["learning"]


@pytest.mark.kafka
@pytest.mark.slow
def test_the_readme_request_record_is_answered_by_a_worker(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The README's record, sent the way the console producer sends it (no headers, the
    default murmur2 partitioner), answered by ``selfeng worker`` on a real broker."""
    from kafka import KafkaProducer

    from selfeng.app import Selfeng
    from selfeng.consumers.worker import Worker
    from selfeng.core.settings import Settings
    from tests.kafka_broker import unique_namespace

    namespace = unique_namespace()
    url = f"kafka://{kafka_bootstrap}?namespace={namespace}&session_timeout_ms=6000"
    settings = Settings.resolve(home=tmp_path, log=url, store="memory://", env={})
    topic, key, value = readme_record()
    with Selfeng.open(settings) as app, backends.open_log(url) as reader:
        # the topics exist now: opening the log created them, as a worker's does
        producer = KafkaProducer(bootstrap_servers=[kafka_bootstrap])
        try:
            producer.send(f"{namespace}.{topic}", key=key, value=value).get(timeout=30)
        finally:
            producer.close()
        stop = threading.Event()
        thread = threading.Thread(target=Worker(app, group="selfeng.worker").run, args=(stop,))
        thread.start()
        try:
            types = list(answered(reader, key.decode(), deadline=time.monotonic() + 90))
        finally:
            stop.set()
            thread.join(60)
    assert types[0] == "RequestReceived"
    assert "RequestCompleted" in types


def answered(log: EventLog, request_id: str, *, deadline: float) -> Iterator[str]:
    """The types of the request's events, once it has a RequestCompleted (or at the deadline)."""
    while True:
        records = log.stream(request_id)
        if any(r.type == "RequestCompleted" for r in records) or time.monotonic() > deadline:
            yield from (r.type for r in records)
            return
        time.sleep(0.5)
