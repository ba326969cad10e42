"""Generate the secrets of the docker-compose deployment into deploy/secrets/.

    python3 scripts/compose_secrets.py            # once, before the first `docker compose up`

Nothing usable ships in the repository: this writes, for this deployment only,

- ``<service>.env`` for accounts, tickets, notifier, reports and web: the service's own
  ``SECRET_KEY``, ``DATABASE_URL`` (its own PostgreSQL role and database) and, except for
  web, ``BROKER_URL`` (its own RabbitMQ user). docker-compose.yml gives each container
  its service's file only, so no container holds another service's credentials;
- ``postgres.env``: the superuser's password and each service role's password, which
  deploy/postgres/init-databases.sh uses to create the roles on the first start;
- ``rabbitmq-definitions.json``: the ``servidesk`` vhost, one user per service and an
  ``admin`` user for the management UI (salted SHA-256 hashes, no clear passwords), and
  what each user may do, which RabbitMQ loads at every boot (deploy/rabbitmq/);
- ``rabbitmq-admin.env``: the management UI's credentials, for you (no container reads it).

The JWT key pair is not here: the jwt-keys container generates it into two volumes on the
first start, so the private key never sits in the project folder.

Running it again keeps every secret that exists and creates only what is missing (the
database volume keeps the passwords it was initialised with); the broker definitions are
always rewritten from the current passwords, so a change of the permissions below takes
effect at RabbitMQ's next restart. ``--rotate NAME`` replaces one service's secrets.
Only the standard library is needed: run it with any Python 3.11+.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "deploy" / "secrets"

SERVICES = ("accounts", "tickets", "notifier", "reports", "web")
# web's pages only call the APIs; its web-live process consumes web.live (the live UI).
BROKER_USERS = ("accounts", "tickets", "notifier", "reports", "web")
VHOST = "servidesk"
ADMIN_USER = "admin"
POSTGRES_HOST = "postgres:5432"
RABBITMQ_HOST = "rabbitmq:5672"

# --- What each broker user may do ------------------------------------------------------
# Names of servidesk_shared.events.topology (no SERVIDESK_EVENT_PREFIX in compose).
EVENTS_EXCHANGE = "servidesk.events"
DEAD_LETTER_EXCHANGE = "servidesk.dlx"
QUEUES = ("notifier.events", "reports.events", "tickets.users", "accounts.invites", "web.live")

#: Event types (routing keys on servidesk.events) each user may publish: the owners of
#: servidesk_shared.events.schemas (tests/test_compose_secrets.py checks every type
#: against its owner). Services that only consume publish nothing there. tickets owns
#: one user.* type (user.invite_requested, its mail channel asking for a client), which
#: accounts' pattern leaves out.
PUBLISHES: dict[str, str] = {
    "accounts": r"^(?:user\.(?!invite_requested$)[a-z_]+|verification\.[a-z_]+)$",
    "tickets": r"^(?:(?:ticket|team|mail)\.[a-z_]+|user\.invite_requested)$",
    "notifier": r"^notification\.[a-z_]+$",
    "reports": r"^report\.[a-z_]+$",
    "web": "^$",
}


def _names(names: list[str]) -> str:
    return "^(?:" + "|".join(re.escape(name) for name in names) + ")$"


def vhost_permissions(user: str) -> dict[str, str]:
    """configure/write/read patterns of ``user`` on the vhost (RabbitMQ's access control).

    Every process declares the whole topology on start (topology.Topology.declare), so
    every user needs: configure on both exchanges and every queue; write on every queue
    (queue.bind) and on servidesk.dlx (declaring a queue with it as dead-letter exchange,
    and a consumer copying a failed message there); read on both exchanges (queue.bind)
    and on the queues (declaring a queue with a dead-letter exchange needs read on it;
    consuming, listing and replaying dead letters). Only a producer may write to
    servidesk.events, and its topic permission then limits the routing keys. Nobody may
    write to the default exchange, which would reach any queue by name past those limits.
    """
    queues = [*QUEUES, *(f"{queue}.dlq" for queue in QUEUES)]
    exchanges = [EVENTS_EXCHANGE, DEAD_LETTER_EXCHANGE]
    producer = PUBLISHES[user] != "^$"
    writable = [*queues, DEAD_LETTER_EXCHANGE, *([EVENTS_EXCHANGE] if producer else [])]
    return {
        "configure": _names([*exchanges, *queues]),
        "write": _names(writable),
        "read": _names([*exchanges, *queues]),
    }


def topic_permissions(user: str) -> dict[str, str]:
    """Routing keys ``user`` may publish to (write) and bind with (read) on servidesk.events."""
    # Binding keys are the subscription patterns (ticket.#, user.#, ...), which every
    # process declares for every queue; reading grants nothing beyond the queues above.
    return {"exchange": EVENTS_EXCHANGE, "write": PUBLISHES[user], "read": ".*"}


# --- Secrets --------------------------------------------------------------------------


@dataclass
class ServiceSecrets:
    secret_key: str
    db_password: str
    broker_password: str


def new_password() -> str:
    # URL-safe, so it goes into DATABASE_URL and BROKER_URL without any quoting.
    return secrets.token_urlsafe(32)


def new_secret_key() -> str:
    return secrets.token_urlsafe(64)


def rabbitmq_password_hash(password: str, *, salt: bytes | None = None) -> str:
    """``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


def read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def _password_of(url: str) -> str:
    return unquote(urlsplit(url).password or "") if url else ""


def load_service(out: Path, name: str) -> ServiceSecrets:
    """What exists for ``name`` in ``out``, with anything missing generated."""
    env = read_env(out / f"{name}.env")
    return ServiceSecrets(
        secret_key=env.get("SECRET_KEY") or new_secret_key(),
        db_password=_password_of(env.get("DATABASE_URL", "")) or new_password(),
        broker_password=_password_of(env.get("BROKER_URL", "")) or new_password(),
    )


def service_env(name: str, found: ServiceSecrets) -> str:
    lines = [
        f"# The {name} service's own secrets, written by scripts/compose_secrets.py. Keep",
        "# this file out of version control and out of images: docker-compose.yml gives it",
        f"# to the {name} containers only.",
        f"SECRET_KEY={found.secret_key}",
        f"DATABASE_URL=postgres://{name}:{found.db_password}@{POSTGRES_HOST}/{name}",
    ]
    if name in BROKER_USERS:
        lines.append(f"BROKER_URL=amqp://{name}:{found.broker_password}@{RABBITMQ_HOST}/{VHOST}")
    return "\n".join(lines) + "\n"


def postgres_env(superuser_password: str, services: dict[str, ServiceSecrets]) -> str:
    lines = [
        "# PostgreSQL's superuser and the password of each service's role, generated by",
        "# scripts/compose_secrets.py. deploy/postgres/init-databases.sh creates the roles",
        "# and databases from these on the first start of an empty volume only.",
        "POSTGRES_USER=postgres",
        f"POSTGRES_PASSWORD={superuser_password}",
        "POSTGRES_DB=postgres",
    ]
    lines += [f"{name.upper()}_DB_PASSWORD={found.db_password}" for name, found in services.items()]
    return "\n".join(lines) + "\n"


def rabbitmq_definitions(
    services: dict[str, ServiceSecrets],
    admin_password: str,
    *,
    vhost: str = VHOST,
    user_prefix: str = "",
) -> dict[str, object]:
    """RabbitMQ definitions: the vhost, the users, their permissions and topic permissions.

    ``vhost`` and ``user_prefix`` exist for tests, which load these into a shared broker.
    """
    users: list[dict[str, object]] = [
        {
            "name": f"{user_prefix}{ADMIN_USER}",
            "password_hash": rabbitmq_password_hash(admin_password),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": "administrator",
        }
    ]
    permissions: list[dict[str, str]] = [
        {
            "user": f"{user_prefix}{ADMIN_USER}",
            "vhost": vhost,
            "configure": ".*",
            "write": ".*",
            "read": ".*",
        }
    ]
    topic: list[dict[str, str]] = []
    for name in BROKER_USERS:
        user = f"{user_prefix}{name}"
        users.append(
            {
                "name": user,
                "password_hash": rabbitmq_password_hash(services[name].broker_password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": "",
            }
        )
        permissions.append({"user": user, "vhost": vhost, **vhost_permissions(name)})
        topic.append({"user": user, "vhost": vhost, **topic_permissions(name)})
    return {
        "users": users,
        "vhosts": [{"name": vhost}],
        "permissions": permissions,
        "topic_permissions": topic,
    }


def _write(path: Path, text: str, *, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def generate(out: Path, *, rotate: frozenset[str] = frozenset()) -> list[Path]:
    """Write every file into ``out``, keeping existing secrets except those in ``rotate``."""
    out.mkdir(parents=True, exist_ok=True)
    services = {
        name: ServiceSecrets(new_secret_key(), new_password(), new_password())
        if name in rotate
        else load_service(out, name)
        for name in SERVICES
    }
    postgres = read_env(out / "postgres.env")
    superuser = (
        new_password()
        if "postgres" in rotate
        else postgres.get("POSTGRES_PASSWORD") or new_password()
    )
    admin_env = read_env(out / "rabbitmq-admin.env")
    admin_password = (
        new_password()
        if "rabbitmq" in rotate
        else admin_env.get("RABBITMQ_ADMIN_PASSWORD") or new_password()
    )
    written = []
    for name, found in services.items():
        path = out / f"{name}.env"
        _write(path, service_env(name, found), mode=0o600)
        written.append(path)
    path = out / "postgres.env"
    _write(path, postgres_env(superuser, services), mode=0o600)
    written.append(path)
    path = out / "rabbitmq-admin.env"
    _write(
        path,
        "# The RabbitMQ management UI (http://127.0.0.1:15672), vhost servidesk.\n"
        f"RABBITMQ_ADMIN_USER={ADMIN_USER}\nRABBITMQ_ADMIN_PASSWORD={admin_password}\n",
        mode=0o600,
    )
    written.append(path)
    # Read by the rabbitmq container's own user: salted hashes only, no clear passwords.
    path = out / "rabbitmq-definitions.json"
    definitions = rabbitmq_definitions(services, admin_password)
    _write(path, json.dumps(definitions, indent=2) + "\n", mode=0o644)
    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder (deploy/secrets)")
    parser.add_argument(
        "--rotate",
        action="append",
        default=[],
        choices=[*SERVICES, "postgres", "rabbitmq"],
        help="replace this one's secrets (repeatable); its database role or broker user "
        "must then be changed too (a fresh volume, or ALTER ROLE)",
    )
    args = parser.parse_args(argv)
    old_umask = os.umask(0o077)
    try:
        written = generate(args.out, rotate=frozenset(args.rotate))
    finally:
        os.umask(old_umask)
    for path in written:
        print(f"wrote {path}")
    print("next: docker compose up --build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
