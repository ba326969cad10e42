"""scripts/compose_secrets.py and what it configures, checked against the real servers.

- the generator: secrets per deployment, kept on a second run, none that production
  settings would refuse as an example;
- RabbitMQ: its definitions loaded into this machine's broker (a vhost and users of this
  run's own, removed afterwards). Each service declares the topology as it does on start;
  accounts and tickets publish only the event types they own; notifier and reports
  publish nothing; nobody reaches a queue through the default exchange;
- PostgreSQL: deploy/postgres/init-databases.sh run against this machine's server (names
  of this run's own, dropped afterwards): each role gets into its own database only.

Needs rabbitmqctl (as root, or with the broker's Erlang cookie) and psql; skips without
them locally and fails under CI, where both run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from kombu import Connection, Producer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))

from servidesk_shared.events import schemas  # noqa: E402
from servidesk_shared.events.topology import Topology  # noqa: E402
from servidesk_shared.settings.examples import example_reason  # noqa: E402

BROKER_HOST = os.environ.get("SERVIDESK_TEST_BROKER_HOST", "127.0.0.1:5672")
POSTGRES_HOST = os.environ.get("PGHOST", "127.0.0.1")


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


compose_secrets = _load("compose_secrets")


def require(tool: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/local/sbin")
    if path is None:
        message = f"{tool} is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run this check")
        pytest.skip(message)
    return path


# --- The generator -----------------------------------------------------------------------


def test_generates_every_secret_once_and_keeps_them(tmp_path: Path) -> None:
    out = tmp_path / "secrets"
    compose_secrets.generate(out)
    first = {path.name: path.read_text() for path in out.iterdir()}
    assert set(first) == {
        *(f"{name}.env" for name in compose_secrets.SERVICES),
        "postgres.env",
        "rabbitmq-admin.env",
        "rabbitmq-definitions.json",
    }
    # Only the broker's definitions (salted hashes) are readable by others: RabbitMQ's
    # own user reads them in its container.
    for path in out.iterdir():
        mode = path.stat().st_mode & 0o777
        assert mode == (0o644 if path.suffix == ".json" else 0o600), path.name

    compose_secrets.generate(out)
    again = {path.name: path.read_text() for path in out.iterdir()}
    # A second run keeps what the volumes were initialised with.
    for name, text in first.items():
        if name.endswith(".env"):
            assert again[name] == text, name

    compose_secrets.generate(out, rotate=frozenset({"tickets"}))
    rotated = {path.name: path.read_text() for path in out.iterdir()}
    assert rotated["tickets.env"] != first["tickets.env"]
    assert rotated["accounts.env"] == first["accounts.env"]


def test_generated_secrets_are_distinct_and_pass_production(tmp_path: Path) -> None:
    out = tmp_path / "secrets"
    compose_secrets.generate(out)
    values: list[str] = []
    for name in compose_secrets.SERVICES:
        found = compose_secrets.load_service(out, name)
        values += [found.secret_key, found.db_password]
        if name in compose_secrets.BROKER_USERS:
            values.append(found.broker_password)
        assert len(found.secret_key) >= 50
    postgres = compose_secrets.read_env(out / "postgres.env")
    values.append(postgres["POSTGRES_PASSWORD"])
    values.append(compose_secrets.read_env(out / "rabbitmq-admin.env")["RABBITMQ_ADMIN_PASSWORD"])
    assert len(set(values)) == len(values), "a secret is shared between two places"
    for value in values:
        assert example_reason(value) is None
    # No clear password reaches the broker's file.
    definitions = (out / "rabbitmq-definitions.json").read_text()
    for value in values:
        assert value not in definitions


def test_rabbitmq_password_hash_matches_rabbitmqs_algorithm() -> None:
    # rabbit_password_hashing_sha256: base64(salt ++ sha256(salt ++ password)).
    salt = bytes.fromhex("908d c60a".replace(" ", ""))
    hashed = compose_secrets.rabbitmq_password_hash("test12", salt=salt)
    # The example of RabbitMQ's passwords documentation.
    assert hashed == "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"


def test_each_event_type_is_publishable_by_its_owner_only() -> None:
    import re  # noqa: PLC0415

    owners = {cls.type: cls.producer for cls in schemas.SCHEMAS.values()}
    assert set(owners) == set(schemas.EVENT_TYPES)
    for event_type, owner in owners.items():
        allowed = {
            user
            for user, pattern in compose_secrets.PUBLISHES.items()
            if re.fullmatch(pattern.removeprefix("^").removesuffix("$"), event_type)
        }
        assert allowed == {owner}, f"{event_type}: publishable by {sorted(allowed)}, owner {owner}"


def test_every_queue_of_the_topology_has_permissions() -> None:
    from servidesk_shared.events.topology import SUBSCRIPTIONS  # noqa: PLC0415

    assert set(compose_secrets.QUEUES) == set(SUBSCRIPTIONS)


# --- RabbitMQ ----------------------------------------------------------------------------


def rabbitmqctl(
    *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require("rabbitmqctl"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


@pytest.fixture(scope="module")
def broker() -> Iterator[Callable[[str], str]]:
    """The definitions loaded into this machine's broker; yields user -> its AMQP URL."""
    probe = rabbitmqctl("status", check=False)
    if probe.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"rabbitmqctl cannot reach the broker: {probe.stderr[-500:]}")
        pytest.skip("rabbitmqctl cannot reach the broker (needs root or its Erlang cookie)")
    run = secrets.token_hex(4)
    vhost, prefix = f"servidesk-perm-{run}", f"perm-{run}-"
    found = {
        name: compose_secrets.ServiceSecrets("k", "d", compose_secrets.new_password())
        for name in compose_secrets.SERVICES
    }
    definitions = compose_secrets.rabbitmq_definitions(
        found, compose_secrets.new_password(), vhost=vhost, user_prefix=prefix
    )
    users = [f"{prefix}{u}" for u in (compose_secrets.ADMIN_USER, *compose_secrets.BROKER_USERS)]
    try:
        # From standard input: the broker's own user may not read a private temp folder.
        rabbitmqctl("import_definitions", "--format", "json", stdin=json.dumps(definitions))
        # The import may finish after the command returns.
        deadline = time.monotonic() + 30
        while True:
            listed = rabbitmqctl("list_topic_permissions", "-p", vhost, "--silent", check=False)
            if listed.stdout.count(prefix) >= len(compose_secrets.BROKER_USERS):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"definitions not imported: {listed.stdout} {listed.stderr}")
            time.sleep(0.2)

        def url(service: str) -> str:
            password = found[service].broker_password
            return f"amqp://{prefix}{service}:{password}@{BROKER_HOST}/{vhost}"

        yield url
    finally:
        rabbitmqctl("delete_vhost", vhost, check=False)
        for user in users:
            rabbitmqctl("delete_user", user, check=False)


def publish(url: str, routing_key: str, *, exchange: Any = None) -> None:
    """Declare the topology as every process does on start, then publish one message."""
    topology = Topology()
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        topology.declare(channel)
        Producer(channel).publish(
            {"type": routing_key},
            exchange=topology.exchange if exchange is None else exchange,
            routing_key=routing_key,
            serializer="json",
        )


def refused(action: Callable[[], None]) -> str:
    with pytest.raises(Exception) as caught:  # noqa: PT011 (kombu/amqp's AccessRefused)
        action()
    message = str(caught.value)
    assert "ACCESS_REFUSED" in message, message
    return message


@pytest.mark.parametrize("service", compose_secrets.BROKER_USERS)
def test_every_service_can_declare_the_topology(broker: Callable[[str], str], service: str) -> None:
    with Connection(broker(service)) as conn:
        Topology().declare(conn.channel())


@pytest.mark.parametrize(
    ("service", "own", "foreign"),
    [("accounts", "user.updated", "ticket.created"), ("tickets", "ticket.created", "user.updated")],
)
def test_a_producer_publishes_its_own_event_types_only(
    broker: Callable[[str], str], service: str, own: str, foreign: str
) -> None:
    # The attack: a producer's stolen credentials (or a bug) announcing another owner's
    # event, e.g. tickets saying a user became an admin.
    publish(broker(service), own)
    assert "topic" in refused(lambda: publish(broker(service), foreign))
    assert "topic" in refused(lambda: publish(broker(service), "verification.phone_code.x"))


@pytest.mark.parametrize("service", ["notifier", "reports"])
@pytest.mark.parametrize("event_type", ["ticket.created", "user.updated"])
def test_consumers_publish_no_event(
    broker: Callable[[str], str], service: str, event_type: str
) -> None:
    refused(lambda: publish(broker(service), event_type))


@pytest.mark.parametrize("service", compose_secrets.BROKER_USERS)
def test_nobody_reaches_a_queue_through_the_default_exchange(
    broker: Callable[[str], str], service: str
) -> None:
    # The default exchange routes by queue name: it would skip the topic permissions.
    refused(lambda: publish(broker(service), "reports.events", exchange=""))


def test_a_consumer_reads_its_queue(broker: Callable[[str], str]) -> None:
    topology = Topology()
    with Connection(broker("reports")) as conn:
        channel = conn.channel()
        topology.declare(channel)
        queue = topology.queue("reports.events")(channel)
        queue.purge()  # what the other tests published
        publish(broker("tickets"), "ticket.created")
        deadline = time.monotonic() + 10
        while (message := queue.get(no_ack=True)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
    assert message is not None
    assert message.payload == {"type": "ticket.created"}


# --- PostgreSQL --------------------------------------------------------------------------


def psql(*args: str, user: str = "postgres", database: str = "postgres") -> str:
    result = subprocess.run(
        [require("psql"), "-h", POSTGRES_HOST, "-U", user, "-d", database, "-tAX", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def databases() -> Iterator[str]:
    """init-databases.sh run against this machine's server; yields the names' prefix."""
    try:
        psql("-c", "SELECT 1")
    except RuntimeError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable as postgres: {exc}")
        pytest.skip(f"PostgreSQL is not reachable as postgres: {exc}")
    prefix = f"initdb_{secrets.token_hex(4)}_"
    env = {
        **os.environ,
        "PGHOST": POSTGRES_HOST,
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        "SERVIDESK_DB_PREFIX": prefix,
        **{f"{s.upper()}_DB_PASSWORD": secrets.token_urlsafe(16) for s in compose_secrets.SERVICES},
    }
    try:
        result = subprocess.run(
            ["bash", str(ROOT / "deploy" / "postgres" / "init-databases.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        yield prefix
    finally:
        for service in compose_secrets.SERVICES:
            psql("-c", f'DROP DATABASE IF EXISTS "{prefix}{service}" WITH (FORCE)')
            psql("-c", f'DROP ROLE IF EXISTS "{prefix}{service}"')


def test_each_role_owns_its_database_and_is_no_superuser(databases: str) -> None:
    owners = dict(
        line.split("|")
        for line in psql(
            "-c", "SELECT datname, pg_get_userbyid(datdba) FROM pg_database"
        ).splitlines()
    )
    flags = {
        name: rest
        for name, _, rest in (
            line.partition("|")
            for line in psql(
                "-c", "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles"
            ).splitlines()
        )
    }
    for service in compose_secrets.SERVICES:
        name = f"{databases}{service}"
        assert owners[name] == name
        assert flags[name] == "f|f|f"
        # Its own database: in (local connections here are trusted, so no password).
        assert psql("-c", "SELECT current_user", user=name, database=name) == name


@pytest.mark.parametrize("service", ["tickets", "web"])
def test_a_role_cannot_connect_to_another_services_database(databases: str, service: str) -> None:
    # The attack: one service's leaked database URL opening the accounts database.
    with pytest.raises(RuntimeError, match="permission denied for database"):
        psql("-c", "SELECT 1", user=f"{databases}{service}", database=f"{databases}accounts")
