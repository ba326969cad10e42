"""Where inbound mail is read from: an IMAP folder or a Maildir, behind one interface.

``source_from_url(url)`` opens the mailbox ``INBOUND_MAIL_URL`` names (unset: the Maildir
``var/inbox/``). A source lists the messages waiting in it (``pending``), each with its
position (unique in that mailbox) and its raw bytes, and is told afterwards what became
of them. It never deletes anything a message has not been applied from:

- ``mark_done``: applied (or recorded as not to be applied). IMAP: flagged ``\\Seen`` and
  moved to the ``Processed`` folder; Maildir: moved to the ``processed/`` Maildir inside
  it. The folder left holds only what is still to be read, so a pass reads only that.
- ``mark_failed``: could not be parsed or applied. IMAP: moved to ``Failed``; Maildir:
  to ``failed/``. ``retry_failed`` moves them all back to be read again.

Between passes, ``wait_for_mail`` returns when new mail may be there: at once on an
IMAP server with IDLE when a message arrives, else after the poll interval; always
within a couple of seconds of ``stop`` being set.

Both folders are created when missing. Marking a message that is already gone (a second
fetcher marked it first) is not an error.

    imap://user:password@host:143/INBOX     plain IMAP (a server on a trusted network)
    imaps://user:password@host:993/INBOX    IMAP over TLS
    maildir:///var/mail/support             a Maildir; loose ``*.eml`` files in its top
                                            folder are read too (drop one in to try it)

User name and password are percent-decoded (``%40`` for an ``@`` in the user name); the
folder is the path, ``INBOX`` when empty.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import logging
import mailbox
import re
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol, Self
from urllib.parse import unquote, urlsplit

from django.conf import settings
from imap_tools import (
    ImapToolsError,
    MailBox,
    MailboxFolderCreateError,
    MailBoxUnencrypted,
    MailMessageFlags,
)
from imap_tools.utils import encode_folder

logger = logging.getLogger(__name__)

PROCESSED_FOLDER: Final = "Processed"
FAILED_FOLDER: Final = "Failed"
#: Messages fetched per IMAP command, and their bytes at most (a larger message comes
#: alone): a few round trips for a full mailbox, bounded memory for large attachments.
FETCH_CHUNK: Final = 20
FETCH_CHUNK_BYTES: Final = 4 * 1024 * 1024
IMAP_TIMEOUT: Final = 60.0
#: IDLE is left and entered again this often, so a stop request is seen promptly.
IDLE_SLICE: Final = 2.0
_FETCH_UID: Final = re.compile(rb"\bUID (\d+)")
_FETCH_SIZE: Final = re.compile(rb"\bRFC822\.SIZE (\d+)")
#: What a lost connection or a refused command raises (imaplib's abort is an IMAP4.error).
_IMAP_ERRORS: Final = (OSError, imaplib.IMAP4.error, ImapToolsError)


class SourceError(Exception):
    """The mailbox cannot be reached or refuses a command (retried on the next pass)."""


class ConfigurationError(ValueError):
    """``INBOUND_MAIL_URL`` is not a mailbox this module can read."""


@dataclass(frozen=True)
class SourceMessage:
    #: Unique in its source, stable while the message stays where it is.
    position: str
    raw: bytes


class MailSource(Protocol):
    """What the fetcher needs of a mailbox (use it as a ``with`` block)."""

    #: Names the mailbox in records, without secrets: the same mailbox, the same key.
    key: str

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def pending(self) -> Iterator[SourceMessage]: ...

    def mark_done(self, positions: Sequence[str]) -> None: ...

    def mark_failed(self, positions: Sequence[str]) -> None: ...

    def retry_failed(self) -> int: ...

    def wait_for_mail(self, seconds: float, stop: threading.Event) -> None: ...


def source_from_url(url: str | None = None) -> MailSource:
    """The source ``url`` names; by default ``INBOUND_MAIL_URL``, else ``var/inbox/``."""
    url = url if url is not None else settings.INBOUND_MAIL_URL
    if not url:
        # Set by servidesk_shared.settings.service.apply, which the settings stubs cannot see.
        var = Path(getattr(settings, "SERVIDESK_VAR_DIR"))  # noqa: B009
        return MaildirSource(var / "inbox")
    parts = urlsplit(url)
    if parts.scheme == "maildir":
        # maildir:///abs/path; maildir://relative/path is read relative to the working folder.
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ConfigurationError("INBOUND_MAIL_URL: a maildir:// URL needs a path")
        return MaildirSource(Path(path))
    if parts.scheme in ("imap", "imaps"):
        if not parts.hostname or parts.username is None or parts.password is None:
            raise ConfigurationError(
                "INBOUND_MAIL_URL: an IMAP URL needs user, password and host "
                "(imap://user:password@host:143/INBOX)"
            )
        folder = unquote(parts.path.lstrip("/")) or "INBOX"
        return ImapSource(
            host=parts.hostname,
            port=parts.port or (993 if parts.scheme == "imaps" else 143),
            user=unquote(parts.username),
            password=unquote(parts.password),
            folder=folder,
            tls=parts.scheme == "imaps",
        )
    raise ConfigurationError(
        f"INBOUND_MAIL_URL: unknown scheme {parts.scheme!r} (imap, imaps or maildir)"
    )


# --- IMAP -------------------------------------------------------------------------------


class ImapSource:
    """One IMAP folder, read by UID. Positions are ``<UIDVALIDITY>:<UID>``, so a folder
    the server renumbers (a new UIDVALIDITY) is not mistaken for the one already read."""

    def __init__(
        self, *, host: str, port: int, user: str, password: str, folder: str, tls: bool
    ) -> None:
        self.host, self.port, self.user, self.folder, self.tls = host, port, user, folder, tls
        self._password = password
        scheme = "imaps" if tls else "imap"
        self.key = f"{scheme}:{user}@{host}:{port}/{folder}"
        self._box: MailBox | MailBoxUnencrypted | None = None
        self._uidvalidity = ""
        #: As the server lists them after login (before, Dovecot lists fewer).
        self._capabilities: frozenset[str] = frozenset()

    def __enter__(self) -> Self:
        try:
            if self.tls:
                box: MailBox | MailBoxUnencrypted = MailBox(
                    self.host,
                    self.port,
                    timeout=IMAP_TIMEOUT,
                    ssl_context=ssl.create_default_context(),
                )
            else:
                box = MailBoxUnencrypted(self.host, self.port, timeout=IMAP_TIMEOUT)
        except _IMAP_ERRORS as exc:
            raise SourceError(f"{self.key}: {exc}") from exc
        try:
            box.login(self.user, self._password, initial_folder=None)
            for folder in (PROCESSED_FOLDER, FAILED_FOLDER):
                if not box.folder.exists(folder):
                    try:
                        box.folder.create(folder)
                    except MailboxFolderCreateError:
                        # Another fetcher created it in between.
                        if not box.folder.exists(folder):
                            raise
        except _IMAP_ERRORS as exc:
            box.client.shutdown()  # refused (a wrong password): close the connection
            raise SourceError(f"{self.key}: {exc}") from exc
        self._box = box
        status, data = box.client.capability()
        self._capabilities = (
            frozenset(data[0].decode().upper().split()) if status == "OK" else frozenset()
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        box, self._box = self._box, None
        if box is not None:
            try:
                box.logout()
            except _IMAP_ERRORS:
                logger.info("IMAP logout failed", extra={"mailbox": self.key}, exc_info=True)
                with contextlib.suppress(OSError):
                    box.client.shutdown()

    @property
    def box(self) -> MailBox | MailBoxUnencrypted:
        if self._box is None:
            raise RuntimeError("use the source as a with block")
        return self._box

    def _select(self, folder: str) -> str:
        """Select ``folder``; its UIDVALIDITY."""
        status = self.box.folder.status(folder, ["UIDVALIDITY"])
        self.box.folder.set(folder)
        return str(status["UIDVALIDITY"])

    def pending(self) -> Iterator[SourceMessage]:
        try:
            self._uidvalidity = self._select(self.folder)
            uids = self.box.uids("UNDELETED")
            sizes = self._sizes(uids)
        except _IMAP_ERRORS as exc:
            raise SourceError(f"{self.key}: {exc}") from exc
        for chunk in _chunks(uids, sizes):
            yield from self._fetch(chunk)

    def _sizes(self, uids: Sequence[str]) -> dict[str, int]:
        """Each message's size, from one command, to fetch them in bounded chunks."""
        if not uids:
            return {}
        # The whole folder by range: a list of every UID could pass the server's line limit.
        status, data = self.box.client.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
        if status != "OK":
            raise SourceError(f"{self.key}: FETCH refused: {data!r}")
        sizes = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if isinstance(line, bytes):
                uid, size = _FETCH_UID.search(line), _FETCH_SIZE.search(line)
                if uid is not None and size is not None:
                    sizes[uid.group(1).decode()] = int(size.group(1))
        return sizes

    def _fetch(self, uids: Sequence[str]) -> Iterator[SourceMessage]:
        """The raw bytes as stored (BODY.PEEK[]: reading does not set ``\\Seen``);
        through the client imap-tools exposes, since its message object keeps only the
        parsed form."""
        try:
            status, data = self.box.client.uid("FETCH", ",".join(uids), "(UID BODY.PEEK[])")
        except _IMAP_ERRORS as exc:
            raise SourceError(f"{self.key}: {exc}") from exc
        if status != "OK":
            raise SourceError(f"{self.key}: FETCH refused: {data!r}")
        messages = []
        for item in data:
            if not isinstance(item, tuple):
                continue  # the closing parenthesis of each message
            match = _FETCH_UID.search(item[0])
            if match is not None:
                messages.append(
                    SourceMessage(f"{self._uidvalidity}:{match.group(1).decode()}", item[1])
                )
        yield from messages

    def _uids(self, positions: Sequence[str]) -> list[str]:
        """The UIDs of ``positions`` that belong to the folder as it is numbered now."""
        uids = []
        for position in positions:
            uidvalidity, _sep, uid = position.partition(":")
            if uidvalidity == self._uidvalidity:
                uids.append(uid)
        return uids

    def _move(self, positions: Sequence[str], folder: str, *, seen: bool) -> None:
        """Move by UID with plain commands: imap-tools' ``flag()`` and its ``move()``
        fallback EXPUNGE the whole folder, which would also remove messages someone else
        marked ``\\Deleted``, and it reads the server's capabilities before login, when
        Dovecot does not list MOVE yet."""
        self._move_uids(self._uids(positions), folder, seen=seen)

    def _move_uids(self, uids: Sequence[str], folder: str, *, seen: bool) -> None:
        """Move ``uids`` of the selected folder to ``folder``."""
        if not uids:
            return
        uid_set = ",".join(uids)
        target = encode_folder(folder).decode("ascii")  # modified UTF-7, quoted
        try:
            if seen:
                self._command("STORE", uid_set, "+FLAGS.SILENT", f"({MailMessageFlags.SEEN})")
            if "MOVE" in self._capabilities:
                self._command("MOVE", uid_set, target)
                return
            # Without MOVE: copy, mark, and expunge only these (UIDPLUS) where possible.
            self._command("COPY", uid_set, target)
            self._command("STORE", uid_set, "+FLAGS.SILENT", f"({MailMessageFlags.DELETED})")
            if "UIDPLUS" in self._capabilities:
                self._command("EXPUNGE", uid_set)
            else:
                self.box.client.expunge()
        except _IMAP_ERRORS as exc:
            raise SourceError(f"{self.key}: {exc}") from exc

    def _command(self, command: str, *args: str) -> None:
        """``UID <command> …``; a server's NO is an error (a UID already gone is not:
        servers answer OK for a set that matches nothing)."""
        status, data = self.box.client.uid(command, *args)
        if status != "OK":
            raise SourceError(f"{self.key}: UID {command} refused: {data!r}")

    def mark_done(self, positions: Sequence[str]) -> None:
        self._move(positions, PROCESSED_FOLDER, seen=True)

    def wait_for_mail(self, seconds: float, stop: threading.Event) -> None:
        """IDLE (RFC 2177) until the server announces a new message, ``seconds`` pass or
        ``stop`` is set; a plain wait on a server without IDLE."""
        if "IDLE" not in self._capabilities:
            stop.wait(seconds)
            return
        deadline = time.monotonic() + seconds
        try:
            self._select(self.folder)
            if self.box.uids("UNDELETED"):
                return  # arrived since the pass read the folder: IDLE would not tell
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                responses = self.box.idle.wait(timeout=min(IDLE_SLICE, remaining))
                if any(b"EXISTS" in response for response in responses):
                    return
        except _IMAP_ERRORS as exc:
            raise SourceError(f"{self.key}: {exc}") from exc

    def mark_failed(self, positions: Sequence[str]) -> None:
        self._move(positions, FAILED_FOLDER, seen=False)

    def retry_failed(self) -> int:
        try:
            self._select(FAILED_FOLDER)
            uids = self.box.uids("UNDELETED")
            self._move_uids(uids, self.folder, seen=False)
        except _IMAP_ERRORS as exc:
            raise SourceError(f"{self.key}: {exc}") from exc
        return len(uids)


def _chunks(uids: Sequence[str], sizes: dict[str, int]) -> Iterator[list[str]]:
    chunk: list[str] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if chunk and (len(chunk) >= FETCH_CHUNK or total + size > FETCH_CHUNK_BYTES):
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += size
    if chunk:
        yield chunk


# --- Maildir ----------------------------------------------------------------------------


class MaildirSource:
    """A Maildir (stdlib ``mailbox.Maildir``) with ``processed/`` and ``failed/`` Maildirs
    inside it, plus any loose ``*.eml`` file in its top folder.

    Positions are the Maildir keys (unique by construction), and ``eml:<sha256>`` for a
    loose file: the same file dropped in twice is one message, an edited one a new one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.key = f"maildir:{self.path}"
        self._inbox: mailbox.Maildir | None = None
        self._loose: dict[str, Path] = {}

    def __enter__(self) -> Self:
        try:
            for folder in (self.path, self.path / "processed", self.path / "failed"):
                # mailbox.Maildir(create=True) leaves a folder that exists alone, but
                # ``var/inbox/`` may be one somebody made to drop a file in.
                for part in ("new", "cur", "tmp"):
                    (folder / part).mkdir(parents=True, exist_ok=True)
            self._inbox = mailbox.Maildir(self.path, factory=None, create=False)
        except OSError as exc:
            raise SourceError(f"{self.key}: {exc}") from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._inbox = None
        self._loose = {}

    @property
    def inbox(self) -> mailbox.Maildir:
        if self._inbox is None:
            raise RuntimeError("use the source as a with block")
        return self._inbox

    def _folder(self, name: str) -> mailbox.Maildir:
        return mailbox.Maildir(self.path / name, factory=None, create=False)

    def pending(self) -> Iterator[SourceMessage]:
        self._loose = {}
        # Maildir keys begin with the delivery time: sorted, they are about arrival order.
        for key in sorted(self.inbox.keys()):
            try:
                raw = self.inbox.get_bytes(key)
            except (KeyError, FileNotFoundError):
                continue  # taken by another fetcher meanwhile
            yield SourceMessage(key, raw)
        for file in sorted(self.path.glob("*.eml"), key=lambda file: file.name):
            try:
                raw = file.read_bytes()
            except FileNotFoundError:
                continue
            position = f"eml:{hashlib.sha256(raw).hexdigest()}"
            self._loose[position] = file
            yield SourceMessage(position, raw)

    def _move(self, positions: Sequence[str], name: str) -> None:
        target = self._folder(name)
        for position in positions:
            file = self._loose.pop(position, None)
            if file is not None:
                try:
                    target.add(file.read_bytes())
                    file.unlink()
                except FileNotFoundError:
                    pass
                continue
            try:
                message = self.inbox.get_message(position)
            except (KeyError, FileNotFoundError):
                continue  # already moved by another fetcher
            # Copied first, removed after: a crash in between leaves a copy, never none.
            target.add(message)
            self.inbox.discard(position)

    def mark_done(self, positions: Sequence[str]) -> None:
        self._move(positions, "processed")

    def mark_failed(self, positions: Sequence[str]) -> None:
        self._move(positions, "failed")

    def wait_for_mail(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(seconds)

    def retry_failed(self) -> int:
        failed = self._folder("failed")
        moved = 0
        for key in list(failed.keys()):
            try:
                message = failed.get_message(key)
            except (KeyError, FileNotFoundError):
                continue
            self.inbox.add(message)
            failed.discard(key)
            moved += 1
        return moved
