"""`make up`: prepare and run the whole local stack in the foreground.

Migrates every service (creating PostgreSQL databases when a URL points at one that does
not exist yet), seeds demo data where a service has a ``seed_demo`` command, renders the
nginx gateway config for local ports, then runs every process of the Procfile with honcho
(prefixed logs; Ctrl-C stops them all). Running it again is safe.

Environment (all optional): ``GATEWAY_LISTEN`` (127.0.0.1:8000), ``<SERVICE>_PORT``,
``SERVIDESK_VAR_DIR`` (var/), plus everything the services read (see .env.example).
``<SERVICE>_UPSTREAMS`` (e.g. ``TICKETS_UPSTREAMS=127.0.0.1:8102,127.0.0.1:9102``) gives
the gateway several servers for that service, served in turn; the Procfile still starts
one, on ``<SERVICE>_PORT``, and the others are yours to start (docs/deployment.md,
"Running replicas locally").
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from render_nginx import RenderError, render_local_config  # noqa: E402

from servidesk_shared.settings import read_env_file  # noqa: E402

SERVICES = {"accounts": 8101, "tickets": 8102, "notifier": 8103, "reports": 8104, "web": 8105}
# Seeds that need events from another service (tickets' demo tickets need the demo users in
# its directory, which arrive through the bus): run again once the stack is up, waiting.
# "Ready" is said once they are done: the demo desk's history is then in every service.
DEFERRED_SEEDS = {"tickets": ["seed_demo", "--wait", "180"]}
#: Each service's prefix behind the gateway, whose ``health/ready`` says it serves.
READY_PATHS = ("/api/accounts/", "/api/tickets/", "/api/notifications/", "/api/reports/", "/")
NGINX_HINT = (
    "nginx is not installed; it is the gateway on port 8000.\n"
    "Install it with:  sudo apt-get update && sudo apt-get install -y nginx   (Debian/Ubuntu)\n"
    "             or:  brew install nginx                                      (macOS)"
)
APT_INSTALL_NGINX = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "nginx"]


def find_nginx() -> str | None:
    # Debian installs it in /usr/sbin, which is not on a normal user's PATH.
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def nginx_installer() -> list[str] | None:
    """How this user can install nginx unattended: apt-get as root or with passwordless sudo.

    ``None`` when they cannot (no apt-get, or sudo would ask for a password): then the
    hint says the one command to run, rather than ``make up`` prompting or failing midway.
    """
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo is None:
        return None
    without_password = subprocess.run([sudo, "-n", "true"], capture_output=True, check=False)
    return [sudo, "-n"] if without_password.returncode == 0 else None


def ensure_nginx() -> str | None:
    """The nginx binary, installed first when it is missing and this user can install it."""
    nginx = find_nginx()
    if nginx is not None:
        return nginx
    prefix = nginx_installer()
    if prefix is None:
        print(NGINX_HINT, file=sys.stderr)
        return None
    print("devstack: nginx (the gateway) is missing; installing it with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-q"], APT_INSTALL_NGINX):
        if subprocess.run([*prefix, *step], env=env, check=False).returncode != 0:
            print(f"devstack: {' '.join(step)} failed\n{NGINX_HINT}", file=sys.stderr)
            return None
    # Debian's package starts a system nginx on port 80; the stack runs its own on 8000.
    nginx = find_nginx()
    if nginx is None:
        print(NGINX_HINT, file=sys.stderr)
    return nginx


def stack_environment() -> dict[str, str]:
    # The services' own reader: the root .env (or SERVIDESK_ENV_FILE), never over the
    # environment, so this script's choices (ports, var dir) match what they will see.
    read_env_file(ROOT)
    env = dict(os.environ)
    # Absolute: processes run from their own service folders and nginx resolves -c against -p.
    env["SERVIDESK_VAR_DIR"] = str((ROOT / env.get("SERVIDESK_VAR_DIR", "var")).resolve())
    env.setdefault("GATEWAY_LISTEN", "127.0.0.1:8000")
    env.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.local")
    # web-events, web's live stream (uvicorn), on a port of its own.
    env.setdefault("WEB_EVENTS_PORT", "8106")
    for name, port in SERVICES.items():
        env.setdefault(f"{name.upper()}_PORT", str(port))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    # A local stack's webhooks go to receivers on this machine (loopback, the LAN).
    env.setdefault("WEBHOOK_ALLOW_PRIVATE", "true")
    return env


def ensure_postgres_database(url: str) -> None:
    """Create the database a postgres:// URL names, if the server has no such database yet."""
    import psycopg  # noqa: PLC0415 (only needed when PostgreSQL is configured)
    from psycopg import sql  # noqa: PLC0415

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = parts._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            print(f"devstack: creating database {name}", flush=True)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_url_for(service: str, env: dict[str, str]) -> str:
    return env.get(f"{service.upper()}_DATABASE_URL") or env.get("DATABASE_URL") or ""


def manage(service: str, env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT / "services" / service,
        env=env,
        check=True,
    )


def has_command(service: str, command: str) -> bool:
    return any((ROOT / "services" / service).glob(f"*/management/commands/{command}.py"))


def prepare_service(service: str, env: dict[str, str]) -> None:
    url = database_url_for(service, env)
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        ensure_postgres_database(url)
    manage(service, env, "migrate", "--noinput", "--verbosity", "0")
    if has_command(service, "seed_demo"):
        manage(service, env, "seed_demo")


def prepare(env: dict[str, str]) -> None:
    Path(env["SERVIDESK_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    # Services migrate in parallel: each has its own database.
    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        for future in [pool.submit(prepare_service, name, env) for name in SERVICES]:
            future.result()
    render_gateway(env)


def gateway_upstreams(env: dict[str, str]) -> dict[str, str]:
    """Each service's servers for nginx: ``<SERVICE>_UPSTREAMS`` when set (replicas,
    comma-separated), else the one the Procfile starts on ``<SERVICE>_PORT``."""
    return {
        name: env.get(f"{name.upper()}_UPSTREAMS", "").strip()
        or f"127.0.0.1:{env[f'{name.upper()}_PORT']}"
        for name in (*SERVICES, "web_events")
    }


def render_gateway(env: dict[str, str]) -> Path:
    """Write the gateway's config under ``SERVIDESK_VAR_DIR/nginx`` for ``env``."""
    return render_local_config(
        Path(env["SERVIDESK_VAR_DIR"]) / "nginx",
        listen=env["GATEWAY_LISTEN"],
        upstreams=gateway_upstreams(env),
        auth_rate=env.get("GATEWAY_AUTH_RATE") or None,
        api_rate=env.get("GATEWAY_API_RATE") or None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "prepare"], nargs="?", default="up")
    args = parser.parse_args()

    nginx = ensure_nginx()
    if nginx is None:
        return 1
    env = stack_environment()
    env["PATH"] = f"{Path(nginx).parent}{os.pathsep}{env['PATH']}"
    try:
        prepare(env)
    except subprocess.CalledProcessError as exc:
        print(f"devstack: {' '.join(exc.cmd)} failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    except RenderError as exc:
        print(f"devstack: the gateway's config: {exc}", file=sys.stderr)
        return 1
    if args.command == "prepare":
        return 0
    print("devstack: starting every process (Ctrl-C stops them all)", flush=True)
    return run_stack(env)


def run_stack(env: dict[str, str]) -> int:
    """honcho runs the Procfile; deferred seeds run beside it until they finish."""
    honcho = [sys.executable, "-m", "honcho", "-f", str(ROOT / "Procfile"), "-d", str(ROOT)]
    stack = subprocess.Popen([*honcho, "start"], env=env)
    seeds = [
        subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=ROOT / "services" / service, env=env
        )
        for service, args in DEFERRED_SEEDS.items()
        if has_command(service, args[0])
    ]
    # Ctrl-C reaches every process of the terminal's group; honcho stops the stack and this
    # script only waits for it, so a second signal here must not cut that short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stack.terminate())
    announce_ready(env, stack, seeds)
    code = stack.wait()
    for seed in seeds:
        if seed.poll() is None:
            seed.terminate()
        seed.wait()
    return code


def announce_ready(
    env: dict[str, str], stack: subprocess.Popen[bytes], seeds: list[subprocess.Popen[bytes]]
) -> None:
    """Say "ready" once the deferred seeds are done (the demo desk is in place, its events
    with every consumer) and the gateway answers; nothing if the stack stops first."""
    while stack.poll() is None and any(seed.poll() is None for seed in seeds):
        time.sleep(0.5)
    failed = [seed.args for seed in seeds if seed.poll() not in (None, 0)]
    gateway = f"http://{env['GATEWAY_LISTEN']}"
    while stack.poll() is None and not gateway_ready(gateway):
        time.sleep(0.5)
    if stack.poll() is not None:
        return
    for args in failed:
        print(f"devstack: {' '.join(map(str, args))} failed; see its output above", flush=True)
    print(f"devstack: Servidesk is ready on {gateway}/ (Ctrl-C stops it)", flush=True)


def gateway_ready(gateway: str) -> bool:
    """Every service answers its readiness check through the gateway."""
    for prefix in READY_PATHS:
        try:
            # A busy machine answers slowly: a short timeout would never see it ready.
            with urlopen(f"{gateway}{prefix}health/ready", timeout=10) as response:  # noqa: S310 (our own http URL)
                if response.status != 200:
                    return False
        except OSError:
            return False
    return True


if __name__ == "__main__":
    sys.exit(main())
