"""Render the nginx gateway config from nginx/nginx.conf.template.

Variants of one template (routes, headers, limits and error bodies live in
nginx/routes.conf and are the same in all of them):

- local, for `make up` and tests: upstreams on loopback ports, every file nginx writes
  (pid, temp files) inside ``out_dir``, error log to stderr and access log to stdout, so an
  unprivileged user runs it in the foreground with
  ``nginx -e stderr -p <out_dir> -c <out_dir>/nginx.conf``;
- compose, committed as nginx/nginx.compose.conf: upstreams are the compose service
  names and paths are those inside the nginx container, where nginx/ is mounted at
  /etc/nginx/servidesk;
- TLS, a local config like the first that serves https on ``listen`` (certificate and key
  as parameters) with HSTS on every answer, and on ``http_listen`` only redirects to it.

    python scripts/render_nginx.py --out var/nginx          # local, contract ports
    python scripts/render_nginx.py --out /tmp/gw --listen 127.0.0.1:9000 \\
        --upstream tickets=127.0.0.1:9102                    # move one upstream
    python scripts/render_nginx.py --out var/nginx \\
        --upstream tickets=127.0.0.1:8102,127.0.0.1:9102     # two replicas, round-robin
    python scripts/render_nginx.py --compose                 # rewrite nginx/nginx.compose.conf
    python scripts/render_nginx.py --compose --check         # fail if it is out of date
    python scripts/render_nginx.py --out var/nginx-tls --tls \\
        --cert tls/cert.pem --key tls/key.pem                # https on 8443, http 8000 redirects

An upstream lists one server or several (comma-separated on the command line, a
string or a sequence of ``host:port`` in ``upstreams``): nginx hands requests to them in
turn (round-robin), with the same kept-alive connections per worker, and a server that
refuses connections is passed over (``proxy_next_upstream error timeout`` in the
template) until it answers again.

Rate limits default to the production values; ``GATEWAY_AUTH_RATE`` and
``GATEWAY_API_RATE`` (or the keyword arguments) change them, e.g. for a load test.

The Django admin (``/api/<service>/admin/``: accounts has one) is not served through the
compose and TLS gateways, which answer 404 for it; it stays reachable on the service's own
port from the internal network. ``GATEWAY_EXPOSE_ADMIN=true`` when rendering (or the
``expose_admin`` keyword) serves it; the local config for ``make up`` serves it unless
``GATEWAY_EXPOSE_ADMIN=false``. The committed compose config is rendered without it.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX_DIR = ROOT / "nginx"
TEMPLATE = NGINX_DIR / "nginx.conf.template"
ROUTES = NGINX_DIR / "routes.conf"
COMPOSE_CONFIG = NGINX_DIR / "nginx.compose.conf"

SERVICES = ("accounts", "tickets", "notifier", "reports", "web")
#: Upstreams a config may name besides the services: web's live stream (web-events, the
#: ASGI process behind /events/). Left out, it falls back to web's servers (which answer
#: its path with 404: no live updates, every page still works).
OPTIONAL_UPSTREAMS = {"web_events": "web"}
#: One service's servers: ``"host:port"``, several of them comma-separated, or a sequence.
Servers = str | Sequence[str]
#: Every service's servers, by service name.
Upstreams = Mapping[str, Servers]
LOCAL_UPSTREAMS: dict[str, str] = {
    "accounts": "127.0.0.1:8101",
    "tickets": "127.0.0.1:8102",
    "notifier": "127.0.0.1:8103",
    "reports": "127.0.0.1:8104",
    "web": "127.0.0.1:8105",
    "web_events": "127.0.0.1:8106",
}
# Inside the compose network each service answers on its contract port under its name.
COMPOSE_UPSTREAMS: dict[str, str] = {
    name: f"{name}:{address.rsplit(':', 1)[1]}" for name, address in LOCAL_UPSTREAMS.items()
} | {"web_events": "web-events:8106"}  # compose and Kubernetes name it after the Procfile
# Where docker-compose.yml mounts nginx/ in the nginx container.
COMPOSE_NGINX_DIR = "/etc/nginx/servidesk"
COMPOSE_LISTEN = "8000"

# Strict: about one attempt every 6 s per client address, with a burst of 10 (routes.conf).
DEFAULT_AUTH_RATE = "10r/m"
# Loose: a person clicking around never gets near it; a runaway script does.
DEFAULT_API_RATE = "20r/s"

# The TLS variant: one year, subdomains too (what the HSTS preload list asks as minimum).
HSTS = "max-age=31536000; includeSubDomains"
DEFAULT_TLS_LISTEN = "127.0.0.1:8443"
DEFAULT_LISTEN = "127.0.0.1:8000"

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_RATE = re.compile(r"^[1-9][0-9]*r/[sm]$")
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
_HOST_PORT = re.compile(rf"^{_HOST}:[0-9]{{1,5}}$")
_LISTEN = re.compile(rf"^(?:{_HOST}:)?[0-9]{{1,5}}$")
# Characters that would end or escape a quoted nginx string or start a variable.
_UNSAFE_IN_PATH = re.compile(r'["\\$;{}\n\r]')

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

# The Django admin of any service, under its API prefix. Web's own pages under /admin/
# (users, categories, SLA) are the browser UI, not the Django admin, and stay served.
ADMIN_GATE = (
    "        # The Django admin (accounts' /api/accounts/admin/, any service's under its\n"
    "        # prefix) is not served through this gateway: reach it on the service's own port\n"
    "        # from the internal network, or render with GATEWAY_EXPOSE_ADMIN=true. A regex\n"
    "        # location, so it is checked after routes.conf's nested ones and wins over the\n"
    "        # /api/<service>/ prefixes.\n"
    "        location ~ ^/api/[^/]+/admin(?:/|$) {\n"
    "            default_type application/json;\n"
    '            return 404 \'{"message": "No API matches this path.", '
    '"extra": {"code": "not_found"}}\';\n'
    "        }\n"
    "\n"
)
ADMIN_EXPOSED = (
    "        # The Django admin is served through this gateway (GATEWAY_EXPOSE_ADMIN).\n\n"
)


class RenderError(ValueError):
    """The inputs cannot make a valid config (unknown service, bad address, odd path)."""


@dataclass(frozen=True)
class Tls:
    """What the TLS variant adds: where the certificate is and where plain http listens."""

    certificate: str
    certificate_key: str
    http_listen: str


@dataclass(frozen=True)
class Variant:
    """Everything that differs between the local and the compose config."""

    listen: str
    upstreams: Upstreams
    routes_path: str
    pid_path: str
    temp_dir: str
    error_log: str
    access_log: str
    worker_processes: str
    user: str | None
    auth_rate: str
    api_rate: str
    notice: str
    tls: Tls | None = None
    #: Serve the Django admin (``/api/<service>/admin/``) through the gateway.
    expose_admin: bool = False


def render_local_config(
    out_dir: Path,
    *,
    listen: str = "127.0.0.1:8000",
    upstreams: Upstreams,
    auth_rate: str | None = None,
    api_rate: str | None = None,
    expose_admin: bool | None = None,
) -> Path:
    """Write ``out_dir/nginx.conf`` for a gateway on ``listen`` in front of ``upstreams``.

    ``upstreams`` maps every service name to ``"host:port"``, or to several of them
    (replicas, served in turn: ``"127.0.0.1:8102,127.0.0.1:9102"`` or a list). The result
    runs in the foreground as any user: ``nginx -e stderr -p <out_dir> -c <out_dir>/nginx.conf``.
    The Django admin is served unless ``expose_admin`` (or ``GATEWAY_EXPOSE_ADMIN``) is
    false: this is the development gateway. Returns the path of the written config.
    """
    return _write_local(
        Path(out_dir),
        listen=listen,
        upstreams=upstreams,
        auth_rate=auth_rate,
        api_rate=api_rate,
        expose_admin=expose_admin_setting(expose_admin, default=True),
    )


def render_tls_config(
    out_dir: Path,
    *,
    certificate: Path | str,
    certificate_key: Path | str,
    listen: str = DEFAULT_TLS_LISTEN,
    http_listen: str = DEFAULT_LISTEN,
    upstreams: Upstreams,
    auth_rate: str | None = None,
    api_rate: str | None = None,
    expose_admin: bool | None = None,
) -> Path:
    """Write ``out_dir/nginx.conf`` for the TLS gateway: https on ``listen``, http on
    ``http_listen`` redirecting to it, the same routes.conf as the plain variant.

    Every https answer, nginx's own errors included, carries
    ``Strict-Transport-Security: max-age=31536000; includeSubDomains`` and the services
    see ``X-Forwarded-Proto: https``. A public gateway: the Django admin answers 404
    unless ``expose_admin`` (or ``GATEWAY_EXPOSE_ADMIN``) is true. Run it like the local
    config. Returns its path.
    """
    tls = Tls(
        certificate=str(Path(certificate).resolve()),
        certificate_key=str(Path(certificate_key).resolve()),
        http_listen=http_listen,
    )
    return _write_local(
        Path(out_dir),
        listen=listen,
        upstreams=upstreams,
        auth_rate=auth_rate,
        api_rate=api_rate,
        tls=tls,
        expose_admin=expose_admin_setting(expose_admin, default=False),
    )


def _write_local(
    out_dir: Path,
    *,
    listen: str,
    upstreams: Upstreams,
    auth_rate: str | None,
    api_rate: str | None,
    expose_admin: bool,
    tls: Tls | None = None,
) -> Path:
    out_dir = out_dir.resolve()
    temp_dir = out_dir / "tmp"
    # nginx creates only the last level of each temp path; the parent must exist.
    temp_dir.mkdir(parents=True, exist_ok=True)
    variant = Variant(
        listen=listen,
        upstreams=upstreams,
        routes_path=str(ROUTES),
        pid_path=str(out_dir / "nginx.pid"),
        temp_dir=str(temp_dir),
        error_log="stderr warn",
        access_log="/dev/stdout",
        # One worker is plenty for one developer and keeps `make up` light.
        worker_processes="1",
        user=_local_worker_user(),
        auth_rate=auth_rate or os.environ.get("GATEWAY_AUTH_RATE") or DEFAULT_AUTH_RATE,
        api_rate=api_rate or os.environ.get("GATEWAY_API_RATE") or DEFAULT_API_RATE,
        notice=(
            "# Rendered for local use by scripts/render_nginx.py; it is rewritten on every\n"
            "# `make up`. Run: nginx -e stderr -p <this folder> -c <this folder>/nginx.conf"
        ),
        tls=tls,
        expose_admin=expose_admin,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "nginx.conf"
    _write_if_changed(path, render(variant))
    return path


def render_compose_config(
    *,
    upstreams: Upstreams | None = None,
    nginx_dir: str = COMPOSE_NGINX_DIR,
    temp_dir: str = "/var/cache/nginx",
    pid_path: str = "/var/run/nginx.pid",
    expose_admin: bool = False,
) -> str:
    """The text of the compose variant (nginx/nginx.compose.conf).

    The path keyword arguments exist for tests, which check this exact text with the
    container's paths and names moved to places that exist on the test machine. The
    committed file is rendered with ``expose_admin=False``: the Django admin answers 404.
    """
    return render(
        Variant(
            listen=COMPOSE_LISTEN,
            upstreams=upstreams or COMPOSE_UPSTREAMS,
            routes_path=f"{nginx_dir}/routes.conf",
            pid_path=pid_path,
            temp_dir=temp_dir,
            error_log="stderr warn",
            access_log="/dev/stdout",
            worker_processes="auto",
            # The nginx image starts the master as root and its binary defaults the
            # workers to the unprivileged "nginx" user; nothing to say here.
            user=None,
            auth_rate=DEFAULT_AUTH_RATE,
            api_rate=DEFAULT_API_RATE,
            notice=(
                "# GENERATED by `python scripts/render_nginx.py --compose` from\n"
                "# nginx/nginx.conf.template: edit the template or routes.conf, then render\n"
                "# again (tests/test_deployment_files.py fails while this file is stale)."
            ),
            expose_admin=expose_admin,
        )
    )


def render(variant: Variant) -> str:
    """The template with ``variant`` filled in; every placeholder must be known."""
    _check_variant(variant)
    values = {
        "generated_notice": variant.notice,
        "user_directive": f"user {variant.user};\n" if variant.user else "",
        "worker_processes": variant.worker_processes,
        "pid_path": variant.pid_path,
        "error_log": variant.error_log,
        "temp_dir": variant.temp_dir,
        "auth_rate": variant.auth_rate,
        "api_rate": variant.api_rate,
        "upstreams": _upstream_blocks(variant.upstreams),
        "listen": f"{variant.listen} ssl" if variant.tls else variant.listen,
        "redirect_server": _redirect_server(variant),
        "tls_directives": _tls_directives(variant.tls),
        "access_log": variant.access_log,
        "routes_path": variant.routes_path,
        "admin_gate": ADMIN_EXPOSED if variant.expose_admin else ADMIN_GATE,
    }
    template = TEMPLATE.read_text()
    unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(template)} - values.keys())
    if unknown:
        raise RenderError(f"{TEMPLATE.name} has placeholders the renderer does not know: {unknown}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def servers_of(servers: Servers) -> list[str]:
    """The ``host:port`` addresses of one upstream, in order (a string may list several)."""
    items = servers.split(",") if isinstance(servers, str) else list(servers)
    return [item.strip() for item in items]


def _upstream_blocks(upstreams: Upstreams) -> str:
    blocks = []
    for name in (*SERVICES, *OPTIONAL_UPSTREAMS):
        # Several servers (replicas): nginx's default balancing, round-robin. The idle
        # connections kept below are one cache per worker for the whole group.
        given = upstreams.get(name) or upstreams[OPTIONAL_UPSTREAMS.get(name, name)]
        servers = "".join(f"        server {address};\n" for address in servers_of(given))
        blocks.append(
            f"    upstream servidesk_{name} {{\n"
            f"{servers}"
            # Idle connections kept per worker. The idle timeout stays below the
            # services' keep-alive (gunicorn keepalive 75 s in the images) so nginx
            # always closes first and never reuses a connection the upstream dropped.
            "        keepalive 16;\n"
            "        keepalive_timeout 60s;\n"
            "    }"
        )
    return "\n".join(blocks)


def _redirect_server(variant: Variant) -> str:
    """The plain-http server of the TLS variant (nothing otherwise): it only redirects."""
    if variant.tls is None:
        return ""
    port = variant.listen.rsplit(":", 1)[-1]
    # $host has no port; add the https one unless it is the default.
    https_port = "" if port == "443" else f":{port}"
    return (
        "    # Plain http only sends clients to https (308 keeps the method and body of a\n"
        "    # POST). The gateway's liveness answers here too, for a probe without TLS.\n"
        "    server {\n"
        f"        listen {variant.tls.http_listen} default_server;\n"
        "        server_name _;\n"
        f"        access_log {variant.access_log} servidesk_json;\n"
        "\n"
        "        location = /_gateway/health {\n"
        "            access_log off;\n"
        "            default_type application/json;\n"
        '            return 200 \'{"status": "ok", "service": "gateway"}\';\n'
        "        }\n"
        "        location / {\n"
        f"            return 308 https://$host{https_port}$request_uri;\n"
        "        }\n"
        "    }\n"
        "\n"
    )


def _tls_directives(tls: Tls | None) -> str:
    """TLS settings and HSTS for the https server (nothing in the plain variants).

    They sit at server level next to routes.conf's own add_header and proxy_*_header
    lines, so every location inherits them (see the inheritance note in routes.conf).
    X-Forwarded-Proto needs nothing here: routes.conf sends $scheme, which is "https".
    """
    if tls is None:
        return ""
    return (
        f'        ssl_certificate "{tls.certificate}";\n'
        f'        ssl_certificate_key "{tls.certificate_key}";\n'
        "        ssl_protocols TLSv1.2 TLSv1.3;\n"
        "        ssl_prefer_server_ciphers off;\n"
        "        ssl_session_cache shared:servidesk_tls:10m;\n"
        "        ssl_session_timeout 1d;\n"
        "        ssl_session_tickets off;\n"
        "        # HSTS is the edge's policy: on every answer (errors too, hence always), once;\n"
        "        # a service's own copy is dropped.\n"
        "        proxy_hide_header Strict-Transport-Security;\n"
        f'        add_header Strict-Transport-Security "{HSTS}" always;\n'
        "\n"
    )


def _check_upstreams(upstreams: Upstreams) -> None:
    missing = [name for name in SERVICES if name not in upstreams]
    extra = sorted(set(upstreams) - set(SERVICES) - set(OPTIONAL_UPSTREAMS))
    if missing or extra:
        raise RenderError(
            f"upstreams must name exactly {', '.join(SERVICES)}; "
            f"missing {missing or 'none'}, unknown {extra or 'none'}"
        )
    for name, servers in upstreams.items():
        addresses = servers_of(servers)
        if addresses in ([], [""]):
            raise RenderError(f"upstream {name}: no server")
        for address in addresses:
            if not _HOST_PORT.match(address):
                raise RenderError(f"upstream {name}: {address!r} is not host:port")
        if len(set(addresses)) != len(addresses):
            listed = ", ".join(addresses)
            raise RenderError(f"upstream {name}: a server is listed twice ({listed})")


def _check_variant(variant: Variant) -> None:
    _check_upstreams(variant.upstreams)
    if not _LISTEN.match(variant.listen):
        raise RenderError(f"listen: {variant.listen!r} is not [host:]port")
    paths = [
        ("routes path", variant.routes_path),
        ("pid path", variant.pid_path),
        ("temp dir", variant.temp_dir),
    ]
    if variant.tls is not None:
        if not _LISTEN.match(variant.tls.http_listen):
            raise RenderError(f"http listen: {variant.tls.http_listen!r} is not [host:]port")
        if variant.tls.http_listen == variant.listen:
            raise RenderError("http listen and https listen must differ")
        paths += [
            ("certificate", variant.tls.certificate),
            ("certificate key", variant.tls.certificate_key),
        ]
    for label, rate in (("auth rate", variant.auth_rate), ("api rate", variant.api_rate)):
        if not _RATE.match(rate):
            raise RenderError(f"{label}: {rate!r} is not like 10r/s or 30r/m")
    for label, path in paths:
        if _UNSAFE_IN_PATH.search(path):
            raise RenderError(f"{label} {path!r} has characters nginx would misread")


def expose_admin_setting(explicit: bool | None, *, default: bool) -> bool:
    """``explicit`` when given, else ``GATEWAY_EXPOSE_ADMIN`` (true/false), else ``default``."""
    if explicit is not None:
        return explicit
    value = os.environ.get("GATEWAY_EXPOSE_ADMIN", "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RenderError(f"GATEWAY_EXPOSE_ADMIN: {value!r} is neither true nor false")


def _local_worker_user() -> str | None:
    """``user <me>`` when rendering as root, else nothing.

    An unprivileged master keeps its workers as the same user anyway. A root master (CI,
    a container) would drop the workers to "nobody", who may not be able to reach the
    temp folders under ``out_dir`` (pytest's tmp is 0700): large proxied answers, which
    nginx buffers to disk, would then fail. The local stack runs as one user throughout.
    """
    if os.geteuid() != 0:
        return None
    return f"{pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name}"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)


def _parse_upstreams(pairs: list[str]) -> dict[str, Servers]:
    """``--upstream`` values over the contract ports; each service named at most once."""
    upstreams: dict[str, Servers] = dict(LOCAL_UPSTREAMS)
    named: set[str] = set()
    for pair in pairs:
        name, sep, servers = pair.partition("=")
        if not sep:
            raise RenderError(f"--upstream {pair!r}: expected NAME=HOST:PORT[,HOST:PORT...]")
        if name in named:
            raise RenderError(
                f"--upstream {name} is given twice: list its servers once, comma-separated"
            )
        named.add(name)
        upstreams[name] = servers_of(servers)
    return upstreams


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the local config (e.g. var/nginx)")
    parser.add_argument(
        "--listen",
        help=f"[host:]port to listen on ({DEFAULT_LISTEN}; with --tls {DEFAULT_TLS_LISTEN})",
    )
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT[,HOST:PORT...]",
        help=(
            "one service's server, or several comma-separated replicas served in turn "
            "(repeatable, once per service); others keep their contract port"
        ),
    )
    parser.add_argument("--auth-rate", help=f"strict zone rate (default {DEFAULT_AUTH_RATE})")
    parser.add_argument("--api-rate", help=f"loose zone rate (default {DEFAULT_API_RATE})")
    parser.add_argument("--compose", action="store_true", help=f"write {COMPOSE_CONFIG.name}")
    parser.add_argument("--check", action="store_true", help="with --compose: only compare")
    parser.add_argument("--tls", action="store_true", help="https with HSTS; http redirects")
    parser.add_argument("--cert", type=Path, help="with --tls: certificate (PEM, full chain)")
    parser.add_argument("--key", type=Path, help="with --tls: its private key (PEM)")
    parser.add_argument(
        "--http-listen",
        default=DEFAULT_LISTEN,
        help=f"with --tls: [host:]port of the redirecting http server (default {DEFAULT_LISTEN})",
    )
    args = parser.parse_args(argv)

    try:
        if args.compose:
            text = render_compose_config(expose_admin=expose_admin_setting(None, default=False))
            if args.check:
                current = COMPOSE_CONFIG.read_text() if COMPOSE_CONFIG.is_file() else ""
                if current != text:
                    print(f"{COMPOSE_CONFIG} is out of date: run {parser.prog} --compose")
                    return 1
                print(f"{COMPOSE_CONFIG} is up to date")
                return 0
            _write_if_changed(COMPOSE_CONFIG, text)
            print(f"wrote {COMPOSE_CONFIG}")
            return 0
        if args.out is None:
            parser.error("--out is required (or --compose)")
        if args.tls:
            if args.cert is None or args.key is None:
                parser.error("--tls needs --cert and --key")
            path = render_tls_config(
                args.out,
                certificate=args.cert,
                certificate_key=args.key,
                listen=args.listen or DEFAULT_TLS_LISTEN,
                http_listen=args.http_listen,
                upstreams=_parse_upstreams(args.upstream),
                auth_rate=args.auth_rate,
                api_rate=args.api_rate,
            )
        else:
            path = render_local_config(
                args.out,
                listen=args.listen or DEFAULT_LISTEN,
                upstreams=_parse_upstreams(args.upstream),
                auth_rate=args.auth_rate,
                api_rate=args.api_rate,
            )
    except RenderError as exc:
        print(f"render_nginx: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    print(f"run:  nginx -e stderr -p {path.parent} -c {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
