"""``manage.py dead_letters list|replay|discard``: look at, resend or delete this service's
dead letters (``--id`` takes a dead letter's key: its event id, see ``deadletters``)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.deadletters import discard, list_dead_letters, replay


class Command(BaseCommand):
    help = "List, replay or discard the dead letters of an event queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["list", "replay", "discard"])
        parser.add_argument("--queue", help="queue (default: SERVIDESK_EVENT_QUEUE)")
        parser.add_argument("--limit", type=int, default=None, help="at most this many")
        parser.add_argument(
            "--id", dest="ids", action="append", help="replay or discard this event id"
        )
        parser.add_argument("--all", action="store_true", help="replay every dead letter")
        parser.add_argument("--json", action="store_true", help="list as JSON lines")

    def handle(self, *args: Any, **options: Any) -> None:
        queue = options["queue"] or event_settings().queue
        if not queue:
            raise CommandError("Give --queue or set SERVIDESK_EVENT_QUEUE.")
        if options["action"] == "list":
            self.list(queue, limit=options["limit"] or 100, as_json=options["json"])
            return
        if options["action"] == "discard":
            if not options["ids"]:
                raise CommandError("Say which: --id EVENT_ID (repeatable).")
            count = discard(queue, message_ids=options["ids"])
            self.stdout.write(f"discarded {count} message(s) from {queue}.dlq")
            return
        if not options["ids"] and not options["all"]:
            raise CommandError("Say which: --id EVENT_ID (repeatable) or --all.")
        count = replay(queue, message_ids=options["ids"], limit=options["limit"])
        self.stdout.write(f"replayed {count} message(s) to {queue}")

    def list(self, queue: str, *, limit: int, as_json: bool) -> None:
        letters = list_dead_letters(queue, limit=limit)
        for letter in letters:
            if as_json:
                row = {
                    "message_id": letter.message_id,
                    "event_type": letter.event_type,
                    "reason": letter.reason,
                    "attempts": letter.attempts,
                    "failed_at": letter.failed_at,
                    "error": letter.error,
                    "body": letter.body.decode(errors="replace"),
                }
                self.stdout.write(json.dumps(row))
            else:
                first_line = letter.error.strip().splitlines()[-1:] or [""]
                self.stdout.write(
                    f"{letter.failed_at}  {letter.message_id or '-'}  {letter.event_type or '-'}"
                    f"  {letter.reason} x{letter.attempts}  {first_line[0]}"
                )
        if not as_json:
            self.stdout.write(f"{len(letters)} dead letter(s) in {queue}.dlq")
