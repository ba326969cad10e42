"""The people of a load run, created the way an admin would, and the tickets they start with.

Everything goes through the services' own APIs (so accounts publishes ``user.registered``
and tickets' directory fills from the bus), straight to each service's gunicorn: setting
up is not the load, and must not spend the gateway's per-IP budget.

The population file (JSON) is what ``locustfile.py`` reads: one entry per account, with
its role and password, and optionally a token pair issued beforehand.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psycopg

from bench.load import texts

#: The demo admin that ``seed_demo`` creates in a local stack (the cross tests' ``pg_stack``).
#: Production settings refuse demo data, whose passwords are public: see ``create_admin``.
DEMO_ADMIN = ("admin", "Mesa-de-ayuda-A1")
ACCOUNTS_DIR = Path(__file__).resolve().parents[2] / "services" / "accounts"
ROLES = ("client", "technician", "admin")
#: How a help desk is staffed: the locust user classes' weights.
WEIGHTS = {"client": 70, "technician": 25, "admin": 5}


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str
    user_id: str
    #: A pair issued before the run (the smoke test); empty means "log in through the gateway".
    tokens: dict[str, str] = field(default_factory=dict)


def login(base_url: str, username: str, password: str) -> dict[str, str]:
    """``{access, refresh}`` for one account, from accounts' token endpoint."""
    response = httpx.post(
        f"{base_url}/api/accounts/auth/token/",
        json={"username": username, "password": password},
        timeout=60,
    )
    response.raise_for_status()
    pair: dict[str, str] = response.json()
    return pair


def create_admin(env: Mapping[str, str], *, username: str = "loadadmin") -> tuple[str, str]:
    """The run's own admin, made by accounts' ``createsuperuser`` under ``env``'s settings.

    For a stack under production settings, which refuse ``SERVIDESK_SEED_DEMO``: the run
    brings its own admin with a password of its own, and that admin creates everyone
    else through the API (an address set by an admin counts as confirmed). ``env`` is
    the stack's environment (database URLs, keys). Returns ``(username, password)``.
    """
    password = f"Carga-admin-{secrets.token_hex(8)}"
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username,
         "--email", f"{username}@load.example"],
        cwd=ACCOUNTS_DIR,
        env={**os.environ, **env, "DJANGO_SUPERUSER_PASSWORD": password},
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )  # fmt: skip
    return username, password


def post(
    http: httpx.Client, url: str, *, headers: Mapping[str, str], body: object
) -> httpx.Response:
    """POST, waiting out the services' per-user write throttle (429 with Retry-After):
    one admin loading a population writes faster than any person would."""
    for _ in range(5):
        response = http.post(url, headers=headers, json=body)
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("Retry-After", "5")) + 0.5)
    return response


def bearer(pair: Mapping[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access']}"}


def create_accounts(
    accounts_url: str, admin: Mapping[str, str], counts: Mapping[str, int], tag: str
) -> list[Account]:
    """``counts[role]`` new users per role, as the admin, via ``POST users/``."""
    password = f"Carga-sostenida-{secrets.token_hex(6)}"
    wanted = [
        (role, f"load{tag}{role[0]}{index:03d}")
        for role in ROLES
        for index in range(counts.get(role, 0))
    ]

    def create(item: tuple[str, str]) -> Account:
        role, username = item
        response = post(
            http,
            f"{accounts_url}/api/accounts/users/",
            headers=bearer(admin),
            body={
                "username": username,
                "email": f"{username}@load.example",
                "password": password,
                "role": role,
                "full_name": f"Load {role.title()} {username[-3:]}",
                "language": random.choice(("es", "en")),
            },
        )
        if response.status_code != 201:
            raise RuntimeError(f"creating {username}: {response.status_code} {response.text}")
        return Account(username, password, role, str(response.json()["id"]))

    # Password hashing (PBKDF2, on purpose slow) is the cost: a few in parallel.
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(create, wanted))


def create_accounts_in_service(
    env: Mapping[str, str], counts: Mapping[str, int], tag: str, *, resume_share: float = 0.0
) -> list[Account]:
    """``counts[role]`` new users per role, made inside accounts' Django with the password
    hashed once (``accounts_setup.py`` says why); the same rows and ``user.registered``
    events as ``create_accounts``, in seconds instead of a quarter of a core-second each.

    ``resume_share`` of each role's people (the first ones) also get a token pair, so they
    resume a session (a refresh) instead of signing in (PBKDF2) when their person starts.
    """
    password = f"Carga-sostenida-{secrets.token_hex(6)}"
    rng = random.Random(20261208)
    people, resume = [], []
    for role in ROLES:
        count = counts.get(role, 0)
        resumed = round(count * resume_share)
        for index in range(count):
            username = f"load{tag}{role[0]}{index:04d}"
            people.append((role, username, rng.choice(("es", "en"))))
            if index < resumed:
                resume.append(username)
    with tempfile.TemporaryDirectory(prefix="load-accounts-") as folder:
        spec, out = Path(folder) / "spec.json", Path(folder) / "out.json"
        spec.write_text(json.dumps({"password": password, "people": people, "resume": resume}))
        script = Path(__file__).with_name("accounts_setup.py")
        files = {"LOAD_ACCOUNTS_SPEC": str(spec), "LOAD_ACCOUNTS_OUT": str(out)}
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             f"import runpy; runpy.run_path({str(script)!r})"],
            cwd=ACCOUNTS_DIR,
            env={**os.environ, **env, **files},
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=1800,
        )  # fmt: skip
        made = json.loads(out.read_text())
    return [
        Account(entry["username"], password, entry["role"], entry["user_id"], entry["tokens"])
        for entry in made
    ]


def wait_for_directory(
    tickets_database_url: str, accounts: Iterable[Account], timeout: float
) -> float:
    """Wait until tickets' user directory has every account (it fills from the bus).

    Returns the seconds it took.
    """
    ids = [account.user_id for account in accounts]
    started = time.monotonic()
    with psycopg.connect(tickets_database_url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM tickets_directoryuser WHERE id = ANY(%s) AND is_active",
                (ids,),
            ).fetchone()
            known = row[0] if row else 0
            if known == len(ids):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"tickets' directory has {known} of {len(ids)} load users")
            time.sleep(0.5)


def open_tickets(
    tickets_url: str, admin: Mapping[str, str], clients: Iterable[Account], per_client: int
) -> int:
    """Tickets opened by staff on each client's behalf, so the queue has work at the start."""
    rng = random.Random(20261127)
    with httpx.Client(base_url=tickets_url, headers=bearer(admin), timeout=60) as http:
        categories = [c["slug"] for c in http.get("/api/tickets/categories/").json()]
        bodies = [
            {**texts.new_ticket(rng, categories), "client_id": client.user_id}
            for client in clients
            for _ in range(per_client)
        ]

        def open_one(body: Mapping[str, object]) -> None:
            response = post(http, "/api/tickets/", headers={}, body=body)
            if response.status_code != 201:
                raise RuntimeError(f"opening a ticket: {response.status_code} {response.text}")

        # A few at once: a thousand clients' tickets one after another take minutes.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(open_one, bodies))
    return len(bodies)


def write(path: Path, accounts: Iterable[Account]) -> None:
    path.write_text(json.dumps([asdict(account) for account in accounts], indent=1))


def read(path: Path) -> list[Account]:
    return [Account(**entry) for entry in json.loads(path.read_text())]
