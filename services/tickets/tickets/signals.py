"""What the workflow announces, so new reactions can be added without touching it.

Every signal is sent by a write function (``tickets.services``, ``tickets.teams``,
``tickets.merge``), inside its transaction, after the change is written, with
``sender=Ticket`` and these keyword arguments:

- ``ticket_created``: ``ticket``, ``actor``, ``attachments`` (the files sent with it, a
  list of ``Attachment``, often empty)
- ``ticket_status_changed``: ``ticket``, ``actor``, ``from_status``, ``to_status``,
  ``rating_token`` (on a move to resolved: the client's rating link, ``tickets.csat``),
  ``reply_comment_id`` (the client's reply that made the move, or None)
- ``ticket_assigned``: ``ticket``, ``actor``, ``from_assignee``, ``to_assignee``
- ``ticket_commented``: ``ticket``, ``actor``, ``comment``, ``attachments`` (as above)
- ``ticket_updated``: ``ticket``, ``actor``, ``changes`` (field -> ``(before, after)`` as
  the API shows them: title, description, priority, category, team_id, tags)
- ``ticket_merged``: ``ticket`` (the merged one, now closed), ``actor``, ``into`` (the
  ticket it was merged into)
- ``ticket_sla_alert``: ``ticket``, ``kind`` (``warning`` or ``breached``), ``clock``
  (``first_response`` or ``resolution``), ``due_at``, ``cycle``, ``escalation`` (what the
  team's rule did at a breach: a tuple of ``raised_priority``, ``reassigned_to_lead``);
  sent by ``tickets.sla_watch`` (no actor: the desk itself)
- ``ticket_closed``: ``ticket``, ``from_status`` (the auto-close; no actor)
- ``ticket_rated``: ``ticket``, ``actor`` (the client, or None when the link was used
  without sign-in: the client all the same), ``previous_rating``

and, with ``sender=Team``:

- ``team_changed``: ``team`` (with its members and categories), ``change``
  (``created``, ``updated`` or ``deleted``; a deleted team as it was)

Receivers run in that transaction: one that raises rolls the change back (that is how
the outbox receiver in ``tickets.events`` guarantees "no change without its event").
Work that must not fail the request belongs in ``transaction.on_commit``.

Every receiver is listed beside its signal below, so that this module and
``tickets.services`` show every effect of a write: connecting a new receiver means adding
it there (``tests/test_signals.py`` checks the lists against the receivers connected).
"""

from __future__ import annotations

from django.dispatch import Signal

#: A ticket was opened. Receivers: ``tickets.events.on_created``.
ticket_created = Signal()
#: A ticket moved along the workflow. Receivers: ``tickets.events.on_status_changed``.
ticket_status_changed = Signal()
#: A ticket's assignee changed. Receivers: ``tickets.events.on_assigned``.
ticket_assigned = Signal()
#: A comment or internal note was added. Receivers: ``tickets.events.on_commented``.
ticket_commented = Signal()
#: Fields of a ticket were edited. Receivers: ``tickets.events.on_updated``.
ticket_updated = Signal()
#: A ticket was merged into another. Receivers: ``tickets.events.on_merged``.
ticket_merged = Signal()
#: watch_sla warned of a clock near its due time, or saw it breached.
#: Receivers: ``tickets.events.on_sla_alert``.
ticket_sla_alert = Signal()
#: A resolved ticket was closed for good. Receivers: ``tickets.events.on_closed``.
ticket_closed = Signal()
#: The client answered (or changed) "How did we do?". Receivers: ``tickets.events.on_rated``.
ticket_rated = Signal()
#: A team was created, changed or deleted. Receivers: ``tickets.events.on_team_changed``.
team_changed = Signal()
