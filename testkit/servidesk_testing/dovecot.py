"""A real IMAP server for mail tests: Dovecot from Debian (``dovecot-imapd``) on loopback.

``DovecotServer`` writes a throwaway configuration into a temporary folder, starts
``/usr/sbin/dovecot`` in the foreground of its own session (detached from the test's
terminal and stdin), waits until the IMAP port answers and stops it afterwards. Any
user name signs in with ``DovecotServer.password`` (a static passdb), and each user
gets a Maildir of their own, so every test takes a fresh, empty mailbox by signing in
under a new name (``new_mailbox()``) instead of restarting the server.

Dovecot will not run its login processes or mail access as root: both run as the
``dovenull`` system user the Debian package creates, which owns the mail folders.

    with DovecotServer() as dovecot:
        box = dovecot.new_mailbox()
        box.append(raw_message)                 # IMAP APPEND, as a mail client does
        settings.INBOUND_MAIL_URL = box.url    # imap://user:password@127.0.0.1:port/INBOX

The pytest fixtures ``dovecot`` (one server per session) and ``imap_mailbox`` (a fresh
mailbox per test) are here for suites to import into their ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from servidesk_testing.fakes import LoopbackServer

DOVECOT = Path("/usr/sbin/dovecot")
#: The Debian package's unprivileged user: Dovecot's login processes and the mail run as it.
MAIL_USER = "dovenull"
STARTUP_TIMEOUT = 15.0


def dovecot_available() -> bool:
    return DOVECOT.is_file() and os.access(DOVECOT, os.X_OK)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    """The IMAP greeting arrives: the listener is up and a login process serves it."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as connection:
            return connection.recv(64).startswith(b"* OK")
    except OSError:
        return False


@dataclass(frozen=True)
class Mailbox:
    """One user's mailbox on the server."""

    host: str
    port: int
    user: str
    password: str

    @property
    def url(self) -> str:
        """The ``INBOUND_MAIL_URL`` of this mailbox's INBOX."""
        return f"imap://{quote(self.user)}:{quote(self.password)}@{self.host}:{self.port}/INBOX"

    @contextlib.contextmanager
    def client(self) -> Iterator[imaplib.IMAP4]:
        """A signed-in stdlib IMAP client (the tests' own view of the mailbox)."""
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            imap.login(self.user, self.password)
            yield imap
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into ``folder`` with IMAP APPEND, as a mail client saves one."""
        with self.client() as imap:
            # typeshed calls the answer a str; it is imaplib's usual (status, data) pair.
            answer = imap.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            if answer[0] != "OK":
                raise RuntimeError(f"APPEND to {folder} refused: {answer!r}")

    def count(self, folder: str = "INBOX", criteria: str = "ALL") -> int:
        """How many messages in ``folder`` match ``criteria`` (0 when the folder is missing)."""
        with self.client() as imap:
            status, _data = imap.select(_quoted(folder), readonly=True)
            if status != "OK":
                return 0
            status, data = imap.uid("SEARCH", criteria)
            return len(data[0].split()) if status == "OK" and data[0] else 0

    def folders(self) -> set[str]:
        with self.client() as imap:
            _status, data = imap.list()
        names = set()
        for line in data:
            if isinstance(line, bytes):
                names.add(line.decode().rsplit(" ", 1)[-1].strip('"'))
        return names


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DovecotServer(LoopbackServer):
    """A Dovecot IMAP server on ``127.0.0.1`` with its configuration in a temporary folder."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = 0
        self.password = secrets.token_urlsafe(12)
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not dovecot_available():
            raise RuntimeError(f"{DOVECOT} is missing: install dovecot-imapd")
        account = pwd.getpwnam(MAIL_USER)
        # Not under pytest's tmp_path: that folder is private to root, and the mail
        # processes (dovenull) must reach their Maildirs.
        self.folder = Path(tempfile.mkdtemp(prefix="servidesk-dovecot-"))
        self.folder.chmod(0o755)
        mail_root = self.folder / "mail"
        mail_root.mkdir()
        os.chown(mail_root, account.pw_uid, account.pw_gid)
        self.port = _free_port()
        config = self.folder / "dovecot.conf"
        config.write_text(self._config(mail_root, account.pw_uid, account.pw_gid))
        log = (self.folder / "dovecot.log").open("wb")
        with log:
            self.process = subprocess.Popen(  # noqa: S603 (a fixed binary, our own config)
                [str(DOVECOT), "-F", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # setsid: no terminal, its own process group
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(self.host, self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = (self.folder / "dovecot.log").read_text(errors="replace")
                self.stop()
                raise RuntimeError(f"Dovecot did not start:\n{output}")
            time.sleep(0.02)

    def _config(self, mail_root: Path, uid: int, gid: int) -> str:
        run = self.folder / "run" if self.folder else mail_root
        return f"""
base_dir = {run}
state_dir = {self.folder}/state
instance_name = servidesk-test-{self.port}
log_path = {self.folder}/dovecot.log
protocols = imap
listen = {self.host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {MAIL_USER}
default_internal_user = {MAIL_USER}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail_root}/%n
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # The whole session: the master and every imap/login child it forked.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def new_mailbox(self) -> Mailbox:
        """A fresh, empty mailbox: a user name nobody signed in with before."""
        return Mailbox(self.host, self.port, f"box{secrets.token_hex(6)}", self.password)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot per test session. A machine without ``dovecot-imapd`` fails the tests
    that need it (``.ci/run`` installs it), rather than skipping them silently."""
    with DovecotServer() as server:
        yield server


@pytest.fixture
def imap_mailbox(dovecot: DovecotServer) -> Mailbox:
    """An empty mailbox of its own for this test."""
    return dovecot.new_mailbox()
