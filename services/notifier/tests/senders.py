"""Sender workers run the way production runs them: several at once."""

from __future__ import annotations

import threading

from django.db import connection
from notifications.sender import ChannelWorker


def drain_with_senders_at_once(channel: str, senders: int = 2) -> None:
    """Run ``senders`` workers of ``channel`` at once, each until it finds nothing to
    send, as separate sender processes would; fail on anything any of them raised."""
    failures: list[BaseException] = []
    start = threading.Barrier(senders)

    def sender() -> None:
        worker = ChannelWorker(channel)
        try:
            start.wait()
            while worker.run_once():
                pass
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
        finally:
            worker.close()
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
