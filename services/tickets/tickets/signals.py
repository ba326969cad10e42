"""What the workflow announces, so new reactions can be added without touching it.

Every signal is sent by a write function (``tickets.services``, ``tickets.teams``,
``tickets.merge``), inside its transaction, after the change is written, with
``sender=Ticket`` and these keyword arguments:

- ``ticket_created``: ``ticket``, ``actor``, ``attachments`` (the files sent with it, a
  list of ``Attachment``, often empty)
- ``ticket_status_changed``: ``ticket``, ``actor``, ``from_status``, ``to_status``
- ``ticket_assigned``: ``ticket``, ``actor``, ``from_assignee``, ``to_assignee``
- ``ticket_commented``: ``ticket``, ``actor``, ``comment``, ``attachments`` (as above)
- ``ticket_updated``: ``ticket``, ``actor``, ``changes`` (field -> ``(before, after)`` as
  the API shows them: title, description, priority, category, team_id, tags)
- ``ticket_merged``: ``ticket`` (the merged one, now resolved), ``actor``, ``into`` (the
  ticket it was merged into)

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
#: A team was created, changed or deleted. Receivers: ``tickets.events.on_team_changed``.
team_changed = Signal()
