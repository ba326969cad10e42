"""`make up` on a bare machine: nginx installed when the user can, the one command when not.

apt-get is the outside world here: a stand-in script on a private PATH records what it was
asked and "installs" nginx by creating the binary devstack then looks for.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import devstack  # noqa: E402

FAKE_APT = """#!/bin/sh
echo "$DEBIAN_FRONTEND $*" >> "{log}"
case "$1" in install) printf '#!/bin/sh\\n' > "{bin}/nginx"; /bin/chmod +x "{bin}/nginx";; esac
"""


@pytest.fixture
def bare_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(devstack, "find_nginx", lambda: shutil.which("nginx", path=bin_dir))
    return bin_dir


def add_fake_apt(bin_dir: Path) -> Path:
    log = bin_dir.parent / "apt.log"
    apt = bin_dir / "apt-get"
    apt.write_text(FAKE_APT.format(log=log, bin=bin_dir))
    apt.chmod(apt.stat().st_mode | stat.S_IXUSR)
    return log


def test_root_with_apt_get_gets_nginx_installed_and_told(
    bare_machine: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = add_fake_apt(bare_machine)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert devstack.ensure_nginx() == str(bare_machine / "nginx")
    assert "installing it with apt-get" in capsys.readouterr().out
    assert log.read_text().splitlines() == [
        "noninteractive update -q",
        "noninteractive install -y -q --no-install-recommends nginx",
    ]


def test_a_user_who_cannot_install_is_told_the_one_command(
    bare_machine: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = add_fake_apt(bare_machine)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # no sudo on this PATH
    assert devstack.ensure_nginx() is None
    assert "sudo apt-get install -y nginx" in capsys.readouterr().err
    assert not log.exists()


def test_without_apt_get_nothing_is_tried(
    bare_machine: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert devstack.ensure_nginx() is None
    assert "brew install nginx" in capsys.readouterr().err


def test_an_installed_nginx_is_used_as_it_is(bare_machine: Path) -> None:
    nginx = bare_machine / "nginx"
    nginx.write_text("#!/bin/sh\n")
    nginx.chmod(0o755)
    assert devstack.ensure_nginx() == str(nginx)


def test_a_services_upstreams_reach_the_gateway_config(tmp_path: Path) -> None:
    """``<SERVICE>_UPSTREAMS`` lists replicas for the gateway; the others keep their port."""
    env = {
        "SERVIDESK_VAR_DIR": str(tmp_path),
        "GATEWAY_LISTEN": "127.0.0.1:8000",
        **{f"{name.upper()}_PORT": str(port) for name, port in devstack.SERVICES.items()},
        "WEB_EVENTS_PORT": "8106",
        "TICKETS_UPSTREAMS": "127.0.0.1:8102,127.0.0.1:9102",
    }
    assert devstack.gateway_upstreams(env) == {
        "accounts": "127.0.0.1:8101",
        "tickets": "127.0.0.1:8102,127.0.0.1:9102",
        "notifier": "127.0.0.1:8103",
        "reports": "127.0.0.1:8104",
        "web": "127.0.0.1:8105",
        "web_events": "127.0.0.1:8106",
    }
    text = devstack.render_gateway(env).read_text()
    assert (
        "upstream servidesk_tickets {\n        server 127.0.0.1:8102;\n"
        "        server 127.0.0.1:9102;\n        keepalive 16;\n"
    ) in text
    assert "upstream servidesk_web {\n        server 127.0.0.1:8105;\n        keepalive" in text
