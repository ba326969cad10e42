"""Reading the support mailbox: a real Dovecot (messages put there with IMAP APPEND, as
a mail program saves them) and a Maildir in a temporary folder, through ``fetch_mail``."""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from inbound import fetcher, services, sources
from inbound.models import FailedMessage, InboundMessage, Outcome
from inbound.sources import (
    FAILED_FOLDER,
    PROCESSED_FOLDER,
    ConfigurationError,
    ImapSource,
    MaildirSource,
    source_from_url,
)
from tickets import services as ticket_services
from tickets.models import Comment, DirectoryUser, Ticket

from servidesk_testing import dovecot as dovecot_testing
from servidesk_testing.dovecot import Mailbox
from servidesk_testing.fakes import wait_until
from tests.factories import DirectoryUserFactory
from tests.inbound_mail import mail, reply

pytestmark = pytest.mark.django_db

SOURCE = "maildir:/test/inbox"
#: Another process (or a lock probe) needs the test database on a server: SQLite's test
#: database lives in this process's memory.
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs the test database on PostgreSQL"
)
# The fixtures: one Dovecot for the session, a fresh mailbox on it per test.
dovecot = dovecot_testing.dovecot
imap_mailbox = dovecot_testing.imap_mailbox


@pytest.fixture
def ana(db: Any) -> DirectoryUser:
    user: DirectoryUser = DirectoryUserFactory(
        id="11", username="ana", email="ana@example.com", email_verified=True
    )
    return user


def fetch_mail(*args: str, url: str) -> str:
    out = StringIO()
    call_command("fetch_mail", *args, url=url, stdout=out)
    return out.getvalue()


# --- IMAP (Dovecot) ---------------------------------------------------------------------


def test_imap_mail_becomes_a_ticket_and_moves_to_processed(
    imap_mailbox: Mailbox, ana: DirectoryUser
) -> None:
    imap_mailbox.append(mail(subject="Screen flickers"))
    imap_mailbox.append(mail(sender="stranger@example.org", subject="Who are you"))

    output = fetch_mail("--once", url=imap_mailbox.url)

    assert "2 message(s)" in output
    assert Ticket.objects.get().title == "Screen flickers"
    assert imap_mailbox.count("INBOX") == 0
    assert imap_mailbox.count(PROCESSED_FOLDER) == 2
    assert imap_mailbox.count(PROCESSED_FOLDER, "SEEN") == 2
    assert imap_mailbox.count(FAILED_FOLDER) == 0
    assert {PROCESSED_FOLDER, FAILED_FOLDER} <= imap_mailbox.folders()  # made when missing


def test_a_message_someone_marked_deleted_is_neither_read_nor_expunged(
    imap_mailbox: Mailbox, ana: DirectoryUser
) -> None:
    imap_mailbox.append(mail(subject="Marked deleted by a colleague"))
    with imap_mailbox.client() as imap:
        imap.select("INBOX")
        imap.uid("STORE", "1", "+FLAGS", r"(\Deleted)")
    imap_mailbox.append(mail(subject="Waiting"))

    fetch_mail("--once", url=imap_mailbox.url)

    assert Ticket.objects.get().title == "Waiting"
    assert imap_mailbox.count("INBOX") == 1  # still there: nothing here expunges
    assert imap_mailbox.count("INBOX", "DELETED") == 1


def test_without_move_only_the_messages_read_are_expunged(
    imap_mailbox: Mailbox, ana: DirectoryUser
) -> None:
    imap_mailbox.append(mail(subject="Marked deleted by a colleague"))
    with imap_mailbox.client() as imap:
        imap.select("INBOX")
        imap.uid("STORE", "1", "+FLAGS", r"(\Deleted)")
    imap_mailbox.append(mail(subject="Waiting"))
    source = source_from_url(imap_mailbox.url)
    assert isinstance(source, ImapSource)

    with source:
        # A server without MOVE (older ones): COPY, \Deleted, UID EXPUNGE of ours only.
        source._capabilities = source._capabilities - {"MOVE"}
        assert "UIDPLUS" in source._capabilities
        fetcher.fetch_pass(source)

    assert Ticket.objects.get().title == "Waiting"
    assert imap_mailbox.count("INBOX") == 1
    assert imap_mailbox.count("INBOX", "DELETED") == 1
    assert imap_mailbox.count(PROCESSED_FOLDER, "SEEN") == 1


def test_imap_reply_threads_onto_its_ticket(imap_mailbox: Mailbox, ana: DirectoryUser) -> None:
    imap_mailbox.append(mail(subject="Printer"))
    fetch_mail("--once", url=imap_mailbox.url)
    ticket = Ticket.objects.get()

    imap_mailbox.append(reply(ticket_id=ticket.pk, text="Fixed by itself."))
    imap_mailbox.append(reply(subject=f"Re: [{ticket.reference}] Printer", text="Broken again."))
    fetch_mail("--once", url=imap_mailbox.url)

    bodies = list(
        Comment.objects.filter(ticket=ticket).order_by("id").values_list("body", flat=True)
    )
    assert bodies == ["Fixed by itself.", "Broken again."]
    assert Ticket.objects.count() == 1


def test_a_message_applied_but_not_marked_is_only_marked_on_the_next_pass(
    imap_mailbox: Mailbox, ana: DirectoryUser
) -> None:
    imap_mailbox.append(mail())
    # The process dies after the commit, before moving the message on the server.
    source = source_from_url(imap_mailbox.url)
    with source:
        [message] = list(source.pending())
        services.message_apply(source=source.key, position=message.position, raw=message.raw)
    assert imap_mailbox.count("INBOX") == 1

    output = fetch_mail("--once", url=imap_mailbox.url)

    assert "already 1" in output
    assert Ticket.objects.count() == 1
    assert imap_mailbox.count("INBOX") == 0
    assert imap_mailbox.count(PROCESSED_FOLDER) == 1


def test_failures_go_to_the_failed_folder_and_come_back_on_retry(
    imap_mailbox: Mailbox, ana: DirectoryUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap_mailbox.append(b"no headers, no sender, nothing\r\n")
    imap_mailbox.append(mail(subject="Needs storage"))
    create = ticket_services.ticket_create

    def storage_away(**kwargs: Any) -> Ticket:
        raise RuntimeError("storage away")

    monkeypatch.setattr(ticket_services, "ticket_create", storage_away)
    output = fetch_mail("--once", url=imap_mailbox.url)

    assert "2 failed" in output
    assert imap_mailbox.count("INBOX") == 0
    assert imap_mailbox.count(FAILED_FOLDER) == 2
    assert not InboundMessage.objects.exists()
    listed = fetch_mail("--list-failed", url=imap_mailbox.url)
    assert "unparsable" in listed
    assert "'Needs storage': RuntimeError: storage away" in listed

    monkeypatch.setattr(ticket_services, "ticket_create", create)
    output = fetch_mail("--retry", url=imap_mailbox.url)

    assert "2 failed message(s) moved back" in output
    assert Ticket.objects.get().title == "Needs storage"
    # The unparsable one failed again: recorded again, back in the failed folder.
    assert imap_mailbox.count(FAILED_FOLDER) == 1
    assert imap_mailbox.count(PROCESSED_FOLDER) == 1
    assert FailedMessage.objects.filter(retried_at__isnull=True).count() == 1
    assert "unparsable" in fetch_mail("--list-failed", url=imap_mailbox.url)


@pytest.mark.django_db(transaction=True)
def test_two_fetchers_at_once_apply_each_message_once(imap_mailbox: Mailbox) -> None:
    DirectoryUserFactory(id="11", email="ana@example.com", email_verified=True)
    count = 30
    for n in range(count):
        imap_mailbox.append(mail(subject=f"Problem {n}"))
    start = threading.Barrier(2)
    results: list[fetcher.PassResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            source = source_from_url(imap_mailbox.url)
            with source:
                start.wait()
                results.append(fetcher.fetch_pass(source))
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    titles = sorted(Ticket.objects.values_list("title", flat=True))
    assert titles == sorted(f"Problem {n}" for n in range(count))
    assert InboundMessage.objects.count() == count
    assert sum(result.outcomes[Outcome.TICKET] for result in results) == count
    assert imap_mailbox.count("INBOX") == 0
    assert imap_mailbox.count(PROCESSED_FOLDER) == count  # each moved once, by its reader


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_processes_applying_one_message_at_once_apply_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The backstop under the lease: the second waits on the first's record, then finds it."""
    DirectoryUserFactory(id="11", email="ana@example.com", email_verified=True)
    raw = mail()
    first_inside = threading.Event()
    decide = services._decide

    def decide_when_the_other_waits(*args: Any, **kwargs: Any) -> Any:
        if not first_inside.is_set():
            first_inside.set()
            # Go on only once the other process is blocked on our uncommitted record.
            assert wait_until(lambda: _backends_waiting_on_a_lock() > 0, timeout=20)
        return decide(*args, **kwargs)

    monkeypatch.setattr(services, "_decide", decide_when_the_other_waits)
    results: list[services.Applied] = []
    errors: list[BaseException] = []

    def apply(after: threading.Event | None) -> None:
        try:
            if after is not None:
                assert after.wait(20)
            results.append(services.message_apply(source=SOURCE, position="1", raw=raw))
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=apply, args=(None,)),
        threading.Thread(target=apply, args=(first_inside,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(str(result.outcome) for result in results) == ["None", Outcome.TICKET]
    assert Ticket.objects.count() == 1


def _backends_waiting_on_a_lock() -> int:
    with connections["default"].cursor() as cursor:
        # Activity is read once per transaction unless the snapshot is dropped.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def test_a_second_reader_waits_its_turn(imap_mailbox: Mailbox, ana: DirectoryUser) -> None:
    imap_mailbox.append(mail())
    source = source_from_url(imap_mailbox.url)
    assert services.mailbox_lease_take(source=source.key, holder="other", seconds=60)

    assert "another process is reading it" in fetch_mail("--once", url=imap_mailbox.url)
    assert not Ticket.objects.exists()
    assert imap_mailbox.count("INBOX") == 1

    services.mailbox_lease_release(source=source.key, holder="other")
    fetch_mail("--once", url=imap_mailbox.url)
    assert Ticket.objects.count() == 1


def test_a_wrong_password_is_a_clear_command_error(imap_mailbox: Mailbox) -> None:
    url = imap_mailbox.url.replace(imap_mailbox.password, "wrong")

    with pytest.raises(CommandError, match="the mailbox cannot be read"):
        fetch_mail("--once", url=url)


# --- Maildir ----------------------------------------------------------------------------


def test_maildir_messages_and_dropped_eml_files_are_read(
    tmp_path: Path, ana: DirectoryUser
) -> None:
    inbox = mailbox.Maildir(tmp_path / "inbox", create=True)
    inbox.add(mail(subject="Delivered by the MTA"))
    (tmp_path / "inbox" / "dropped.eml").write_bytes(mail(subject="Dropped in by hand"))
    (tmp_path / "inbox" / "broken.eml").write_bytes(b"\r\n\r\n")

    output = fetch_mail("--once", url=f"maildir://{tmp_path / 'inbox'}")

    assert "1 failed" in output
    titles = set(Ticket.objects.values_list("title", flat=True))
    assert titles == {"Delivered by the MTA", "Dropped in by hand"}
    assert len(inbox) == 0
    assert list((tmp_path / "inbox").glob("*.eml")) == []
    assert len(mailbox.Maildir(tmp_path / "inbox" / "processed")) == 2
    assert len(mailbox.Maildir(tmp_path / "inbox" / "failed")) == 1

    # Rerun: nothing left to read, nothing applied twice.
    fetch_mail("--once", url=f"maildir://{tmp_path / 'inbox'}")
    assert Ticket.objects.count() == 2


def test_maildir_retry(tmp_path: Path, ana: DirectoryUser, monkeypatch: pytest.MonkeyPatch) -> None:
    # A folder that exists already, as someone made it to drop mail in.
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "later.eml").write_bytes(mail(subject="Later"))
    create = ticket_services.ticket_create
    monkeypatch.setattr(ticket_services, "ticket_create", lambda **kwargs: 1 / 0)
    fetch_mail("--once", url=f"maildir://{tmp_path}")
    assert len(mailbox.Maildir(tmp_path / "failed")) == 1

    monkeypatch.setattr(ticket_services, "ticket_create", create)
    fetch_mail("--retry", url=f"maildir://{tmp_path}")

    assert Ticket.objects.get().title == "Later"
    assert len(mailbox.Maildir(tmp_path / "failed")) == 0
    assert len(mailbox.Maildir(tmp_path / "processed")) == 1


def test_a_stopped_pass_leaves_the_rest_in_place(tmp_path: Path, ana: DirectoryUser) -> None:
    (tmp_path / "first.eml").write_bytes(mail(subject="First"))
    stop = threading.Event()
    stop.set()  # SIGTERM arrived: no new message is started

    source = source_from_url(f"maildir://{tmp_path}")
    with source:
        result = fetcher.fetch_pass(source, stop=stop)

    assert result.seen == 0
    assert (tmp_path / "first.eml").exists()
    assert not Ticket.objects.exists()


def test_unset_url_reads_var_inbox(settings: Any, tmp_path: Path) -> None:
    settings.INBOUND_MAIL_URL = ""
    settings.SERVIDESK_VAR_DIR = tmp_path

    source = source_from_url()

    assert isinstance(source, MaildirSource)
    assert source.path == (tmp_path / "inbox").resolve()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("imap://sd%40example.com:p%2Fw@mail.example.com/INBOX", ("sd@example.com", 143, False)),
        ("imaps://u:p@mail.example.com/Support", ("u", 993, True)),
        ("imap://u:p@mail.example.com:1143", ("u", 1143, False)),
    ],
)
def test_imap_urls(url: str, expected: tuple[str, int, bool]) -> None:
    source = source_from_url(url)

    assert isinstance(source, ImapSource)
    assert (source.user, source.port, source.tls) == expected
    assert "p" not in source.key.split("@")[0].split(":", 1)[1]  # no password in records


@pytest.mark.parametrize("url", ["pop3://u:p@host/", "imap://host/INBOX", "maildir://"])
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        source_from_url(url)

    with pytest.raises(CommandError, match="INBOUND_MAIL_URL"):
        fetch_mail("--once", url=url)


def test_an_unknown_mode_for_unknown_senders_is_refused(settings: Any, tmp_path: Path) -> None:
    settings.INBOUND_UNKNOWN_SENDERS = "welcome"

    with pytest.raises(CommandError, match="create, reject"):
        fetch_mail("--once", url=f"maildir://{tmp_path}")


# --- the process ------------------------------------------------------------------------


def start_fetch_mail(url: str) -> subprocess.Popen[str]:
    """``manage.py fetch_mail`` as the Procfile runs it, on the test database, with a poll
    interval long enough that only a signal or IDLE can make it act within the test."""
    database = connection.settings_dict
    env = {
        **os.environ,
        # The test database itself: the process must see what the test wrote.
        "TICKETS_DATABASE_URL": (
            f"postgres://{quote(database['USER'])}:{quote(database['PASSWORD'] or '')}"
            f"@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "INBOUND_MAIL_URL": url,
        "DJANGO_SETTINGS_MODULE": "core.settings.test",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "fetch_mail", "--interval", "3600"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_cleanly(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    return stdout


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_process_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    DirectoryUserFactory(id="11", email="ana@example.com", email_verified=True)
    (tmp_path / "waiting.eml").write_bytes(mail(subject="Before the stop"))
    process = start_fetch_mail(f"maildir://{tmp_path}")
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("reading maildir:")
        # The pass is done: now it sleeps for the hour.
        assert "1 message(s) (ticket 1)" in process.stdout.readline()

        assert stop_cleanly(process).strip() == "stopped"
    finally:
        if process.poll() is None:
            process.kill()
    assert Ticket.objects.get().title == "Before the stop"


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_process_wakes_when_imap_mail_arrives(imap_mailbox: Mailbox) -> None:
    DirectoryUserFactory(id="11", email="ana@example.com", email_verified=True)
    process = start_fetch_mail(imap_mailbox.url)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("reading imap:")
        assert "0 message(s)" in process.stdout.readline()

        imap_mailbox.append(mail(subject="Arrived while idle"))

        # Not the hour-long interval: IDLE told it (or the folder held it when it looked).
        assert "1 message(s) (ticket 1)" in process.stdout.readline()
        assert stop_cleanly(process).strip() == "stopped"
    finally:
        if process.poll() is None:
            process.kill()
    assert Ticket.objects.get().title == "Arrived while idle"
    assert imap_mailbox.count(PROCESSED_FOLDER) == 1


def test_large_messages_are_fetched_in_bounded_chunks(
    imap_mailbox: Mailbox, ana: DirectoryUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "FETCH_CHUNK_BYTES", 3000)
    for n in range(5):
        imap_mailbox.append(mail(subject=f"Log {n}", body="x" * 1000))
    fetched: list[int] = []
    source = source_from_url(imap_mailbox.url)
    assert isinstance(source, ImapSource)
    fetch = source._fetch

    def counted(uids: Any) -> Any:
        fetched.append(len(uids))
        return fetch(uids)

    monkeypatch.setattr(source, "_fetch", counted)
    with source:
        result = fetcher.fetch_pass(source)

    assert result.outcomes[Outcome.TICKET] == 5
    assert fetched == [2, 2, 1]  # each message is about 1.3 kB
